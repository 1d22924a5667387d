#!/usr/bin/env bash
# `make test-package`: dmstack as an administrator installs it. As root.
#   scripts/test-package.sh BINARY DEB
# 1. `make install` into a scratch DESTDIR (scripts/install.sh): every file in place, the
#    unit's ExecStart names the prefix, an existing config.yaml is kept, uninstall leaves
#    nothing but the configuration.
# 2. DEB into a clean Debian bookworm root (debootstrap --variant=minbase, with bash-completion,
#    man-db and systemd to test with; the debootstrap tarball and the root it makes are cached
#    in $DMSTACK_PKGTEST_CACHE, default /var/tmp/dmstack-pkgtest, and so are the .debs apt
#    fetches; each run starts from a fresh copy of that root), installed by apt with its
#    dependencies; there: `dmstack --version`, `dmstack tree` (/proc, /sys, /dev bind-mounted),
#    `man dmstack`, bash completion of `dmstack sim<TAB>`, the unit present, not enabled and
#    passing `systemd-analyze verify` (no systemd runs in a chroot, so no `systemctl cat`), the
#    configuration a conffile that loads; then `apt-get remove` leaves nothing of dmstack's but
#    /etc/dmstack/config.yaml (edited before, and kept as edited by a reinstall), and
#    `apt-get purge` not even that.
# Needs network to the Debian mirror ($DEBIAN_MIRROR, default http://deb.debian.org/debian) on
# the first run and for apt's index; prints each step's time.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:?usage: scripts/test-package.sh BINARY DEB}
deb=${2:?usage: scripts/test-package.sh BINARY DEB}
cache=${DMSTACK_PKGTEST_CACHE:-/var/tmp/dmstack-pkgtest}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
include=bash-completion,man-db,systemd
tarball=$cache/bookworm-minbase-$(echo "$include" | tr , -).tgz

t0=$(date +%s)
step() { echo "test-package: [$(($(date +%s) - t0))s] $*" >&2; }
fail() { echo "test-package: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, chroot, mounts)"
command -v debootstrap >/dev/null 2>&1 || fail "debootstrap is missing; run 'scripts/setup.sh package' as root"
[ -f "$deb" ] || fail "$deb does not exist; run 'make deb' first"
version=$(dpkg-deb -f "$deb" Version)

scratch=$(mktemp -d /var/tmp/dmstack-pkgtest-XXXXXX)
root=$scratch/root
mounted=()
cleanup() {
    local m
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -R "${mounted[i]}" 2>/dev/null || umount -lR "${mounted[i]}" || true; done
    rm -rf --one-file-system "$scratch"
}
trap cleanup EXIT

# --- 1. make install / uninstall -----------------------------------------------------------
step "make install into a DESTDIR"
dest=$scratch/dest
DESTDIR=$dest scripts/install.sh install "$binary"
for f in usr/local/sbin/dmstack usr/local/share/man/man8/dmstack.8 \
         usr/local/share/bash-completion/completions/dmstack usr/local/share/zsh/site-functions/_dmstack \
         usr/local/share/fish/vendor_completions.d/dmstack.fish usr/local/lib/systemd/system/dmstack-monitor.service \
         usr/local/share/doc/dmstack/config.yaml.example etc/dmstack/config.yaml; do
    [ -f "$dest/$f" ] || fail "make install did not install /$f"
done
[ "$("$dest/usr/local/sbin/dmstack" --version)" = "$version" ] || fail "the installed binary is not version $version"
grep -qx 'ExecStart=/usr/local/sbin/dmstack monitor' "$dest/usr/local/lib/systemd/system/dmstack-monitor.service" \
    || fail "the installed unit does not run /usr/local/sbin/dmstack"
command -v objdump > /dev/null || fail "objdump (binutils) is needed to check the binary's libraries"
objdump -p "$dest/usr/local/sbin/dmstack" | grep -q 'NEEDED.*libswift' && fail "the installed binary needs the Swift runtime's shared libraries"
echo "# the administrator's" >> "$dest/etc/dmstack/config.yaml"
DESTDIR=$dest scripts/install.sh install "$binary" 2>/dev/null
tail -n 1 "$dest/etc/dmstack/config.yaml" | grep -qx "# the administrator's" || fail "a second make install overwrote /etc/dmstack/config.yaml"
DESTDIR=$dest scripts/install.sh uninstall 2>/dev/null
left=$(cd "$dest" && find . -type f | sort)
[ "$left" = "./etc/dmstack/config.yaml" ] || fail "make uninstall left: $left"

# --- 2. the package in a clean bookworm root ------------------------------------------------
mkdir -p "$cache/archives/partial"
# debootstrap's second stage takes minutes on a loaded machine: the root it makes is kept as a
# tar (once per cache), and each run starts from a fresh copy of it.
roottar=${tarball%.tgz}-root.tar
if [ ! -s "$roottar" ]; then
    if [ ! -s "$tarball" ]; then
        step "debootstrap: fetching bookworm minbase into $tarball (once)"
        debootstrap --variant=minbase --include="$include" --make-tarball="$tarball.part" bookworm "$scratch/fetch" "$mirror" >/dev/null
        mv "$tarball.part" "$tarball"
    fi
    step "debootstrap: a clean root from $tarball (once)"
    debootstrap --variant=minbase --include="$include" --unpack-tarball="$(readlink -f "$tarball")" bookworm "$scratch/made" "$mirror" >/dev/null
    tar -C "$scratch/made" --numeric-owner -cf "$roottar.part" .
    mv "$roottar.part" "$roottar"
    rm -rf --one-file-system "$scratch/made"
fi
step "a clean bookworm root from $roottar"
mkdir "$root"
tar -C "$root" --numeric-owner -xpf "$roottar"
mount -t proc proc "$root/proc"; mounted+=("$root/proc")
mount --rbind /sys "$root/sys"; mount --make-rslave "$root/sys"; mounted+=("$root/sys")
mount --rbind /dev "$root/dev"; mount --make-rslave "$root/dev"; mounted+=("$root/dev")
mount --bind "$cache/archives" "$root/var/cache/apt/archives"; mounted+=("$root/var/cache/apt/archives")
cp /etc/resolv.conf "$root/etc/resolv.conf"
# Nothing started from a chroot (invoke-rc.d and deb-systemd-invoke ask policy-rc.d).
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"; chmod 0755 "$root/usr/sbin/policy-rc.d"
cp "$deb" "$root/tmp/dmstack.deb"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive "$@"; }
# Every path of the root but the kernel's, apt's and dpkg's own, and /tmp (the .deb).
paths() {
    (cd "$root" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./run -o -path ./tmp \
        -o -path ./var/cache -o -path ./var/lib/apt -o -path ./var/lib/dpkg -o -path ./var/log \) -prune -o -print | sort)
}

