#!/usr/bin/env bash
# The example stacks, built for real with dmsetup (in the test VM, as root):
#   stacks.sh up N [MOUNTDIR]    build stack N, make its filesystems, mount, write files
#   stacks.sh down N             unmount and remove everything stack N made
# Used by the VM tests (Tests/LiveTests/VMLiveTests.swift) and by examples/capture.sh.
#   1  two fsdax pmem namespaces → `concat` (linear) and `stripe` (striped 2×64KiB) → XFS
#   2  five loops → `mirror` (raid1) and `parity` (raid5_ls, 3 legs) → XFS
#   3  a loop → `lin` (linear, 2 segments) → `secret` (crypt) → XFS
#   4  two loops → `pool` (thin-pool) → `thin1`, `thin2` (thin) → XFS on thin1
#   5  XFS on pmem0 with its external log on pmem1
set -euo pipefail
action=$1 n=$2 mnt=${3:-/tmp/dmstack-mnt}
state=/tmp/dmstack-stack-$n
pmem_sectors() { cat /sys/class/block/$1/size; }

mkloop() { # NAME SIZE: a loop device over a sparse file, recorded for `down`
    truncate -s "$2" "/tmp/dmstack-$1.img"
    local dev; dev=$(losetup -f --show "/tmp/dmstack-$1.img")
    echo "$dev" >> "$state.loops"
    echo "$dev"
}

files() { # DIR: files with known pseudo-random content, a hard link and a reflinked copy
    mkdir -p "$1/data"
    for i in 1 2 3 4; do head -c $((i * 3 * 1048576 + 12345)) /dev/urandom > "$1/data/file$i"; done
    ln "$1/data/file1" "$1/data/hardlink1"
    cp --reflink=auto "$1/data/file2" "$1/data/reflink2"
    sync
}

mkxfs() { mkfs.xfs -q -f -m rmapbt=1,reflink=1 "$@"; }

up() {
    rm -f "$state.loops" "$state.mounts" "$state.dm"
    mkdir -p "$mnt"
    case $n in
    1)
        local a b; a=$(pmem_sectors pmem0); b=$(pmem_sectors pmem1)
        local ha=$((a / 2 / 256 * 256)) hb=$((b / 2 / 256 * 256))
        dmsetup create concat --uuid DMSTACK-example-concat <<<"0 $ha linear /dev/pmem0 0
$ha $hb linear /dev/pmem1 0"
        local rest=$(( (a - ha < b - hb ? a - ha : b - hb) / 128 * 128 ))
        dmsetup create stripe --uuid DMSTACK-example-stripe <<<"0 $((rest * 2)) striped 2 128 /dev/pmem0 $ha /dev/pmem1 $hb"
        echo "stripe concat" > "$state.dm"
        mkxfs /dev/mapper/concat; mkxfs /dev/mapper/stripe
        mkdir -p "$mnt/concat" "$mnt/stripe"
        mount -o dax /dev/mapper/concat "$mnt/concat" 2>/dev/null || mount /dev/mapper/concat "$mnt/concat"
        mount -o dax /dev/mapper/stripe "$mnt/stripe" 2>/dev/null || mount /dev/mapper/stripe "$mnt/stripe"
        echo "$mnt/concat $mnt/stripe" > "$state.mounts"
        files "$mnt/concat"; files "$mnt/stripe"
        ;;
    2)
        local l=(); for i in 0 1 2 3 4; do l+=("$(mkloop s2-$i 320M)"); done
        local sz=$((320 * 2048 - 2048))
        dmsetup create mirror --uuid DMSTACK-example-mirror <<<"0 $sz raid raid1 2 0 nosync 2 - ${l[0]} - ${l[1]}"
        dmsetup create parity --uuid DMSTACK-example-parity <<<"0 $((sz / 128 * 128 * 2)) raid raid5_ls 2 128 nosync 3 - ${l[2]} - ${l[3]} - ${l[4]}"
        echo "parity mirror" > "$state.dm"
        mkxfs /dev/mapper/mirror; mkxfs /dev/mapper/parity
        mkdir -p "$mnt/mirror" "$mnt/parity"
        mount /dev/mapper/mirror "$mnt/mirror"; mount /dev/mapper/parity "$mnt/parity"
        echo "$mnt/mirror $mnt/parity" > "$state.mounts"
        files "$mnt/mirror"; files "$mnt/parity"
        ;;
    3)
        local d; d=$(mkloop s3 700M)
        dmsetup create lin --uuid DMSTACK-example-lin <<<"0 409600 linear $d 819200
409600 409600 linear $d 2048"
        dmsetup create secret --uuid DMSTACK-example-secret <<<"0 819200 crypt aes-xts-plain64 $(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n') 0 /dev/mapper/lin 0"
        echo "secret lin" > "$state.dm"
        mkxfs /dev/mapper/secret
        mkdir -p "$mnt/secret"; mount /dev/mapper/secret "$mnt/secret"
        echo "$mnt/secret" > "$state.mounts"
        files "$mnt/secret"
        ;;
    4)
        local meta data; meta=$(mkloop s4-meta 16M); data=$(mkloop s4-data 1G)
        dd if=/dev/zero of="$meta" bs=4096 count=1 status=none
        dmsetup create pool --uuid DMSTACK-example-pool <<<"0 2097152 thin-pool $meta $data 128 0 1 skip_block_zeroing"
        dmsetup message pool 0 "create_thin 1"
        dmsetup message pool 0 "create_thin 2"
        dmsetup create thin1 --uuid DMSTACK-example-thin1 <<<"0 1048576 thin /dev/mapper/pool 1"
        dmsetup create thin2 --uuid DMSTACK-example-thin2 <<<"0 2097152 thin /dev/mapper/pool 2"
        echo "thin2 thin1 pool" > "$state.dm"
        mkxfs /dev/mapper/thin1
        mkdir -p "$mnt/thin1"; mount /dev/mapper/thin1 "$mnt/thin1"
        echo "$mnt/thin1" > "$state.mounts"
        files "$mnt/thin1"
        dd if=/dev/urandom of=/dev/mapper/thin2 bs=1M count=8 seek=100 status=none conv=fsync
        ;;
    5)
        mkxfs -l logdev=/dev/pmem1,size=64m /dev/pmem0
        mkdir -p "$mnt/xfslog"
        mount -o dax,logdev=/dev/pmem1 /dev/pmem0 "$mnt/xfslog" 2>/dev/null || mount -o logdev=/dev/pmem1 /dev/pmem0 "$mnt/xfslog"
        echo "$mnt/xfslog" > "$state.mounts"
        files "$mnt/xfslog"
        ;;
    *) echo "no stack $n" >&2; exit 2 ;;
    esac
}

down() {
    if [ -f "$state.mounts" ]; then for m in $(cat "$state.mounts"); do umount "$m" 2>/dev/null || true; done; fi
    if [ -f "$state.dm" ]; then for d in $(cat "$state.dm"); do dmsetup remove "$d" 2>/dev/null || dmsetup remove --force "$d" || true; done; fi
    if [ -f "$state.loops" ]; then for l in $(cat "$state.loops"); do losetup -d "$l" 2>/dev/null || true; done; fi
    rm -f "$state.loops" "$state.mounts" "$state.dm" /tmp/dmstack-s$n*.img
    # Leave the pmem devices without signatures for the next stack.
    if [ "$n" = 1 ] || [ "$n" = 5 ]; then wipefs -q -a /dev/pmem0 /dev/pmem1 2>/dev/null || true; fi
}

"$action"
