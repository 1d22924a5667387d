#!/usr/bin/env bash
# `make test` once the debug build and its tests are built: the host suite in the foreground
# and, at the same time, the static release build followed by the VM lanes (Tests/VM/lanes.sh)
# in the background: the host suite keeps about one core busy, each VM lane one, so on a
# 2-core machine the host suite's minutes come off the total. The VM lanes' output follows
# once the host suite has printed its summary; the last line is the lanes' `N passed,
# N failed`. Fails if either failed. DMSTACK_TEST_SERIAL=1: one after the other, as before.
# Usage: scripts/test.sh   (from the package root; SWIFT, MAKE as make passes them)
set -uo pipefail
cd "$(dirname "$0")/.."
swift=${SWIFT:-swift} make=${MAKE:-make}
start=$(date +%s)
vm() { "$make" -s static && DMSTACK_VM_BIN="$PWD/.build-static/release/dmstack" Tests/VM/lanes.sh; }
log=$(mktemp /tmp/dmstack-test-vm-XXXXXX)
if [ "${DMSTACK_TEST_SERIAL:-0}" = 1 ]; then
    "$swift" test --skip-build --no-parallel; host=$?
    vm 2>&1 | tee "$log"; lanes=${PIPESTATUS[0]}
else
    # Its own session, so that an interrupt stops the lanes' qemu with it.
    setsid bash -c "$(declare -f vm); make=$make; vm" > "$log" 2>&1 &
    lanes_pid=$!
    trap 'kill -TERM -- -$lanes_pid 2>/dev/null; rm -f "$log"; exit 130' INT TERM
    "$swift" test --skip-build --no-parallel; host=$?
    echo "make test: host suite done after $(( $(date +%s) - start )) s (status $host); the VM lanes (static build first) go on:"
    tail -n +1 -f --pid="$lanes_pid" "$log"
    wait "$lanes_pid"; lanes=$?
fi
total=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
rm -f "$log"
echo "make test: $(( $(date +%s) - start )) s after the build (host suite status $host, VM lanes status $lanes)"
# The lanes' total stays the last line.
echo "${total:-0 passed, 1 failed}"
[ "$host" = 0 ] && [ "$lanes" = 0 ]
