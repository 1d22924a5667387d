#!/usr/bin/env bash
# `make demo`: dmstack on the bundled examples (snapshots captured in the test VM, and table
# files); no root needed.
set -euo pipefail
bin=${1:-.build/debug/dmstack}
ex=examples
run() { echo; echo "\$ dmstack $*"; "$bin" "$@"; }
# An answer dmstack knows is incomplete exits 2 (UNKNOWN parts, said): shown, and expected.
run_partial() {
    echo; echo "\$ dmstack $*"
    local status=0
    "$bin" "$@" || status=$?
    [ "$status" -eq 2 ] || { echo "demo: expected exit status 2 (incomplete answer), got $status" >&2; exit 1; }
    echo "(exit status 2: the answer is incomplete, and says what is unknown)"
}

echo "== A spec (examples/stack.yaml) planned against a captured machine: what apply would do =="
run apply --dry-run --snapshot $ex/crypt-over-linear.json $ex/stack.yaml
echo
echo "== Volumes dmstack owns on that machine (none: its stack was built by dmsetup) =="
run list --snapshot $ex/crypt-over-linear.json
echo
echo "== Two fsdax pmem namespaces under a linear and a striped volume, each with XFS =="
run tree --snapshot $ex/pmem-linear-striped.json
run tree --inverse --snapshot $ex/pmem-linear-striped.json pmem1
echo
echo "== Everything about the striped volume =="
run show --snapshot $ex/pmem-linear-striped.json stripe
echo
echo "== A bad 4 KiB on pmem1 at 300 MiB: which volume ranges does it hit? =="
run translate --snapshot $ex/pmem-linear-striped.json /dev/pmem1 300MiB+4KiB
echo
echo "== The main job: that leaf range on pmem1 as files, offsets, metadata and the kernel's actions =="
echo "   (the striped volume's XFS: file2 and its reflinked copy share the blocks; both are named)"
run simulate --snapshot $ex/pmem-linear-striped.json pmem1 --range 517248+8
echo
echo "== pmem1 about to be removed: what each filesystem on it loses, in the kernel's order =="
echo "   (the snapshot's kernel, 6.1, predates MF_MEM_PRE_REMOVE: shut down only; --kernel 6.12 plans the pre-remove path)"
run simulate --snapshot $ex/pmem-linear-striped.json pmem1 --event remove --kernel 6.12
echo
echo "== A bad range on the device holding an XFS external log: the log is hit, the filesystem shuts down =="
run simulate --snapshot $ex/xfs-external-log.json pmem1 --range 0+8
echo
echo "== A bad range on a raid1 leg: redundancy holds, only a degraded notice =="
run simulate --snapshot $ex/raid1-raid5-loop.json loop0 --range 4096+8
echo
echo "== Losing one raid5 leg: every range degraded, nothing lost =="
run translate --snapshot $ex/raid1-raid5-loop.json /dev/loop3 0+384
echo
echo "== Thin volumes without their pool's thin_dump: unknown, and why =="
run_partial translate --snapshot $ex/thin-pool.json --down thin1 0+8
echo
echo "== Two mirror legs on one disk (a table file): losing that disk loses the data =="
run translate --table $ex/tables/raid.table /dev/loop5 0+409600
echo
echo "== The same as JSON =="
run translate --table $ex/tables/raid.table /dev/loop0 2048+8 --json
