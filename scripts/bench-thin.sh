#!/usr/bin/env bash
# Part of `make bench` (host, no dm needed): a thin pool's data range → the thin blocks it
# backs, on a pool with N mapped blocks. The metadata is made with thin-provisioning-tools
# (a generated thin_dump XML: 4 thin devices, data handed out in runs of 1..16 blocks to a
# random device, holes between each device's runs; `thin_restore` onto an image file), then
# the same region is asked of `thin_rmap --region` and of `dmstack translate` reading the
# image with its btree reader (`--thin-dump POOL=IMAGE`), and of dmstack reading thin_dump's
# XML of the same image (the other way dmstack could read a live pool). Time and peak RSS
# from /usr/bin/time, the median of R runs; the answers are compared block for block.
# Prints a Markdown section. Usage: bench-thin.sh DMSTACK [N] [RUNS]
set -euo pipefail
bin=$1 n=${2:-1000000} runs=${3:-3}
for tool in thin_restore thin_dump thin_rmap; do
    command -v "$tool" >/dev/null || { printf '## A thin pool data range → thin blocks\n\nNot measured: %s is not installed (thin-provisioning-tools).\n' "$tool"; exit 0; }
done
work=$(mktemp -d /var/tmp/dmstack-bench-thin-XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 - "$n" > "$work/pool.xml" <<'PY'
import random, sys
total, devs = int(sys.argv[1]), 4
r = random.Random(1)
per = {d: [] for d in range(1, devs + 1)}
nxt = {d: 0 for d in per}
data = 0
while data < total:
    k = min(r.choice([1, 1, 1, 2, 3, 4, 8, 16]), total - data)
    d = r.randint(1, devs)
    per[d].append((nxt[d], data, k))
    nxt[d] += k + r.choice([0, 0, 0, 1, 5, 100])
    data += k
w = sys.stdout.write
w(f'<superblock uuid="" time="0" transaction="1" flags="0" version="2" data_block_size="128" nr_data_blocks="{total + 1000}">\n')
for d, rs in per.items():
    w(f'  <device dev_id="{d}" mapped_blocks="{sum(x[2] for x in rs)}" transaction="0" creation_time="0" snap_time="0">\n')
    for o, b, k in rs:
        if k == 1: w(f'    <single_mapping origin_block="{o}" data_block="{b}" time="0"/>\n')
        else: w(f'    <range_mapping origin_begin="{o}" data_begin="{b}" length="{k}" time="0"/>\n')
    w('  </device>\n')
w('</superblock>\n')
PY
truncate -s 256M "$work/meta.img"
thin_restore -q -i "$work/pool.xml" -o "$work/meta.img"
thin_dump "$work/meta.img" > "$work/dump.xml"
runs_total=$(grep -c '_mapping' "$work/dump.xml")
{ echo "pool: 0 $(( (n + 1000) * 128 )) thin-pool meta data 128 0"; for i in 1 2 3 4; do echo "thin$i: 0 $(( 4 * n * 128 )) thin pool $i"; done; } > "$work/tables"
# A region in the middle of the data device: 1,000 blocks.
first=$(( n / 2 )) count=1000
measure() { # NAME COMMAND...: median seconds and KiB of RUNS runs
    local name=$1; shift
    for _ in $(seq "$runs"); do /usr/bin/time -f '%e %M' -o "$work/t" "$@" > "$work/$name.out"; cat "$work/t"; done | sort -n | awk -v r="$runs" 'NR == int((r + 1) / 2) { print $1, $2 }'
}
read -r rmap_s rmap_kb < <(measure rmap thin_rmap --region "$first..$(( first + count ))" "$work/meta.img")
read -r img_s img_kb < <(measure image "$bin" translate --json --table "$work/tables" --thin-dump "pool=$work/meta.img" data "$(( first * 128 ))+$(( count * 128 ))")
read -r xml_s xml_kb < <(measure xml "$bin" translate --json --table "$work/tables" --thin-dump "pool=$work/dump.xml" data "$(( first * 128 ))+$(( count * 128 ))")
read -r dump_s dump_kb < <(measure dump thin_dump "$work/meta.img")
read -r devdump_s devdump_kb < <(measure devdump thin_dump --dev-id 2 "$work/meta.img")
# The same thin blocks from both: "data A..B -> thin(D) X..Y" against the JSON rows.
same=$(python3 - "$work/rmap.out" "$work/image.out" "$work/xml.out" <<'PY'
import json, re, sys
def rmap(path):
    s = set()
    for line in open(path):
        m = re.match(r"data (\d+)\.\.(\d+) -> thin\((\d+)\) (\d+)\.\.(\d+)", line)
        if m:
            a, b, d, x, y = map(int, m.groups())
            s |= {(d, x + i) for i in range(b - a)}
    return s
def ours(path):
    s = set()
    for row in json.load(open(path))["translations"]:
        d = int(row["device"].removeprefix("thin"))
        s |= {(d, row["start"] // 128 + i) for i in range(row["length"] // 128)}
    return s
a, b, c = rmap(sys.argv[1]), ours(sys.argv[2]), ours(sys.argv[3])
print("yes" if a == b == c and len(a) > 0 else f"NO ({len(a)} {len(b)} {len(c)} blocks)")
PY
)
python3 - "$n" "$runs_total" "$runs" "$first" "$count" "$same" "$rmap_s" "$rmap_kb" "$img_s" "$img_kb" "$xml_s" "$xml_kb" "$dump_s" "$dump_kb" "$devdump_s" "$devdump_kb" "$(stat -c %s "$work/dump.xml")" <<'PY'
import sys
a = sys.argv[1:]
n, mappings, runs, first, count = map(int, a[:5]); same = a[5]
rs, rk, is_, ik, xs, xk, ds, dk, dds, ddk = map(float, a[6:16]); xmlbytes = int(a[16])
print(f"""## A thin pool data range → thin blocks: `dmstack translate` against `thin_rmap`

A pool of {n:,} mapped 64 KiB blocks over 4 thin devices, fragmented ({mappings:,} mapping
runs in thin_dump's XML, {xmlbytes / 1e6:.0f} MB of it), its metadata written by `thin_restore`
onto an image (on the host: no dm needed). The same {count:,} data blocks from block {first:,},
asked of `thin_rmap --region` and of `dmstack translate --json --table T data RANGE` with the
pool's metadata given as `--thin-dump pool=IMAGE` (dmstack's own reader of the btree, the one
the live engine uses on a pool's held metadata snapshot) and as thin_dump's XML. Median of {runs}
runs each, wall time and peak RSS (/usr/bin/time); the three answers hold the same thin
blocks: {same}.

| command | s | peak RSS MiB | vs thin_rmap |
|---|---:|---:|---:|
| `thin_rmap --region` (thin-provisioning-tools) | {rs:.2f} | {rk / 1024:.0f} | 1.00× |
| `dmstack translate`, metadata image (btree reader) | {is_:.2f} | {ik / 1024:.0f} | {is_ / rs:.2f}× the time |
| `dmstack translate`, thin_dump XML | {xs:.2f} | {xk / 1024:.0f} | {xs / rs:.2f}× the time |
| `thin_dump` (whole pool, the XML above) | {ds:.2f} | {dk / 1024:.0f} | |
| `thin_dump --dev-id 2` (one device) | {dds:.2f} | {ddk / 1024:.0f} | |

Reading a live pool through thin_dump would cost thin_dump's run plus the XML parse (the
two rows together); dmstack's reader reads the btree directly, checks every block as the
kernel does, and reads only the thin devices of the query's stack. Once read, a pool range
is looked up by binary search over each device's runs sorted by data block (ThinMapper).""")
PY
