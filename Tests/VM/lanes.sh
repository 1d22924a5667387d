#!/usr/bin/env bash
# `make test` and `make test-vm`: the VM lanes, one boot each. Debian's 6.1 runs the whole
# live suite and then the kernel-behaviour pass (one boot); Debian's 6.12 boots once more for
# the kernel-behaviour pass only. Prints each lane's result and, last, the total as
# `N passed, N failed`; fails if any failed.
# Usage: Tests/VM/lanes.sh [TEST-FILTER]   (the 6.1 lane's live filter; default LiveTests)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
passed=0 failed=0 status=0
lane() { # KERNEL FILTER
    local log
    log=$(mktemp /tmp/dmstack-lane-XXXXXX)
    DMSTACK_VM_KERNEL=$1 DMSTACK_VM_BEHAVIOUR=1 "$root/Tests/VM/run.sh" "$2" | tee "$log"
    [ "${PIPESTATUS[0]}" = 0 ] || status=1
    local last
    last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
    rm -f "$log"
    [ -n "$last" ] || { last="0 passed, 1 failed"; status=1; }
    echo "lane $1: $last" | sed 's/, / and /'
    passed=$((passed + ${last%% *})) failed=$((failed + $(echo "$last" | sed 's/.*, \([0-9]*\) failed/\1/')))
}
lane 6.1 "${1:-LiveTests}"
lane 6.12 -
echo "$passed passed, $failed failed"
exit $status
