#!/usr/bin/env bash
# Part of `make bench` (boots the test VM): `dmstack tree --json` against `lsblk -J` with 120
# and with 1,000 dm devices (Tests/VM/bench-tree.sh), each a ratio measured in the same run.
# Prints a Markdown section; with $BENCH_DATA set, appends to $BENCH_DATA/tree.tsv one row
# per size (scripts/bench-plot.sh's form): tree, the size's label, the number of dm devices,
# dmstack's mean seconds a run, 0 (peak memory not measured here).
# Usage: bench-tree.sh DMSTACK [RUNS] [COUNT...]   (default 20 runs, 120 and 1000 devices)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
runs=${2:-20}
shift $(( $# < 2 ? $# : 2 ))
counts=${*:-120 1000}
source "$root/Tests/VM/vm.sh"
work=$(mktemp -d /tmp/dmstack-bench-tree-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/out"
boot_vm "$work" "$work/out" "bash $root/Tests/VM/bench-tree.sh $work/out $bin $runs $counts" >&2
if [ ! -f "$work/out/done" ]; then
    echo "bench-tree: the VM run failed" >&2; tail -20 "$work/out/bench-tree.log" "$work/console.log" >&2 2>/dev/null; exit 1
fi
# The guest's syscall counts of one run of each tool, for whoever wants them.
if [ -n "${BENCH_DATA:-}" ]; then cp "$work"/out/strace-*.txt "$BENCH_DATA"/ 2>/dev/null || true; fi
python3 - "$work/out/bench-tree.txt" "${BENCH_DATA:-}" <<'PY'
import os, sys
rows = [dict(kv.split("=") for kv in line.split()) for line in open(sys.argv[1]) if line.strip()]
rows = [{k: int(v) for k, v in r.items()} for r in rows]
data = sys.argv[2]
if data:
    with open(os.path.join(data, "tree.tsv"), "a") as f:
        for r in rows:
            f.write(f"tree\t{r['dm_devices']:,} dm devices\t{r['dm_devices']}\t{r['dmstack_ns'] / r['runs'] / 1e9:.6f}\t0\n")
table = "\n".join(
    f"| {r['dm_devices']} | {r['dmstack_ns'] / r['runs'] / 1e6:.1f} | {r['lsblk_ns'] / r['runs'] / 1e6:.1f} | "
    f"{r['dmstack_ns'] / r['lsblk_ns']:.2f}× | {r['version_ns'] / r['runs'] / 1e6:.1f} | {r['true_ns'] / r['runs'] / 1e6:.1f} | "
    f"{r['dmstack_nodes']} | {r['lsblk_nodes']} |" for r in rows)
aims = {120: 1.3, 1000: 1.0}
notes = []
for r in rows:
    aim = min((v for k, v in aims.items() if r["dm_devices"] >= k), default=None)
    if aim is not None:
        ratio = r["dmstack_ns"] / r["lsblk_ns"]
        gap = (r["dmstack_ns"] - r["lsblk_ns"]) / r["runs"] / 1e6
        startup = (r["version_ns"] - r["true_ns"]) / r["runs"] / 1e6
        notes.append(f"{r['dm_devices']} devices: {ratio:.2f}× against the aim of {aim:.1f}×" + (" (met)" if ratio <= aim else
                     f" (missed by {ratio / aim - 1:.0%}; of the {gap:.0f} ms dmstack takes more, {startup:.0f} ms is its start-up beyond /bin/true's)"))
print(f"""## `dmstack tree --json` against `lsblk -J`

In the test VM (Debian's kernel under qemu TCG, systemd-udevd running): chains of 3 linear dm
devices over one loop device, plus the VM's own devices. Both binaries run from the guest's
tmpfs; dmstack is the release build with the Swift runtime linked in
(`--static-swift-stdlib`). Each command ran {rows[0]['runs']} times at each size, alternating,
after one warm-up run of each; wall-clock means. dmstack reads sysfs, each dm device's table
and status through libdevmapper (2 ioctls a device: the deps are the table's members; a table
of a type dmstack does not know costs a third, DM_TABLE_DEPS) and filesystems from the udev
database; lsblk reads sysfs and the udev database. `dmstack version` is the process start-up
alone, against `/bin/true`.

| dm devices | `dmstack tree --json` ms | `lsblk -J` ms | dmstack vs lsblk | `dmstack version` ms | `/bin/true` ms | dmstack "name" fields | lsblk "name" fields |
|---:|---:|---:|---:|---:|---:|---:|---:|
{table}

dmstack lists a device once under every device built on it (top-down, like `lsblk -s`), so
it prints more nodes than lsblk's leaf-first forest.

Aim (issue 17): ≤ 1.3× lsblk at 120 dm devices, ≤ 1.0× at 1,000. {'; '.join(notes)}.""")
PY
