#!/usr/bin/env bash
# Regenerates man/dmstack.8 and completions/ from the CLI. Both are committed; DocsTests fails
# when either is stale.
#
# The man page is swift-argument-parser's generate-manual output with the hand-written sections
# of man/sections.mdoc (ENVIRONMENT, FILES, EXIT STATUS, EXAMPLES, SEE ALSO) in place of its
# generic EXIT STATUS, the list of exit statuses generated from Sources/dmstack/ExitStatus.swift
# (its single source), and a first comment line holding the SHA-256 of what it was made from
# (`dmstack --experimental-dump-help`, man/sections.mdoc and ExitStatus.swift), which the test
# recomputes.
set -euo pipefail
bin=${1:-.build/debug/dmstack}
swift package generate-manual --section 8 --date 2026-11-22 --authors "the dmstack developers" >/dev/null
generated=.build/plugins/GenerateManual/outputs/dmstack/dmstack.8
digest=$({ "$bin" --experimental-dump-help; cat man/sections.mdoc Sources/dmstack/ExitStatus.swift; } | sha256sum | cut -d' ' -f1)
# EXIT STATUS from its one source: each case of `enum ExitStatus` with its doc comment.
statuses=$(mktemp)
trap 'rm -f "$statuses"' EXIT
awk '
    /^enum ExitStatus/ { inside = 1; print ".Bl -tag -width 4n"; next }
    inside && /^}/ { inside = 0; print ".El"; next }
    inside && /^ *\/\/\/ ?/ { line = $0; sub(/^ *\/\/\/ ?/, "", line); text = text (text == "" ? "" : "\n") line; next }
    inside && /^ *case [A-Za-z]+ = [0-9]+/ { n = $0; sub(/.*= */, "", n); print ".It " n; print text; text = ""; next }
    inside { text = "" }
' Sources/dmstack/ExitStatus.swift > "$statuses"
{
    echo ".\\\" dmstack-sources-sha256: $digest (regenerate with \`make docs\`)"
    awk -v sections=man/sections.mdoc -v statuses="$statuses" '
        /^\.Sh "EXIT STATUS"$/ { skip = 1; next }
        skip && /^\.Ex -std$/ { skip = 0; next }
        /^\.Sh AUTHORS$/ {
            while ((getline line < sections) > 0) {
                print line
                if (line ~ /^\.\\" The list below is generated from/) { while ((getline s < statuses) > 0) print s }
            }
        }
        /^$/ { print ".Pp"; next }    # a blank line in a discussion: a paragraph (mdoc warns)
        { print }
    ' "$generated"
} > man/dmstack.8
"$bin" --generate-completion-script bash > completions/dmstack.bash
"$bin" --generate-completion-script zsh > completions/_dmstack
"$bin" --generate-completion-script fish > completions/dmstack.fish
echo "regenerated man/dmstack.8 and completions/"
