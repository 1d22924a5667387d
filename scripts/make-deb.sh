#!/usr/bin/env bash
# `make deb`: dmstack's Debian package from the tree, with dpkg-deb from a staged tree (see
# packaging/debian/README.md for why not dpkg-buildpackage), then lintian on it.
#   scripts/make-deb.sh BINARY [OUTDIR]   BINARY: the static release build (make static)
# Writes OUTDIR/dmstack_VERSION_ARCH.deb (OUTDIR: .build-deb) and prints its path last.
# LINTIAN=0 skips lintian; otherwise an error or warning it reports fails the build.
set -euo pipefail
# Directories install -d makes are 0755 whatever the caller's umask (root's may be 077).
umask 022
cd "$(dirname "$0")/.."
binary=${1:?usage: scripts/make-deb.sh BINARY [OUTDIR]}
out=${2:-.build-deb}
for tool in dpkg-deb dpkg-gencontrol dpkg-shlibdeps chrpath; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "dmstack deb: $tool is missing; run 'scripts/setup.sh package' as root" >&2; exit 1; }
done
[ -x "$binary" ] || { echo "dmstack deb: $binary is not an executable; run 'make static' first" >&2; exit 1; }
version=$("$binary" --version)
[[ $version =~ ^[0-9][0-9A-Za-z.+~-]*$ ]] || { echo "dmstack deb: '$binary --version' printed '$version', not a version" >&2; exit 1; }
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH

# dpkg-gencontrol and dpkg-shlibdeps expect the debhelper layout: debian/control,
# debian/changelog and the package's tree in debian/dmstack.
rm -rf "$out/debian"
mkdir -p "$out/debian"
work=$(cd "$out" && pwd)
stage=$work/debian/dmstack
cp packaging/debian/control "$work/debian/control"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
maintainer=$(sed -n 's/^Maintainer: //p' packaging/debian/control)
{
    echo "dmstack ($version) unstable; urgency=medium"
    echo
    echo "  * Built from the source tree at commit $commit."
    echo
    echo " -- $maintainer  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} > "$work/debian/changelog"

PREFIX=/usr UNITDIR=/lib/systemd/system ZSHCOMPDIR=/usr/share/zsh/vendor-completions MANGZIP=1 \
    DESTDIR="$stage" scripts/install.sh install "$binary"
doc=$stage/usr/share/doc/dmstack
install -m 0644 packaging/debian/copyright "$doc/copyright"
gzip -9n < "$work/debian/changelog" > "$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"
install -d "$stage/usr/share/lintian/overrides"
install -m 0644 packaging/debian/lintian-overrides "$stage/usr/share/lintian/overrides/dmstack"

install -d -m 0755 "$stage/DEBIAN"
install -m 0644 packaging/debian/conffiles "$stage/DEBIAN/conffiles"
for script in prerm postinst postrm; do install -m 0755 "packaging/debian/$script" "$stage/DEBIAN/$script"; done
(cd "$work" && dpkg-shlibdeps -Tdebian/dmstack.substvars debian/dmstack/usr/sbin/dmstack)
(cd "$work" && dpkg-gencontrol -pdmstack -Tdebian/dmstack.substvars -Pdebian/dmstack)
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) \
    > "$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/md5sums"

arch=$(dpkg --print-architecture)
deb=$out/dmstack_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "dmstack deb: $(dpkg-deb -f "$deb" Package Version Depends Recommends | tr '\n' ' ')" >&2
if [ "${LINTIAN:-1}" != 0 ]; then
    command -v lintian >/dev/null 2>&1 || {
        echo "dmstack deb: lintian is missing; run 'scripts/setup.sh package' as root (or LINTIAN=0)" >&2; exit 1; }
    # lintian advises against running as root; as nobody it reads the .deb all the same.
    as_user=()
    if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
        as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/tmp)
    fi
    "${as_user[@]}" lintian --fail-on error,warning --info "$deb" >&2
fi
echo "$deb"
