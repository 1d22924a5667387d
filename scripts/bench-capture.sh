#!/usr/bin/env bash
# Part of `make bench` (as root, on the host): `dmstack capture` with the reverse map of an
# XFS (rmapbt) holding 200,000 and 2,000,000 files on a loop device: time, peak RSS, file
# size and bytes per reverse-map record, against the dmstack before streaming capture and
# the compact reverse map (commit 260b8bb, built once into $BASELINE_DIR, or the binary given
# as DMSTACK_BASELINE). Prints a Markdown section on stdout; with $BENCH_DATA set, appends
# `capture<TAB>LABEL<TAB>NFILES<TAB>SECONDS<TAB>PEAK_KIB` rows to $BENCH_DATA/capture.tsv
# (LABEL: 200k, 2M; the baseline's rows as series capture-baseline).
# Usage: bench-capture.sh DMSTACK [FILES...]   (default: 200000 2000000)
set -euo pipefail
bin=$1
shift
if [ $# -gt 0 ]; then sizes=("$@"); else sizes=(200000 2000000); fi
root=$(cd "$(dirname "$0")/.." && pwd)
base_commit=260b8bb
if [ "$(id -u)" -ne 0 ] || [ ! -e /dev/loop-control ]; then
    printf '## `dmstack capture` of a large XFS\n\nNot measured: needs root and loop devices (run `make bench` as root).\n'
    exit 0
fi
baseline=${DMSTACK_BASELINE:-}
if [ -z "$baseline" ]; then
    old=${BASELINE_DIR:-/tmp/old-capture}
    if [ ! -x "$old/.build-static/release/dmstack" ]; then
        [ -d "$old" ] || git -C "$root" worktree add -q --detach "$old" "$base_commit" >&2
        make -s -C "$old" static >&2
    fi
    baseline=$old/.build-static/release/dmstack
fi
work=$(mktemp -d /tmp/dmstack-bench-cap-XXXXXX)
mnt=$work/mnt dev=
cleanup() {
    exec 2>/dev/null
    umount "$mnt" 2>/dev/null || true
    [ -n "$dev" ] && losetup -d "$dev" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$mnt"

# "SECONDS PEAK_KIB" of one run (the command's output goes to FILE).
timed() { /usr/bin/time -f '%e %M' -o "$work/time" "$@" > /dev/null 2> "$work/err" || { cat "$work/err" >&2; return 1; }; cat "$work/time"; }
records() {
    python3 - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
n = 0
for m in d.get("reverse_maps", []):
    n += len(m["records"]) if "records" in m else sum(len(b["code"]) for b in m["record_blocks"])
print(n)
PY
}

# 200000 → 200k, 2000000 → 2M.
size_label() { python3 -c "n=$1; print(f'{n // 10**6}M' if n % 10**6 == 0 else f'{n // 1000}k' if n % 1000 == 0 else n)"; }
rows=()
for files in "${sizes[@]}"; do
    umount "$mnt" 2>/dev/null || true
    [ -n "$dev" ] && losetup -d "$dev"
    rm -f "$work/xfs.img"
    truncate -s 16G "$work/xfs.img"
    dev=$(losetup -f --show "$work/xfs.img")
    mkfs.xfs -q -f -m rmapbt=1,reflink=1 "$dev"
    mount "$dev" "$mnt"
    # FILES files of 4 KiB in directories of 1,000, each an allocated (unwritten) extent:
    # the same reverse-map records as written files, without writing gigabytes.
    python3 - "$mnt" "$files" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for d in range((n + 999) // 1000):
    os.mkdir(f"{root}/d{d}")
for i in range(n):
    fd = os.open(f"{root}/d{i // 1000}/f{i}", os.O_WRONLY | os.O_CREAT, 0o644)
    os.posix_fallocate(fd, 0, 4096)
    os.close(fd)
PY
    sync
    state=$work/state-$files
    "$bin" holders register "$mnt" --state-dir "$state" > /dev/null
    for label in dmstack baseline; do
        exe=$bin
        [ "$label" = baseline ] && exe=$baseline
        echo 3 > /proc/sys/vm/drop_caches
        out=$work/snap-$label.json
        read -r secs kib < <(timed "$exe" capture --reverse-maps registered --state-dir "$state" -o "$out")
        size=$(stat -c %s "$out")
        n=$(records "$out")
        rows+=("$files $label $secs $kib $size $n")
        if [ -n "${BENCH_DATA:-}" ]; then
            mkdir -p "$BENCH_DATA"
            series=capture
            [ "$label" = baseline ] && series=capture-baseline
            printf '%s\t%s\t%s\t%s\t%s\n' "$series" "$(size_label "$files")" "$files" "$secs" "$kib" >> "$BENCH_DATA/capture.tsv"
        fi
        rm -f "$out"
    done
done

python3 - "${rows[@]}" <<'PY'
import sys
rows = [r.split() for r in sys.argv[1:]]
by = {}
for files, label, secs, kib, size, n in rows:
    by[(int(files), label)] = (float(secs), int(kib), int(size), int(n))
print("""## `dmstack capture` of a large XFS

On the host (this machine's kernel): an XFS with rmapbt and reflink on a 16 GiB sparse loop
device, N files of 4 KiB (one allocated extent each) in directories of 1,000, registered with
`holders register`; `capture --reverse-maps registered -o FILE` (the host has no device-mapper,
so `--reverse-maps all` would take no filesystem here), caches dropped before each run.
Release builds; one run each, `/usr/bin/time -f '%e %M'`. Baseline: the dmstack before
streaming capture and the compact reverse map (commit 260b8bb), the same filesystem.

| files | build | seconds | peak RSS MiB | file MiB | records | bytes a record | time vs baseline | memory vs baseline |
|---:|---|---:|---:|---:|---:|---:|---:|---:|""")
for files in sorted({k[0] for k in by}):
    base = by.get((files, "baseline"))
    for label in ("dmstack", "baseline"):
        if (files, label) not in by:
            continue
        secs, kib, size, n = by[(files, label)]
        t = f"{secs / base[0]:.2f}×" if base and base[0] > 0 else "-"
        m = f"{kib / base[1]:.2f}×" if base else "-"
        print(f"| {files:,} | {label} | {secs:.2f} | {kib / 1024:.1f} | {size / 2**20:.1f} | {n:,} | {size / max(n, 1):.1f} | {t} | {m} |")
print("""
Aims (issue 17): peak RSS at most 128 MiB and at most 40 bytes a reverse-map record in the
file, for 2,000,000 files. The whole file counts against the records (devices, mounts and the
paths of every inode included).""")
PY
