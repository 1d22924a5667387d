#!/usr/bin/env bash
# Runs inside the test VM (see Tests/VM/run.sh): prepares dm and fsdax pmem, checks the
# set-up, then runs the live test suite. Writes into OUT: setup.log (PASS/FAIL lines),
# live.log (swift-testing's output), live.rc, with BEHAVIOUR=1 behaviour.log and behaviour.rc
# (the kernel-behaviour pass), and done when it finished.
# Usage: guest.sh OUT ROOT [FILTER|-] [DMSTACK] [BEHAVIOUR] [ONLY]
set -u
out=$1 root=$2 filter=${3:-LiveTests} bin=${4:-$2/.build/debug/dmstack} behaviour=${5:-0} only=${6:-}
{
    source "$root/Tests/VM/prepare.sh"
    uname -r > "$out/kernel"
    # Set-up checks count as tests: the suite means nothing without them.
    check() { if eval "$2"; then echo "PASS setup: $1"; else echo "FAIL setup: $1"; fi; }
    check "device-mapper is present" '[ -e /dev/mapper/control ]'
    check "two fsdax pmem block devices" '[ -b /dev/pmem0 ] && [ -b /dev/pmem1 ] && [ "$(ndctl list -N -m fsdax | grep -c fsdax)" -ge 2 ]'
    check "loop devices" '[ -e /dev/loop-control ]'
} > "$out/setup.log" 2>&1

tests=$(ls -d "$root"/.build/*/debug/dmstackPackageTests.xctest 2>/dev/null | head -1)
if [ -z "$tests" ]; then
    echo "FAIL setup: no test binary under $root/.build (build on the host first)" >> "$out/setup.log"
else
    # The holder registry of this run (apply registers, teardown unregisters).
    # DMSTACK_VM_OUT: where a test may leave logs the host reads (VMSoakTests).
    export DMSTACK_STATE_DIR=/tmp/dmstack-vm-state DMSTACK_VM=1 DMSTACK_VM_OUT=$out
    # dmstack runs from the guest's tmpfs: executed from the 9p root each run pages it in again
    # (0.9 s for `--version` under TCG, 0.18 s from tmpfs for the static release build).
    if mkdir -p /tmp/dmstack-bin && cp "$bin" /tmp/dmstack-bin/dmstack && /tmp/dmstack-bin/dmstack --version >/dev/null; then
        export DMSTACK_BIN=/tmp/dmstack-bin/dmstack
        echo "note: dmstack under test: $bin (run from the guest's tmpfs)" >> "$out/setup.log"
    else
        echo "FAIL setup: the dmstack under test ($bin) does not run from the guest's tmpfs" >> "$out/setup.log"
    fi
    rm -rf "$DMSTACK_STATE_DIR"
    # One suite at a time: suites build and tear down devices the others capture.
    # FILTER `-`: no live suite, only the kernel-behaviour pass.
    # FILTER `queue:DIR` (Tests/VM/lanes.sh): the suites named in DIR/list, in its order, each
    # one this boot claims by moving DIR/todo/SUITE away (a rename on the host through 9p: of
    # two lanes trying the same suite, one wins); each list entry is tried once, so a stale
    # directory cache can never make a lane loop. suite-times: seconds per suite it ran.
    # A suite that stopped udevd (VMSoakTests: under TCG udev handles about 8 uevents a
    # second, its storm sends 100) gets it back here, from this shell, before the next suite
    # (a FAIL line if it does not come back): started from the test binary, the test hung in
    # its cleanup three times; udevd keeps the descriptors it inherits, so it can hold a pipe
    # of the test's open.
    udevd_was=$(pgrep -x systemd-udevd)
    udevd_back() {
        [ -n "$udevd_was" ] && ! pgrep -x systemd-udevd >/dev/null || return 0
        timeout -k 5 30 /usr/lib/systemd/systemd-udevd --daemon </dev/null >/dev/null 2>&1
        timeout -k 5 70 udevadm settle -t 60
        if pgrep -x systemd-udevd >/dev/null; then echo "note: systemd-udevd started again after $1"
        else echo "FAIL setup: systemd-udevd, stopped by $1, did not start again"; fi >> "$out/setup.log"
    }
    if [ "${filter#queue:}" != "$filter" ]; then
        queue=${filter#queue:} rc=0
        : > "$out/live.log"
        for suite in $(cat "$queue/list"); do
            mv "$queue/todo/$suite" "$queue/taken/$suite" 2>/dev/null || continue
            t0=$(date +%s)
            (cd /tmp && "$tests" --testing-library swift-testing --no-parallel --filter "LiveTests\\.$suite/") > "$out/suite.log" 2>&1 || rc=1
            cat "$out/suite.log" >> "$out/live.log"
            # A queued name that matches no test (a suite renamed) is a failure, not a pass.
            if grep -aq 'Test run with 0 tests' "$out/suite.log"; then
                echo "✘ Test $suite() failed after 0 seconds: the queue's filter matched no test" >> "$out/live.log"; rc=1
            fi
            echo "$suite $(( $(date +%s) - t0 ))" >> "$out/suite-times"
            udevd_back "$suite"
        done
        echo $rc > "$out/live.rc"
    elif [ "$filter" != - ]; then
        cd /tmp && "$tests" --testing-library swift-testing --no-parallel --filter "$filter" > "$out/live.log" 2>&1
        echo $? > "$out/live.rc"
        udevd_back "$filter"
    fi
    # The kernel-behaviour pass (DMSTACK_VM_BEHAVIOUR=1, Tests/LiveTests/VMKernelBehaviourTests.swift),
    # last of the boot: its unbinds leave DAX filesystems that cannot be unmounted safely. One
    # test at a time, in this order: the memory failures and dmstack's own removal first,
    # then the two hand unbinds (pmem1 through dm, pmem0 direct).
    if [ "$behaviour" = 1 ]; then
        : > "$out/behaviour.log"
        # ONLY (names, comma-separated, in order; run.sh's DMSTACK_VM_BEHAVIOUR_TESTS) runs only some of them.
        list=${only//,/ }
        [ -n "$list" ] || list="aMemoryFailureOnADirectDaxPageSignalsTheToucher aMemoryFailureThroughDmLinearIsTheGenericPerPageKill
            dmstackRemoveThroughDmLinearSignalsTheMappers anUnbindThroughDmLinearReachesNobody anUnbindUnderDirectXFSDoesWhatSimulateSaid"
        for t in $list; do
            (cd /tmp && DMSTACK_KERNEL_BEHAVIOUR=1 "$tests" --testing-library swift-testing --no-parallel --filter "VMKernelBehaviourTests/$t") >> "$out/behaviour.log" 2>&1
            echo "$t $?" >> "$out/behaviour.rc"
        done
    fi
fi
touch "$out/done"
