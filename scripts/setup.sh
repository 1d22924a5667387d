#!/usr/bin/env bash
# Installs what dmstack needs and is missing, idempotently; silent when everything is present.
#   scripts/setup.sh build   what building and `make demo` need
#   scripts/setup.sh test    also what the test suite needs (VM included)
#   scripts/setup.sh bench   also what `make bench` needs (gnuplot for its plot, GNU time for peak RSS)
#   scripts/setup.sh package also what `make deb` and `make test-package` need
set -euo pipefail
level=${1:-build}

build_packages=(pkg-config libdevmapper-dev libblkid-dev libyaml-dev libsqlite3-dev libcurl4-openssl-dev)
# Two kernels for the VM lane (Tests/VM/vm.sh): bookworm's 6.1 (linux-image-amd64) and its 6.12
# (the meta-package pulls the newest linux-image-6.12.N+deb12-amd64), which has
# MF_MEM_PRE_REMOVE; gcc builds the kernel-behaviour suite's SIGBUS probe (Tests/VM/sigbus-probe.c).
# squashfs-tools: a filesystem whose owners dmstack cannot learn (RemoveLiveTests: status 2).
test_packages=(xfsprogs e2fsprogs fdisk util-linux ndctl lvm2 thin-provisioning-tools mdadm cryptsetup-bin
               qemu-system-x86 linux-image-amd64 linux-image-6.12-amd64 busybox-static python3-pip groff-base
               gcc libc6-dev prometheus prometheus-node-exporter squashfs-tools)

bench_packages=(gnuplot-nox time)
# dpkg-shlibdeps and dpkg-gencontrol, RUNPATH removal, lintian; a clean bookworm root.
package_packages=(dpkg-dev chrpath lintian debootstrap)

wanted=("${build_packages[@]}")
case "$level" in
    test) wanted+=("${test_packages[@]}") ;;
    bench) wanted+=("${test_packages[@]}" "${bench_packages[@]}") ;;
    package) wanted+=("${package_packages[@]}") ;;
esac

missing=()
for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
need_vng=no
if [ "$level" != build ] && [ "$level" != package ] && ! command -v vng >/dev/null 2>&1; then need_vng=yes; fi

if [ ${#missing[@]} -eq 0 ] && [ $need_vng = no ]; then exit 0; fi

if [ "$(id -u)" -ne 0 ]; then
    echo "dmstack setup: missing ${missing[*]}${need_vng/yes/ virtme-ng}${need_vng/no/}; run as root (or install them) and try again" >&2
    exit 1
fi

if [ ${#missing[@]} -gt 0 ]; then
    echo "dmstack setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ $need_vng = yes ]; then
    echo "dmstack setup: installing virtme-ng (pip)" >&2
    python3 -m pip install -q virtme-ng >/dev/null 2>&1 || python3 -m pip install -q --break-system-packages virtme-ng >/dev/null
    # pyenv only exposes a new console script once its shims are rebuilt.
    if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
    hash -r
    command -v vng >/dev/null 2>&1 || {
        echo "dmstack setup: virtme-ng installed but 'vng' is not on PATH" >&2; exit 1; }
fi
