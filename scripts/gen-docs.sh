#!/usr/bin/env bash
# Regenerates man/dmstack.8 and completions/ from the CLI. Both are committed; DocsTests fails
# when either is stale.
#
# The man page is swift-argument-parser's generate-manual output with the hand-written sections
# of man/sections.mdoc (ENVIRONMENT, FILES, EXIT STATUS, EXAMPLES, SEE ALSO) in place of its
# generic EXIT STATUS, and a first comment line holding the SHA-256 of what it was made from
# (`dmstack --experimental-dump-help` and man/sections.mdoc), which the test recomputes.
set -euo pipefail
bin=${1:-.build/debug/dmstack}
swift package generate-manual --section 8 --date 2026-11-22 --authors "the dmstack developers" >/dev/null
generated=.build/plugins/GenerateManual/outputs/dmstack/dmstack.8
digest=$({ "$bin" --experimental-dump-help; cat man/sections.mdoc; } | sha256sum | cut -d' ' -f1)
{
    echo ".\\\" dmstack-sources-sha256: $digest (regenerate with \`make docs\`)"
    awk -v sections=man/sections.mdoc '
        /^\.Sh "EXIT STATUS"$/ { skip = 1; next }
        skip && /^\.Ex -std$/ { skip = 0; next }
        /^\.Sh AUTHORS$/ { while ((getline line < sections) > 0) print line }
        /^$/ { print ".Pp"; next }    # a blank line in a discussion: a paragraph (mdoc warns)
        { print }
    ' "$generated"
} > man/dmstack.8
"$bin" --generate-completion-script bash > completions/dmstack.bash
"$bin" --generate-completion-script zsh > completions/_dmstack
"$bin" --generate-completion-script fish > completions/dmstack.fish
echo "regenerated man/dmstack.8 and completions/"
