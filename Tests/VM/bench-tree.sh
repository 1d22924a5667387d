#!/usr/bin/env bash
# Runs inside the test VM for `make bench`: 40 chains of 3 linear dm devices (120 in all)
# over one loop device, udev running (as on any production machine, so both tools read its
# database), both binaries copied to the guest's tmpfs so neither loads over 9p; then
# `dmstack tree --json` and `lsblk -J` run alternately, RUNS times each, timed by wall clock.
# Writes OUT/bench-tree.txt.
set -u
out=$1 dmstack=$2 runs=${3:-20}
exec > "$out/bench-tree.log" 2>&1
source "$(dirname "$0")/prepare.sh"
/lib/systemd/systemd-udevd --daemon && udevadm trigger --action=add && udevadm settle
truncate -s 2G /tmp/bench.img
loop=$(losetup -f --show /tmp/bench.img)
for c in $(seq 0 39); do
    dmsetup create "b$c" <<<"0 8192 linear $loop $((c * 8192))"
    dmsetup create "m$c" <<<"0 8192 linear /dev/mapper/b$c 0"
    dmsetup create "t$c" <<<"0 8192 linear /dev/mapper/m$c 0"
done
udevadm settle
cp "$dmstack" /tmp/dmstack && cp "$(command -v lsblk)" /tmp/lsblk
count=$(ls /sys/class/block | grep -c '^dm-')
now() { date +%s%N; }
/tmp/dmstack tree --json > /dev/null; /tmp/lsblk -J > /dev/null   # warm caches for both
d=0 l=0
for i in $(seq "$runs"); do
    s=$(now); /tmp/dmstack tree --json > /dev/null; e=$(now); d=$((d + e - s))
    s=$(now); /tmp/lsblk -J > /dev/null; e=$(now); l=$((l + e - s))
done
nodes_d=$(/tmp/dmstack tree --json | grep -c '"name"')
nodes_l=$(/tmp/lsblk -J | grep -c '"name"')
echo "dm_devices=$count runs=$runs dmstack_ns=$d lsblk_ns=$l dmstack_nodes=$nodes_d lsblk_nodes=$nodes_l" > "$out/bench-tree.txt"
touch "$out/done"
