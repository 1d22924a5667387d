#!/usr/bin/env bash
# `make install` / `make uninstall` (and the staging tree of `make deb`): one list of what
# dmstack installs, used both ways, so uninstall removes exactly what install put there.
#   scripts/install.sh install BINARY    copy BINARY (stripped) and the rest under $DESTDIR
#   scripts/install.sh uninstall         remove them again; the configuration stays
# Directories (environment; the Makefile passes its variables):
#   PREFIX (/usr/local), BINDIR ($PREFIX/sbin: an administrator's command, section 8),
#   MANDIR ($PREFIX/share/man), BASHCOMPDIR, ZSHCOMPDIR, FISHCOMPDIR (the directories each
#   shell searches below $PREFIX), UNITDIR ($PREFIX/lib/systemd/system: in systemd's search
#   path for /usr/local and /usr alike), SYSCONFDIR (/etc: dmstack reads /etc/dmstack/config.yaml
#   whatever the prefix), DOCDIR ($PREFIX/share/doc/dmstack), DESTDIR (empty), MANGZIP (0; 1
#   gzips the man page, as Debian wants).
# The unit's ExecStart names $BINDIR. The configuration is installed only where none exists.
set -euo pipefail
# Directories install -d makes are 0755 whatever the caller's umask (root's may be 077).
umask 022
cd "$(dirname "$0")/.."

action=${1:?usage: scripts/install.sh install BINARY | uninstall}
PREFIX=${PREFIX:-/usr/local}
BINDIR=${BINDIR:-$PREFIX/sbin}
MANDIR=${MANDIR:-$PREFIX/share/man}
BASHCOMPDIR=${BASHCOMPDIR:-$PREFIX/share/bash-completion/completions}
ZSHCOMPDIR=${ZSHCOMPDIR:-$PREFIX/share/zsh/site-functions}
FISHCOMPDIR=${FISHCOMPDIR:-$PREFIX/share/fish/vendor_completions.d}
UNITDIR=${UNITDIR:-$PREFIX/lib/systemd/system}
SYSCONFDIR=${SYSCONFDIR:-/etc}
DOCDIR=${DOCDIR:-$PREFIX/share/doc/dmstack}
DESTDIR=${DESTDIR:-}
MANGZIP=${MANGZIP:-0}
STRIP=${STRIP:-strip}

man=$MANDIR/man8/dmstack.8
[ "$MANGZIP" = 1 ] && man=$man.gz
config=$SYSCONFDIR/dmstack/config.yaml
# Everything but the configuration: what uninstall removes.
files=("$BINDIR/dmstack" "$man" "$BASHCOMPDIR/dmstack" "$ZSHCOMPDIR/_dmstack" "$FISHCOMPDIR/dmstack.fish"
       "$UNITDIR/dmstack-monitor.service" "$DOCDIR/config.yaml.example")

# The installed configuration: contrib/config.yaml with every sink but the journal commented
# out. The example's exec hook and Alertmanager URL are placeholders that would fail every
# delivery; the journal is also what dmstack uses with no configuration at all.
installed_config() {
    echo "# Installed by dmstack: only the journal sink is active. The other sinks below are the"
    echo "# examples of $DOCDIR/config.yaml.example, commented out: uncomment and adapt them."
    awk '
        /^[a-z]/ { in_sinks = ($0 ~ /^sinks:/) }
        in_sinks && /^  - type:/ { keep = ($0 ~ /type: journal$/) }
        in_sinks && /^  [^#]/ && !keep { print "#" $0; next }
        { print }
    ' contrib/config.yaml
}

case "$action" in
install)
    binary=${2:?scripts/install.sh install: name the binary to install (make static builds it)}
    [ -x "$binary" ] || { echo "dmstack install: $binary is not an executable; run 'make static' first" >&2; exit 1; }
    install -d "$DESTDIR$BINDIR" "$DESTDIR$MANDIR/man8" "$DESTDIR$BASHCOMPDIR" "$DESTDIR$ZSHCOMPDIR" \
        "$DESTDIR$FISHCOMPDIR" "$DESTDIR$UNITDIR" "$DESTDIR$DOCDIR" "$DESTDIR$SYSCONFDIR/dmstack"
    install -m 0755 "$binary" "$DESTDIR$BINDIR/dmstack"
    # Debug info, symbols and the compilers' .comment out (39 MB to 19 MB); the Swift metadata
    # sections stay.
    "$STRIP" --strip-unneeded --remove-section=.comment "$DESTDIR$BINDIR/dmstack"
    # The Swift runtime is linked in, so the toolchain's $ORIGIN search path points nowhere.
    if command -v chrpath >/dev/null 2>&1; then chrpath -d "$DESTDIR$BINDIR/dmstack" >/dev/null; fi
    if [ "$MANGZIP" = 1 ]; then
        gzip -9n < man/dmstack.8 > "$DESTDIR$man"; chmod 0644 "$DESTDIR$man"
    else
        install -m 0644 man/dmstack.8 "$DESTDIR$man"
    fi
    # bash-completion sources the script: the generator's #!/bin/bash line means nothing there.
    sed -e '1{/^#!/d}' completions/dmstack.bash > "$DESTDIR$BASHCOMPDIR/dmstack"
    chmod 0644 "$DESTDIR$BASHCOMPDIR/dmstack"
    install -m 0644 completions/_dmstack "$DESTDIR$ZSHCOMPDIR/_dmstack"
    install -m 0644 completions/dmstack.fish "$DESTDIR$FISHCOMPDIR/dmstack.fish"
    sed -e "s|^ExecStart=/usr/local/sbin/dmstack|ExecStart=$BINDIR/dmstack|" contrib/dmstack-monitor.service \
        > "$DESTDIR$UNITDIR/dmstack-monitor.service"
    chmod 0644 "$DESTDIR$UNITDIR/dmstack-monitor.service"
    install -m 0644 contrib/config.yaml "$DESTDIR$DOCDIR/config.yaml.example"
    if [ -e "$DESTDIR$config" ]; then
        echo "dmstack install: kept the existing $DESTDIR$config (the example is $DESTDIR$DOCDIR/config.yaml.example)" >&2
    else
        installed_config > "$DESTDIR$config"; chmod 0644 "$DESTDIR$config"
    fi
    ;;
uninstall)
    for f in "${files[@]}"; do rm -f "$DESTDIR$f"; done
    # The man page whether or not it was installed gzipped (MANGZIP need not be given again).
    rm -f "$DESTDIR${man%.gz}" "$DESTDIR${man%.gz}.gz"
    rmdir "$DESTDIR$DOCDIR" 2>/dev/null || true
    if [ -e "$DESTDIR$config" ]; then
        echo "dmstack uninstall: kept $DESTDIR$config (remove it by hand if no longer wanted)" >&2
    fi
    ;;
*)
    echo "usage: scripts/install.sh install BINARY | uninstall" >&2; exit 64 ;;
esac
