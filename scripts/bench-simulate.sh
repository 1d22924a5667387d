#!/usr/bin/env bash
# Part of `make bench` (as root, on the host): `dmstack simulate` on an XFS (rmapbt, reflink)
# holding 200,000 files on a loop device, against xfs_io's own GETFSMAP dump of the same
# filesystem, the FIEMAP walk against GETFSMAP, and the /proc scan against lsof for the same
# files. Prints a Markdown section on stdout. Usage: bench-simulate.sh DMSTACK [FILES]
set -euo pipefail
bin=$1 files=${2:-200000} runs=3
work=$(mktemp -d /tmp/dmstack-bench-sim-XXXXXX)
img=$work/xfs.img mnt=$work/mnt
pids=()
cleanup() {
    exec 2>/dev/null
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    umount "$mnt" 2>/dev/null || true
    [ -n "${dev:-}" ] && losetup -d "$dev" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
truncate -s 4G "$img"
dev=$(losetup -f --show "$img")
mkfs.xfs -q -f -m rmapbt=1,reflink=1 "$dev"
mkdir -p "$mnt"
mount "$dev" "$mnt"
# 200,000 files of 4 KiB in 200 directories, known content.
python3 - "$mnt" "$files" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
block = bytes(range(256)) * 16
for d in range(200):
    os.mkdir(f"{root}/d{d}")
for i in range(n):
    with open(f"{root}/d{i % 200}/f{i}", "wb") as f:
        f.write(block)
PY
sync
echo 3 > /proc/sys/vm/drop_caches

# mean wall-clock ms of a command over $runs runs, after one warm-up.
ms() {
    "$@" > /dev/null 2>&1
    local start end
    start=$(date +%s%N)
    for _ in $(seq "$runs"); do "$@" > /dev/null 2>&1; done
    end=$(date +%s%N)
    echo $(( (end - start) / runs / 1000000 ))
}
# peak resident KiB of one run.
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }

whole_dmstack=$(ms "$bin" simulate "$dev" --event remove --json)
whole_xfsio=$(ms xfs_io -c 'fsmap -d' "$mnt")
whole_rss=$(rss "$bin" simulate "$dev" --event remove --json)
xfsio_rss=$(rss xfs_io -c 'fsmap -d' "$mnt")
walk=$(ms "$bin" simulate "$dev" --event remove --json --reverse-map fiemap)
# A 1 MiB range in the middle of the file data (xfs_io says where a file in the middle is).
middle=$(xfs_io -r -c 'fiemap -v' "$mnt/d$((files / 2 % 200))/f$((files / 2))" | awk 'NR==3 { split($3, a, "."); print a[1] }')
range_ms=$(ms "$bin" simulate "$dev" --range "$middle+2048" --json)
range_files=$("$bin" simulate "$dev" --range "$middle+2048" --json | grep -c '"inode" :' || true)
# 100 processes holding files of that range open; the /proc scan's own time against lsof's.
names=$("$bin" simulate "$dev" --range "$middle+2048" --json | sed -n 's/.*"path" : "\(\/[^"]*\)".*/\1/p' | sort -u | awk 'NR <= 100')
for f in $names; do sleep 600 < "$f" & pids+=($!); done
proc_us=0
for _ in $(seq "$runs"); do
    t=$(DMSTACK_TIMING=1 "$bin" simulate "$dev" --range "$middle+2048" --json 2>&1 >/dev/null | sed -n 's/.*processes \([0-9]*\) us.*/\1/p')
    proc_us=$((proc_us + t))
done
proc_ms=$(( proc_us / runs / 1000 ))
lsof_ms=$(ms lsof -w $names)
found=$("$bin" simulate "$dev" --range "$middle+2048" --json | grep -c '"how" : "fd 0"' || true)

ratio() { python3 -c "print(f'{$1 / max($2, 1):.2f}')"; }
cat <<EOF
## \`dmstack simulate\` on an XFS with $files files

On the host (this machine's kernel, not the VM): an XFS with rmapbt and reflink on a 4 GiB
loop device, $files files of 4 KiB in 200 directories, caches dropped before the runs.
Release build; wall-clock means of $runs runs after one warm-up.

| what | dmstack | peer | ratio |
|---|---:|---:|---:|
| whole-device impact (\`simulate --event remove --json\`: every owner, every path, processes) vs \`xfs_io -c 'fsmap -d'\` (owners as inode numbers, no paths) | $whole_dmstack ms | $whole_xfsio ms | $(ratio "$whole_dmstack" "$whole_xfsio")× |
| peak memory of the same two runs | $whole_rss KiB | $xfsio_rss KiB | $(ratio "$whole_rss" "$xfsio_rss")× |
| FIEMAP walk (\`--reverse-map fiemap\`) vs GETFSMAP (auto), whole device | $walk ms | $whole_dmstack ms | $(ratio "$walk" "$whole_dmstack")× |
| a 1 MiB range ($range_files files named, with paths) | $range_ms ms | aim 50 ms | $(ratio "$range_ms" 50)× the aim |
| /proc scan for the files of that range (DMSTACK_TIMING) vs \`lsof\` of the same files, $found of 100 holders found | $proc_ms ms | $lsof_ms ms | $(ratio "$proc_ms" "$lsof_ms")× |

Aims (issue 6): whole-device ratio at most 1.0 with paths included; a 1 MiB range under 50 ms.
EOF