step "apt-get install ./dmstack.deb (and its dependencies)"
in_root apt-get update -qq
in_root apt-get install -y -qq /tmp/dmstack.deb >/dev/null
in_root dpkg-query -W -f='${Status}\n' libcurl4 | grep -q 'install ok installed' || fail "libcurl4 (Recommends) was not installed"

step "dmstack --version, tree, man, completion, unit, configuration"
[ "$(in_root dmstack --version)" = "$version" ] || fail "dmstack --version is not $version"
tree=$(in_root dmstack tree) || fail "dmstack tree failed"
[[ $tree == NAME* ]] || fail "dmstack tree printed no table: $tree"
man=$(in_root man dmstack 2>&1) || fail "man dmstack failed: $man"
grep -q '^SYNOPSIS' <<< "$man" || fail "man dmstack has no SYNOPSIS: $(head -n 5 <<< "$man")"
grep -q "dmstack tree" <<< "$man" || fail "man dmstack does not describe dmstack tree"
# What bash offers for `dmstack sim<TAB>`: bash-completion loads the script on demand.
completion=$(in_root bash -c '
    . /usr/share/bash-completion/bash_completion
    _completion_loader dmstack
    spec=$(complete -p dmstack) || exit 1
    fn=${spec#*-F }; fn=${fn%% *}
    COMP_LINE="dmstack sim"; COMP_POINT=${#COMP_LINE}; COMP_WORDS=(dmstack sim); COMP_CWORD=1
    "$fn" dmstack sim dmstack
    printf "%s\n" "${COMPREPLY[@]}"')
[ "$completion" = simulate ] || fail "bash completes 'dmstack sim' to '$completion', not 'simulate'"
unit=/lib/systemd/system/dmstack-monitor.service
[ -f "$root$unit" ] || fail "$unit is not installed"
grep -qx 'ExecStart=/usr/sbin/dmstack monitor' "$root$unit" || fail "$unit does not run /usr/sbin/dmstack"
verify=$(in_root systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify $unit: $verify"
[ -z "$(find "$root/etc/systemd" -name dmstack-monitor.service)" ] || fail "the package enabled dmstack-monitor"
in_root dpkg-query -W -f='${Conffiles}\n' dmstack | grep -q '^ /etc/dmstack/config.yaml ' || fail "/etc/dmstack/config.yaml is not a conffile"
in_root dmstack monitor --once --state-dir /tmp/dmstack-state >/dev/null || fail "dmstack monitor --once does not accept the installed /etc/dmstack/config.yaml"
step "checked: --version $version, tree $(wc -l <<< "$tree") lines, man $(wc -l <<< "$man") lines, 'dmstack sim<TAB>' → $completion, $unit verified and disabled, the conffile loads"

step "apt-get remove dmstack (the administrator's config.yaml edited first)"
echo "# the administrator's" >> "$root/etc/dmstack/config.yaml"
listed=$(in_root dpkg -L dmstack)
in_root apt-get remove -y -qq dmstack >/dev/null
after=$(paths)
for p in $listed; do
    [ -f "$root$p" ] || continue
    [ "$p" = /etc/dmstack/config.yaml ] || fail "apt-get remove left $p"
done
mine=$(grep -i dmstack <<< "$after" || true)
[ "$mine" = $'./etc/dmstack\n./etc/dmstack/config.yaml' ] || fail "after apt-get remove, dmstack's paths are: $mine"

tail -n 1 "$root/etc/dmstack/config.yaml" | grep -qx "# the administrator's" || fail "apt-get remove did not keep the edited config.yaml"

step "apt-get install again: the edited config.yaml stays"
in_root apt-get install -y -qq /tmp/dmstack.deb >/dev/null
tail -n 1 "$root/etc/dmstack/config.yaml" | grep -qx "# the administrator's" || fail "reinstalling replaced the edited config.yaml"
[ "$(in_root dmstack --version)" = "$version" ] || fail "the reinstalled dmstack does not run"

step "apt-get purge dmstack"
in_root apt-get purge -y -qq dmstack >/dev/null
mine=$(paths | grep -i dmstack || true)
[ -z "$mine" ] || fail "after apt-get purge, dmstack's paths are: $mine"
[ -z "$(find "$root/var/lib/dpkg/info" -name 'dmstack.*')" ] || fail "dpkg still has records of dmstack after purge"
step "passed ($(basename "$deb"))"
