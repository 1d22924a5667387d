#!/usr/bin/env bash
# `make test` and `make test-vm`: the VM lanes, one boot each, run side by side (each qemu
# under TCG keeps one core busy; a 2-core machine runs both). Debian's 6.1 runs the live
# suite and then the kernel-behaviour pass (one boot); Debian's 6.12 boots once more, at the
# same time, for the kernel-behaviour pass only. Prints each lane's output as it ends, each
# lane's result, and, last, the total as `N passed, N failed`; fails if any failed.
# Usage: Tests/VM/lanes.sh [TEST-FILTER]   (the 6.1 lane's live filter)
# The default filter: the VM suites only (`LiveTests.VM`) where this machine's host suite has
# run the host live suites itself (root and /dev/loop-control: they need only loop devices,
# XFS and ext4, and cost as much again under TCG); every live suite (`LiveTests`) where it
# could not. DMSTACK_VM_LANES=serial runs the lanes one after the other.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ -n "${1:-}" ]; then filter=$1
elif [ "$(id -u)" = 0 ] && [ -e /dev/loop-control ]; then filter=LiveTests.VM
else filter=LiveTests
fi
passed=0 failed=0 status=0
logs=$(mktemp -d /tmp/dmstack-lanes-XXXXXX)
trap 'rm -rf "$logs"' EXIT
run_lane() { # KERNEL FILTER: the lane's output into $logs/KERNEL.log, its status into .rc
    DMSTACK_VM_KERNEL=$1 DMSTACK_VM_BEHAVIOUR=1 "$root/Tests/VM/run.sh" "$2" > "$logs/$1.log" 2>&1
    echo $? > "$logs/$1.rc"
}
tally() { # KERNEL: prints the lane's output and result, adds it to the total
    cat "$logs/$1.log"
    [ "$(cat "$logs/$1.rc" 2>/dev/null)" = 0 ] || status=1
    local last
    last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$logs/$1.log" | tail -1)
    [ -n "$last" ] || { last="0 passed, 1 failed"; status=1; }
    echo "lane $1: $last" | sed 's/, / and /'
    passed=$((passed + ${last%% *})) failed=$((failed + $(echo "$last" | sed 's/.*, \([0-9]*\) failed/\1/')))
}
start=$(date +%s)
echo "lanes: 6.1 ($filter, then the kernel-behaviour pass) and 6.12 (the kernel-behaviour pass)" \
     "$([ "${DMSTACK_VM_LANES:-}" = serial ] && echo "one after the other" || echo "side by side")"
if [ "${DMSTACK_VM_LANES:-}" = serial ]; then
    run_lane 6.1 "$filter"; tally 6.1
    run_lane 6.12 -; tally 6.12
else
    run_lane 6.12 - &
    other=$!
    run_lane 6.1 "$filter"
    wait "$other"
    tally 6.12
    tally 6.1
fi
echo "lanes: $(( $(date +%s) - start )) s"
echo "$passed passed, $failed failed"
exit $status
