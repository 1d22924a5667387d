#!/usr/bin/env bash
# `make test-vm`: boots the test VM once (Tests/VM/vm.sh), runs every live test inside it,
# and prints a closing `N passed, N failed`. Fails if any failed or the VM did not come up.
# Usage: Tests/VM/run.sh [TEST-FILTER|-|queue:DIR]   (default: LiveTests, the whole live suite;
# -: none; queue:DIR: suites taken from lanes.sh's queue, which DMSTACK_VM_QUEUE names too)
# DMSTACK_VM_LANE: the live log's suffix (/tmp/dmstack-vm-last-LANE.log; default no suffix).
# DMSTACK_VM_BEHAVIOUR=1: then the kernel-behaviour pass (VMKernelBehaviourTests), last in
# the boot (DMSTACK_VM_BEHAVIOUR_TESTS: only these of its tests). DMSTACK_VM_KERNEL: the kernel to boot (Tests/VM/vm.sh; default 6.1).
# DMSTACK_VM_BIN: the dmstack the tests run (default .build/debug/dmstack; `make test` gives
# the static release build, which starts 5x faster in the guest).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/Tests/VM/vm.sh"
filter=${1:-LiveTests}
work=$(mktemp -d /tmp/dmstack-vm-XXXXXX)
out=$work/out
mkdir -p "$out"
trap 'rm -rf "$work"' EXIT

if ! boot_vm "$work" "$out" "${DMSTACK_SOAK_SCALE:+env DMSTACK_SOAK_SCALE=$DMSTACK_SOAK_SCALE }bash $root/Tests/VM/guest.sh $out $root $filter ${DMSTACK_VM_BIN:-$root/.build/debug/dmstack} ${DMSTACK_VM_BEHAVIOUR:-0} ${DMSTACK_VM_BEHAVIOUR_TESTS:+$(echo $DMSTACK_VM_BEHAVIOUR_TESTS | tr ' ' ,)}" || [ ! -f "$out/done" ]; then
    echo "test-vm: the VM did not come up or did not finish; last console lines:"
    tail -30 "$work/console.log" 2>/dev/null
    echo "0 passed, 1 failed"
    exit 1
fi
grep -E '^(PASS|FAIL|note)' "$out/setup.log"
# The whole log outlives the run, for the messages of failed expectations (the behaviour
# pass's per kernel: lanes.sh runs two at once).
cp "$out/live.log" "/tmp/dmstack-vm-last${DMSTACK_VM_LANE:+-$DMSTACK_VM_LANE}.log" 2>/dev/null || true
cp "$out/behaviour.log" "/tmp/dmstack-vm-behaviour-last-${DMSTACK_VM_KERNEL:-6.1}.log" 2>/dev/null || true
passed=$(grep -c '^PASS' "$out/setup.log")
failed=$(grep -c '^FAIL' "$out/setup.log")
if [ -f "$out/live.log" ]; then
    # swift-testing's own lines, one per test: "✔ Test x() passed after", "✘ Test x() failed after".
    grep -aE '^(✔|✘|➜) Test |recorded an issue' "$out/live.log" | grep -av '^. Test run' || true
    grep -a '^. Test run' "$out/live.log" || true
    [ -f "$out/suite-times" ] && echo "suite seconds: $(tr '\n' ' ' < "$out/suite-times")"
    # The monitor soak's figures (VMSoakTests), not its progress or cleanup lines.
    grep -aE '^soak: (scale|[0-9]+ events|VmRSS|resident|heap|descriptors|[0-9]+ coalescing|[0-9]+ failed)' "$out/live.log" || true
    p=$(grep -aE '^✔ Test .* passed after' "$out/live.log" | grep -avc '^✔ Test run')
    f=$(grep -aE '^✘ Test .* failed after' "$out/live.log" | grep -avc '^✘ Test run')
    passed=$((passed + p)) failed=$((failed + f))
    if [ "$(cat "$out/live.rc" 2>/dev/null)" != 0 ] && [ "$f" = 0 ]; then
        echo "test-vm: the test binary exited $(cat "$out/live.rc" 2>/dev/null) without a failed test; its last lines:"
        tail -20 "$out/live.log"
        failed=$((failed + 1))
    fi
fi
if [ "${DMSTACK_VM_BEHAVIOUR:-0}" = 1 ]; then
    if [ -f "$out/behaviour.log" ]; then
        grep -aE '^(✔|✘|➜) Test |recorded an issue|kernel-behaviour ' "$out/behaviour.log" | grep -av '^. Test run' || true
        p=$(grep -aE '^✔ Test .* passed after' "$out/behaviour.log" | grep -avc '^✔ Test run')
        f=$(grep -aE '^✘ Test .* failed after' "$out/behaviour.log" | grep -avc '^✘ Test run')
        # Each of the five must have run: a test that did not pass and did not fail is a failure.
        ran=$(grep -c . "$out/behaviour.rc" 2>/dev/null || echo 0)
        want=$(echo ${DMSTACK_VM_BEHAVIOUR_TESTS:-1 2 3 4 5} | wc -w)
        [ $((p + f)) -lt "$want" ] && f=$((want - p))
        passed=$((passed + p)) failed=$((failed + f))
        echo "kernel behaviour on $(cat "$out/kernel" 2>/dev/null): $p of $want passed ($ran run)"
    else
        echo "test-vm: no kernel-behaviour log"; failed=$((failed + 1))
    fi
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
