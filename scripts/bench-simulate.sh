#!/usr/bin/env bash
# Part of `make bench` (as root, on the host): `dmstack simulate` on XFS filesystems (rmapbt,
# reflink) holding N files each on a loop device, against the peer that gives the same owners
# and names: xfs_io's own GETFSMAP dump and `find -printf '%i %p'`, run back to back; the
# FIEMAP walk against GETFSMAP and the /proc scan against lsof for the first size. Prints a
# Markdown section on stdout; with $BENCH_DATA set, appends rows
# `SERIES<TAB>LABEL<TAB>NFILES<TAB>SECONDS<TAB>PEAK_KIB` to $BENCH_DATA/files.tsv.
# Usage: bench-simulate.sh DMSTACK [FILES...]   (default: 200000 1000000 2000000)
set -euo pipefail
bin=$1
shift
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(200000 1000000 2000000)
work=$(mktemp -d /tmp/dmstack-bench-sim-XXXXXX)
img=$work/xfs.img mnt=$work/mnt
pids=()
dev=
cleanup() {
    exec 2>/dev/null
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    umount "$mnt" 2>/dev/null || true
    [ -n "$dev" ] && losetup -d "$dev" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# An XFS of $1 files of 4 KiB (known content) in 200 directories, written by 2 processes.
make_fs() {
    local files=$1
    umount "$mnt" 2>/dev/null || true
    [ -n "$dev" ] && losetup -d "$dev" 2>/dev/null || true
    rm -f "$img"
    # 4 KiB of data and ~1 KiB of metadata a file, twice over, at least 4 GiB (sparse).
    truncate -s $(( files * 8192 > 4294967296 ? files * 8192 : 4294967296 )) "$img"
    dev=$(losetup -f --show "$img")
    mkfs.xfs -q -f -m rmapbt=1,reflink=1 "$dev"
    mkdir -p "$mnt"
    mount "$dev" "$mnt"
    python3 - "$mnt" "$files" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
block = bytes(range(256)) * 16
for d in range(200):
    os.mkdir(f"{root}/d{d}")
workers = 2
children = []
for w in range(workers):
    pid = os.fork()
    if pid == 0:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        for i in range(w, n, workers):
            fd = os.open(f"{root}/d{i % 200}/f{i}", flags, 0o644)
            os.write(fd, block)
            os.close(fd)
        os._exit(0)
    children.append(pid)
for pid in children:
    _, status = os.waitpid(pid, 0)
    if status != 0:
        sys.exit("file creation failed")
PY
    sync
    echo 3 > /proc/sys/vm/drop_caches
}

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
ratio() { python3 -c "print(f'{$1 / max($2, 1):.2f}')"; }
# The peer: owners by inode number, then every inode's names.
peer() { xfs_io -c 'fsmap -d' "$1" > /dev/null && find "$1" -printf '%i %p\n' > /dev/null; }
export -f peer
# A row for scripts/bench-plot.sh: series (dmstack-remove, peer-fsmap-find, dmstack-1MiB),
# size label (200k, 2M), files, seconds, peak KiB.
row() { [ -n "${BENCH_DATA:-}" ] && printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$(python3 -c "n=$2; print(f'{n/1e6:g}M' if n >= 1e6 else f'{n/1e3:g}k')")" "$2" "$(python3 -c "print(f'{$3 / 1000:.3f}')")" "$4" >> "$BENCH_DATA/files.tsv" || true; }

table=""
first=${sizes[0]}
for files in "${sizes[@]}"; do
    make_fs "$files"
    runs=$(( files > 500000 ? 1 : 3 ))
    whole_dmstack=$(ms "$bin" simulate "$dev" --event remove --json)
    whole_peer=$(ms bash -c "peer $mnt")
    whole_rss=$(rss "$bin" simulate "$dev" --event remove --json)
    peer_rss=$(rss xfs_io -c 'fsmap -d' "$mnt")
    find_rss=$(rss find "$mnt" -printf '%i %p\n')
    named=$("$bin" simulate "$dev" --event remove --json | grep -c '"inode" :' || true)
    # A 1 MiB range in the middle of the file data (xfs_io says where a file in the middle is).
    middle=$(xfs_io -r -c 'fiemap -v' "$mnt/d$((files / 2 % 200))/f$((files / 2))" | awk 'NR==3 { split($3, a, "."); print a[1] }')
    runs=3
    range_ms=$(ms "$bin" simulate "$dev" --range "$middle+2048" --json)
    range_rss=$(rss "$bin" simulate "$dev" --range "$middle+2048" --json)
    range_files=$("$bin" simulate "$dev" --range "$middle+2048" --json | grep -c '"inode" :' || true)
    row dmstack-remove "$files" "$whole_dmstack" "$whole_rss"
    row peer-fsmap-find "$files" "$whole_peer" "$(( peer_rss > find_rss ? peer_rss : find_rss ))"
    row dmstack-1MiB "$files" "$range_ms" "$range_rss"
    table+="| $files | $whole_dmstack ms | $whole_peer ms | $(ratio "$whole_dmstack" "$whole_peer")× | $whole_rss KiB ($(( whole_rss / 1024 )) MiB) | $peer_rss / $find_rss KiB | $range_ms ms ($range_files files) | $named |
"
    if [ "$files" = "$first" ]; then
        runs=3
        walk=$(ms "$bin" simulate "$dev" --event remove --json --reverse-map fiemap)
        # 100 processes holding files of the 1 MiB range open; the /proc scan's own time against lsof's.
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
        for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
        wait 2>/dev/null || true
        pids=()
        first_walk=$walk first_whole=$whole_dmstack first_proc=$proc_ms first_lsof=$lsof_ms first_found=$found
    fi
done

cat <<EOF
## \`dmstack simulate\` on XFS filesystems of ${sizes[*]} files

On the host (this machine's kernel, not the VM): an XFS with rmapbt and reflink on a sparse
loop device (8 KiB a file, at least 4 GiB), N files of 4 KiB in 200 directories, caches
dropped once after the files are written. Release build; wall-clock means of 3 runs after one
warm-up (1 run from 1,000,000 files). The peer gives the same owners and names:
\`xfs_io -c 'fsmap -d'\` (owners as inode numbers) then \`find -printf '%i %p\n'\` (every
inode's names), back to back. dmstack's document is streamed: every file with its paths and
lost ranges, the processes, the actions.

| files | whole-device \`simulate --event remove --json\` | peer (fsmap + find) | ratio | dmstack peak RSS | peer peak RSS (xfs_io / find) | a 1 MiB range | files named |
|---:|---:|---:|---:|---:|---:|---:|---:|
$table
At $first files: FIEMAP walk (\`--reverse-map fiemap\`) $first_walk ms against GETFSMAP (auto)
$first_whole ms ($(ratio "$first_walk" "$first_whole")×); the /proc scan for 100 holders of
the 1 MiB range's files (DMSTACK_TIMING) $first_proc ms against \`lsof\` of the same files
$first_lsof ms ($(ratio "$first_proc" "$first_lsof")×), $first_found of 100 holders found.

Aims (issue 17): whole-device ratio at most 1.0× at 200,000 and 2,000,000 files, peak RSS at
most 64 MiB at both; a 1 MiB range at 2,000,000 files under 20 ms.
EOF
