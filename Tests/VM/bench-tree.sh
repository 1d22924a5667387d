#!/usr/bin/env bash
# Runs inside the test VM for `make bench` (scripts/bench-tree.sh): chains of 3 linear dm
# devices over one loop device, udev running (as on any production machine, so both tools
# read its database), both binaries copied to the guest's tmpfs so neither loads over 9p; for
# each size in COUNTS (dm devices, grown in place from one size to the next), `dmstack tree
# --json` and `lsblk -J` run alternately, RUNS times each after one warm-up run of each, timed
# by wall clock; `dmstack version` and /bin/true the same way (process start-up). Writes one
# line per size to OUT/bench-tree.txt.
# Usage: bench-tree.sh OUT DMSTACK RUNS COUNT...
set -u
out=$1 dmstack=$2 runs=${3:-20}
shift 3
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(120)
exec > "$out/bench-tree.log" 2>&1
source "$(dirname "$0")/prepare.sh"
/lib/systemd/systemd-udevd --daemon && udevadm trigger --action=add && udevadm settle
truncate -s 8G /tmp/bench.img
loop=$(losetup -f --show /tmp/bench.img)
cp "$dmstack" /tmp/dmstack && cp "$(command -v lsblk)" /tmp/lsblk || { echo "bench: cannot copy $dmstack and lsblk to /tmp"; exit 1; }
now() { date +%s%N; }
made=0
: > "$out/bench-tree.txt"
for want in "${counts[@]}"; do
    # Chain c: b$c on the loop, m$c on b$c, t$c on m$c (the last chain may be shorter).
    # One dmsetup a layer (--concise takes many devices; no udev wait for each), then one
    # udev settle: creating 1,000 devices one dmsetup at a time took over 35 minutes under TCG.
    for layer in 0 1 2; do
        spec=""
        for ((i = made; i < want; i++)); do
            [ $((i % 3)) = "$layer" ] || continue
            c=$((i / 3))
            case $layer in
                0) spec+="b$c,,,,0 8192 linear $loop $((c * 8192));" ;;
                1) spec+="m$c,,,,0 8192 linear /dev/mapper/b$c 0;" ;;
                2) spec+="t$c,,,,0 8192 linear /dev/mapper/m$c 0;" ;;
            esac
        done
        if [ -n "$spec" ]; then
            dmsetup create --noudevsync --concise "${spec%;}" || { echo "bench: cannot create layer $layer up to $want"; exit 1; }
            udevadm settle
        fi
    done
    made=$want
    udevadm settle
    count=$(ls /sys/class/block | grep -c '^dm-')
    /tmp/dmstack tree --json > /dev/null; /tmp/lsblk -J > /dev/null   # warm caches for both
    d=0 l=0 v=0 t=0
    for i in $(seq "$runs"); do
        s=$(now); /tmp/dmstack tree --json > /dev/null; e=$(now); d=$((d + e - s))
        s=$(now); /tmp/lsblk -J > /dev/null; e=$(now); l=$((l + e - s))
        s=$(now); /tmp/dmstack version > /dev/null; e=$(now); v=$((v + e - s))
        s=$(now); /bin/true; e=$(now); t=$((t + e - s))
    done
    # The system calls of one run of each (ioctls a device), for the log.
    if command -v strace > /dev/null; then
        strace -c -o "$out/strace-dmstack-$count.txt" /tmp/dmstack tree --json > /dev/null
        strace -c -o "$out/strace-lsblk-$count.txt" /tmp/lsblk -J > /dev/null
    fi
    nodes_d=$(/tmp/dmstack tree --json | grep -c '"name"')
    nodes_l=$(/tmp/lsblk -J | grep -c '"name"')
    echo "dm_devices=$count runs=$runs dmstack_ns=$d lsblk_ns=$l version_ns=$v true_ns=$t dmstack_nodes=$nodes_d lsblk_nodes=$nodes_l" >> "$out/bench-tree.txt"
done
touch "$out/done"
