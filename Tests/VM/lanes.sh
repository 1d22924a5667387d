#!/usr/bin/env bash
# `make test` and `make test-vm`: the VM lanes, run side by side (each qemu under TCG keeps one
# core busy; a 2-core machine runs two). Lane A boots Debian's 6.1 for live suites and then the
# 6.1 kernel-behaviour pass; lane B boots Debian's 6.12 for its kernel-behaviour pass, then 6.1
# again for live suites. The live suites are a queue (one file per suite, heaviest first as
# Tests/VM/suites orders them): each 6.1 boot takes the next suite no one has taken, so the two
# lanes end close together whatever this machine's speed. Each suite runs in one boot only.
# Prints each lane's output as it ends, each lane's result and the seconds each suite took,
# and, last, the total as `N passed, N failed`; fails if any failed or a suite never ran.
# Usage: Tests/VM/lanes.sh [TEST-FILTER]
# With a filter: lane A runs just that filter (no queue), lane B the 6.12 behaviour pass.
# Without: the VM suites (`VM*Tests`) where this machine's host suite has run the host live
# suites itself (root and /dev/loop-control: they need only loop devices, XFS and ext4, and
# cost as much again under TCG); every live suite where it could not. VMKernelBehaviourTests
# is the behaviour pass's. VMSoakTests (the monitor soak) is queued last: it stops udevd for
# its storm (Tests/VM/guest.sh starts it again), and the udev database then misses the storm's
# devices, so at most the behaviour pass follows it in its boot.
# DMSTACK_VM_LANES=serial: one lane, then the other (lane A takes the whole queue).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
passed=0 failed=0 status=0
logs=$(mktemp -d /tmp/dmstack-lanes-XXXXXX)
trap 'rm -rf "$logs"' EXIT

filter=${1:-}
if [ -z "$filter" ]; then
    if [ "$(id -u)" = 0 ] && [ -e /dev/loop-control ]; then only='^VM'; else only=.; fi
    q=$logs/queue
    mkdir -p "$q/todo" "$q/taken"
    all=$(grep -ho '^struct [A-Za-z0-9]*Tests' "$root"/Tests/LiveTests/*.swift | awk '{print $2}' |
          grep -E "$only" | grep -vx VMKernelBehaviourTests)
    # Tests/VM/suites' order first (heaviest first: the lanes then end close together), then
    # any suite it does not name, then the soak.
    { grep -oE '^[A-Za-z0-9]+' "$root/Tests/VM/suites" | grep -xF "$all"
      echo "$all" | grep -vxF "$(grep -oE '^[A-Za-z0-9]+' "$root/Tests/VM/suites")"; } | grep -vx VMSoakTests > "$q/list"
    echo "$all" | grep -x VMSoakTests >> "$q/list"
    for s in $(cat "$q/list"); do : > "$q/todo/$s"; done
    filter=queue:$q
fi

run_lane() { # LANE KERNEL FILTER BEHAVIOUR: the lane's output into $logs/LANE.log, its status into .rc
    env DMSTACK_VM_LANE="$1" DMSTACK_VM_KERNEL="$2" DMSTACK_VM_BEHAVIOUR="$4" ${q:+DMSTACK_VM_QUEUE="$q"} \
        "$root/Tests/VM/run.sh" "$3" > "$logs/$1.log" 2>&1
    echo $? > "$logs/$1.rc"
}
# lane B: the 6.12 behaviour pass, then (with a queue still holding suites) a 6.1 boot for them.
lane_b() {
    run_lane 6.12 6.12 - 1
    if [ -n "${q:-}" ] && [ -n "$(ls "$q/todo")" ]; then run_lane 6.1-b 6.1 "$filter" 0; fi
}
tally() { # LANE: prints the lane's output and result, adds it to the total
    [ -f "$logs/$1.log" ] || return 0
    cat "$logs/$1.log"
    [ "$(cat "$logs/$1.rc" 2>/dev/null)" = 0 ] || status=1
    local last
    last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$logs/$1.log" | tail -1)
    [ -n "$last" ] || { last="0 passed, 1 failed"; status=1; }
    echo "lane $1: $last" | sed 's/, / and /'
    passed=$((passed + ${last%% *})) failed=$((failed + $(echo "$last" | sed 's/.*, \([0-9]*\) failed/\1/')))
}
start=$(date +%s)
if [ -n "${q:-}" ]; then
    what="the suite queue: $(tr '\n' ' ' < "$q/list")" rest="; then 6.1 for the queue's rest"
else what=$filter rest=
fi
how="side by side"; [ "${DMSTACK_VM_LANES:-}" = serial ] && how="one after the other"
echo "lanes ($how): A 6.1 ($what; then the kernel-behaviour pass), B 6.12 (the kernel-behaviour pass$rest)"
if [ "${DMSTACK_VM_LANES:-}" = serial ]; then
    run_lane 6.1 6.1 "$filter" 1; tally 6.1
    lane_b; tally 6.12; tally 6.1-b
else
    lane_b &
    other=$!
    run_lane 6.1 6.1 "$filter" 1
    wait "$other"
    tally 6.12
    tally 6.1-b
    tally 6.1
fi
if [ -n "${q:-}" ] && [ -n "$(ls "$q/todo")" ]; then
    echo "lanes: suites that no lane ran: $(ls "$q/todo" | tr '\n' ' ')"
    failed=$((failed + $(ls "$q/todo" | wc -l))); status=1
fi
echo "lanes: $(( $(date +%s) - start )) s"
echo "$passed passed, $failed failed"
exit $status
