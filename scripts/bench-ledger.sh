#!/usr/bin/env bash
# Part of `make bench` (host, root, loop devices): the damage ledger at N damaged files
# (default 1,000,000 rows, synthetic: written straight into the registry with python3's
# sqlite3, as one failure event would leave them). Measured with `/usr/bin/time -f '%e %M'`:
#   - `dmstack damage --json` and the table, against `sqlite3 -json` of the same rows and
#     `select count(*)`;
#   - the ledger's check as a monitor pass makes it (`dmstack damage --check`, and
#     `dmstack monitor --once` with its other work), in two cases: every file still damaged
#     (N rows over 1,000 real files on ext4, all still mapped onto the bad range: an open,
#     an fstat and a FIEMAP per row, nothing written), and every file deleted (N rows naming
#     files that are gone: an open per row, then N rows marked cleared); against the floor of
#     the same opens (python3, os.open + os.fstat per row) plus one `sqlite3` UPDATE of the N rows.
# Prints a Markdown section. Usage: bench-ledger.sh DMSTACK [N]
set -euo pipefail
bin=$1 n=${2:-1000000}
work=$(mktemp -d /var/tmp/dmstack-bench-ledger-XXXXXX)
loop=
cleanup() { umount "$work/m" 2>/dev/null || true; [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
truncate -s 256M "$work/img"
loop=$(losetup -f --show "$work/img")
mkdir "$work/m"
mkfs.ext4 -q -F "$loop" && mount "$loop" "$work/m"
mkdir "$work/m/d"
for i in $(seq 0 999); do head -c 65536 /dev/urandom > "$work/m/d/f$i"; done
sync
"$bin" holders register "$work/m" --state-dir "$work/base" > /dev/null
printf 'sinks:\n  - {type: jsonl, path: %s/events.jsonl}\n' "$work" > "$work/config.yaml"
uuid=$(blkid -s UUID -o value "$loop")
size=$(blockdev --getsize64 "$loop")
dev=$(basename "$loop")

# fill STATE damaged|deleted: N file rows of one event whose condition stands for a device
# that is not there (so only the file checks can clear them).
fill() {
    cp -a "$work/base" "$work/$1"
    python3 - "$work/$1/registry.db" "$n" "$2" "$work/m" "$uuid" "$dev" "$size" <<'PY'
import os, sqlite3, sys
db, n, case, mnt, uuid, dev, size = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], int(sys.argv[7])
c = sqlite3.connect(db)
at = "2026-12-02T00:00:00Z"
c.execute("INSERT INTO damage_events (event, condition, recorded_at) VALUES ('bench', 'bad-range loop:/nonexistent 0+8', ?)", (at,))
c.execute("INSERT INTO damage_ranges (event, fs_uuid, role, start, length) VALUES ('bench', ?, 'data', 0, ?)", (uuid, size))
inodes = [os.stat(f"{mnt}/d/f{i}").st_ino for i in range(1000)]
def rows():
    for i in range(n):
        if case == "damaged":
            f = i % 1000
            yield (at, uuid, mnt, dev, inodes[f], 1, f"{mnt}/d/f{f}", (i // 1000 % 16) * 4096)
        else:
            yield (at, uuid, mnt, dev, 10_000_000 + i, 1, f"{mnt}/gone/f{i}", 0)
c.executemany("""INSERT INTO damage (event, recorded_at, kind, fs_uuid, mountpoint, device, role, inode, generation, path, what, offset, length)
                 VALUES ('bench', ?, 'file', ?, ?, ?, 'data', ?, ?, ?, 'data', ?, 4096)""", rows())
c.commit()
PY
}
timed() { /usr/bin/time -f '%e %M' -o "$work/time" "$@" > /dev/null 2> "$work/err" || { [ $? -le 2 ] || { cat "$work/err" >&2; return 1; }; }; tail -1 "$work/time"; }
fill damaged damaged
fill deleted deleted
db=$work/damaged/registry.db
list_json=$(timed "$bin" damage --json --state-dir "$work/damaged")
list_table=$(timed "$bin" damage --state-dir "$work/damaged")
sql_json=$(timed sqlite3 -json "$db" "SELECT * FROM damage WHERE cleared_at IS NULL ORDER BY id")
sql_count=$(timed sqlite3 "$db" "SELECT count(*) FROM damage WHERE cleared_at IS NULL")
cp -a "$work/damaged" "$work/damaged2"
check_damaged=$(timed "$bin" damage --check --config "$work/config.yaml" --state-dir "$work/damaged")
left_damaged=$(sqlite3 "$work/damaged/registry.db" "SELECT count(*) FROM damage WHERE cleared_at IS NULL")
monitor_damaged=$(timed "$bin" monitor --once --config "$work/config.yaml" --state-dir "$work/damaged2")
cp -a "$work/deleted" "$work/deleted2"
check_deleted=$(timed "$bin" damage --check --config "$work/config.yaml" --state-dir "$work/deleted")
left_deleted=$(sqlite3 "$work/deleted/registry.db" "SELECT count(*) FROM damage WHERE cleared_at IS NULL")
monitor_deleted=$(timed "$bin" monitor --once --config "$work/config.yaml" --state-dir "$work/deleted2")
# The floor: the same opens (and fstat where the file is there), then one UPDATE.
floor() {
    python3 - "$n" "$1" "$work/m" <<'PY'
import os, sys
n, case, mnt = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for i in range(n):
    p = f"{mnt}/d/f{i % 1000}" if case == "damaged" else f"{mnt}/gone/f{i}"
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW); os.fstat(fd); os.close(fd)
    except FileNotFoundError:
        pass
PY
}
export -f floor; export n work
floor_damaged=$(timed bash -c "floor damaged")
fill floor deleted
floor_deleted=$(timed bash -c "floor deleted && sqlite3 $work/floor/registry.db \"UPDATE damage SET cleared_at = '2026-12-02T00:00:01Z', cleared_reason = 'file deleted' WHERE cleared_at IS NULL\"")
python3 - "$n" "$left_damaged" "$left_deleted" "$list_json" "$list_table" "$sql_json" "$sql_count" "$check_damaged" "$monitor_damaged" \
    "$check_deleted" "$monitor_deleted" "$floor_damaged" "$floor_deleted" <<'PY'
import sys
n, left_damaged, left_deleted = map(int, sys.argv[1:4])
t = [tuple(map(float, a.split())) for a in sys.argv[4:]]
lj, lt, sj, sc, cd, md, cx, mx, fd, fx = t
def row(name, r, base):
    return f"| {name} | {r[0]:.2f} | {r[1] / 1024:.0f} | {r[0] / base[0]:.1f}× |"
print(f"""## The damage ledger at {n:,} damaged files

{n:,} file entries of one failure event, synthetic (written into the registry with python3's
sqlite3 as `monitor` would record them; scripts/bench-ledger.sh), on ext4 on a loop device.
Listing: `dmstack damage` against `sqlite3` reading the same rows. Checking, as a monitor pass
does (`damage --check`; `monitor --once` adds discovery and its other work): "damaged" is
{n:,} rows over 1,000 real files all still mapped onto the bad range (an open, an fstat and a
FIEMAP per row; {left_damaged:,} still damaged after), "deleted" is {n:,} rows whose files are gone
(an open per row, then every row marked cleared; {left_deleted:,} left); the floor is the same opens
in python3 (and one `sqlite3` UPDATE of the rows when they clear). One run each, release build,
`/usr/bin/time -f '%e %M'`.

| command | seconds | peak RSS MiB | vs baseline |
|---|---:|---:|---:|
{row("`dmstack damage --json`", lj, sj)}
{row("`dmstack damage` (table)", lt, sj)}
{row("`sqlite3 -json` of the rows (baseline)", sj, sj)}
{row("`sqlite3 'select count(*)'`", sc, sj)}
{row("`dmstack damage --check`, all still damaged", cd, fd)}
{row("`dmstack monitor --once`, all still damaged", md, fd)}
{row("opens + fstat, python3 (floor)", fd, fd)}
{row("`dmstack damage --check`, all deleted", cx, fx)}
{row("`dmstack monitor --once`, all deleted", mx, fx)}
{row("opens, python3, + one UPDATE (floor)", fx, fx)}""")
PY
