#!/usr/bin/env bash
# `make bench`: writes BENCHMARKS.md. Every figure is a ratio against a peer or baseline
# measured in the same run: the translator against a naive segment scan (in-process), and
# `dmstack tree --json` against `lsblk -J` on the same VM with 120 and 1,000 dm devices
# (scripts/bench-tree.sh), and
# `dmstack simulate` against `xfs_io -c 'fsmap -d'` and lsof on an XFS with 200,000 files, and
# a thin pool data range → thin blocks against `thin_rmap` on a pool of 1,000,000 mappings.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
swift build -q -c release --product dmstack-bench
# The CLI as it would ship: release, Swift runtime linked in (no 9p loads of it in the VM).
make -s static
model=$(.build/release/dmstack-bench)
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
thin=$(bash scripts/bench-thin.sh "$root/.build-static/release/dmstack" 1000000)
capture=$(bash scripts/bench-capture.sh "$root/.build-static/release/dmstack")
legs=$(bash scripts/bench-legs.sh "$root/.build-static/release/dmstack")
printf '%s\n\n%s\n\n%s\n\n%s\n\n%s\n\n%s\n\n%s\n' "$model" "$tree" "$simulate" "$events" "$thin" "$capture" "$legs" > BENCHMARKS.md
cat BENCHMARKS.md
