#!/usr/bin/env bash
# `make demo`: dmstack on the bundled example tables, no root needed.
set -euo pipefail
bin=${1:-.build/debug/dmstack}
ex=examples/tables
run() { echo; echo "\$ dmstack $*"; "$bin" "$@"; }

echo "== Which ranges of the striped volume does a bad 4 KiB on pmem1 hit? =="
run translate --table $ex/pmem-stack.table /dev/pmem1 262400+8
echo
echo "== Where does the first 256 KiB of the striped volume live? (down to the leaves) =="
run translate --table $ex/pmem-stack.table --down data 0+256KiB
echo
echo "== Losing one raid5 leg: every range degraded, nothing lost =="
run translate --table $ex/raid.table /dev/loop3 0+384
echo
echo "== Two mirror legs on one disk: losing that disk loses the data =="
run translate --table $ex/raid.table /dev/loop5 0+409600
echo
echo "== The same as JSON =="
run translate --table $ex/raid.table /dev/loop0 2048+8 --json
