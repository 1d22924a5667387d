# Sourced by Tests/VM/run.sh and examples/capture.sh: boots Debian's kernel under qemu with
# two emulated 512 MiB NVDIMMs through virtme-ng, the host's root shared read-only and OUT
# writable, and runs COMMAND inside. KVM stays off unless DMSTACK_VM_KVM=1 (guests hang
# under it on these machines); DMSTACK_VM_TIMEOUT bounds the run (seconds, default 3600; README says what a lane takes).
# The kernel is chosen, never "whatever sorts last": DMSTACK_VM_KERNEL is a /boot/vmlinuz-*
# path or a Debian series (6.1, the default: bookworm's linux-image-amd64; 6.12: its
# linux-image-6.12.*+deb12-amd64, which scripts/setup.sh test installs beside it), the
# newest image of that series.
# DMSTACK_VM_QUEUE: one more directory the guest may write (Tests/VM/lanes.sh's suite queue).
# Usage: boot_vm WORKDIR OUT COMMAND; leaves the console in WORKDIR/console.log.

# vm_kernel SERIES-OR-PATH: the vmlinuz to boot, or nothing when none is installed.
vm_kernel() {
    case $1 in
        /*) [ -f "$1" ] && echo "$1" ;;
        *) ls /boot/vmlinuz-"$1".[0-9]* 2>/dev/null | grep -E "/vmlinuz-$(echo "$1" | sed 's/\./\\./g')\.[0-9]+[-+.][^/]*-amd64\$" | sort -V | tail -1 ;;
    esac
}

boot_vm() {
    local work=$1 out=$2 command=$3
    truncate -s 512M "$work/nv0" "$work/nv1"
    local kernel want=${DMSTACK_VM_KERNEL:-6.1}
    kernel=$(vm_kernel "$want")
    if [ -z "$kernel" ]; then echo "vm: no kernel $want in /boot (scripts/setup.sh test installs 6.1 and 6.12)"; return 1; fi
    local accel=--disable-kvm
    [ "${DMSTACK_VM_KVM:-0}" = 1 ] && accel=
    local qemu="-machine pc,nvdimm=on" i
    for i in 0 1; do
        qemu="$qemu -object memory-backend-file,id=mem$i,share=on,mem-path=$work/nv$i,size=512M -device nvdimm,id=nv$i,memdev=mem$i"
    done
    echo "vm: booting $(basename "$kernel") with 2 NVDIMMs ($([ -z "$accel" ] && echo KVM || echo TCG))"
    local start status
    start=$(date +%s)
    timeout "${DMSTACK_VM_TIMEOUT:-3600}" vng --run "$kernel" --force-9p $accel --disable-microvm \
        --memory '2048,slots=4,maxmem=8192' --rwdir "$out" ${DMSTACK_VM_QUEUE:+--rwdir "$DMSTACK_VM_QUEUE"} --qemu-opts="$qemu" \
        --exec "$command" > "$work/console.log" 2>&1
    status=$?
    echo "vm: ran $(( $(date +%s) - start )) s (exit $status)"
    return 0
}
