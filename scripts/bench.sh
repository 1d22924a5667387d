#!/usr/bin/env bash
# `make bench`: writes BENCHMARKS.md. Every figure is a ratio against a peer or baseline
# measured in the same run: the translator against a naive segment scan (in-process), and
# `dmstack tree --json` against `lsblk -J` on the same VM with 120 and 1,000 dm devices
# (scripts/bench-tree.sh), and
# `dmstack simulate` against `xfs_io -c 'fsmap -d'` + `find` and lsof on XFS filesystems of
# 200,000 to 2,000,000 files, `capture` against the dmstack before streaming capture, one
# striped leg of 1 GiB to 100 TiB against the dmstack before strided ranges, `events retry`
# against fsync'd appends, the damage ledger at 1,000,000 files against sqlite3 and plain opens
# (scripts/bench-ledger.sh), and a thin pool data range → thin blocks against `thin_rmap` on a
# pool of 1,000,000 mappings; then the scaling table and plot (scripts/bench-plot.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
swift build -q -c release --product dmstack-bench
# The CLI as it would ship: release, Swift runtime linked in (no 9p loads of it in the VM).
make -s static
model=$(.build/release/dmstack-bench)
# Each section appends its rows at each size here; bench-plot.sh turns them into the scaling
# table and docs/bench/scaling.png.
export BENCH_DATA=$(mktemp -d /tmp/dmstack-bench-data-XXXXXX)
# The baseline of the capture and leg sections: dmstack as it was before issue 17 (streaming
# capture, strided ranges), built once from its commit into a detached worktree.
baseline_dir=/var/tmp/dmstack-baseline-260b8bb
if [ ! -x "$baseline_dir/.build-static/release/dmstack" ]; then
    [ -d "$baseline_dir" ] || git worktree add -q --detach "$baseline_dir" 260b8bb >&2
    make -s -C "$baseline_dir" static >&2
fi
export DMSTACK_BASELINE=$baseline_dir/.build-static/release/dmstack BASELINE=$baseline_dir/.build-static/release/dmstack
# tree: its own script (boots the VM; 120 and 1,000 dm devices).
tree=$(bash scripts/bench-tree.sh "$root/.build-static/release/dmstack")
# simulate on a large XFS: the host's own kernel, loop devices, as root.
if [ "$(id -u)" -eq 0 ] && [ -e /dev/loop-control ]; then
    simulate=$(bash scripts/bench-simulate.sh "$root/.build-static/release/dmstack")
else
    simulate="## \`dmstack simulate\` on an XFS with 200,000 files

Not measured: needs root and loop devices (run \`make bench\` as root)."
fi
events=$(bash scripts/bench-events.sh "$root/.build-static/release/dmstack" 1000)
if [ "$(id -u)" = 0 ]; then
    ledger=$(bash scripts/bench-ledger.sh "$root/.build-static/release/dmstack" 1000000)
else
    ledger="## The damage ledger at 1,000,000 damaged files

Not measured: needs root and loop devices (run \`make bench\` as root)."
fi
thin=$(bash scripts/bench-thin.sh "$root/.build-static/release/dmstack" 1000000)
capture=$(bash scripts/bench-capture.sh "$root/.build-static/release/dmstack")
legs=$(bash scripts/bench-legs.sh "$root/.build-static/release/dmstack")
scaling=$(bash scripts/bench-plot.sh "$BENCH_DATA")
printf '%s\n\n%s\n\n%s\n\n%s\n\n%s\n\n%s\n\n%s\n\n%s\n\n%s\n' "$model" "$legs" "$tree" "$simulate" "$capture" "$events" "$ledger" "$thin" "$scaling" > BENCHMARKS.md
cat BENCHMARKS.md
