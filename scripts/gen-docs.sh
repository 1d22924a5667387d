#!/usr/bin/env bash
# Regenerates man/dmstack.8 (swift-argument-parser's generate-manual) and completions/ from
# the CLI. Both are committed; CLITests fails when either is stale.
set -euo pipefail
bin=${1:-.build/debug/dmstack}
swift package generate-manual --section 8 --date 2026-11-22 --authors "the dmstack developers" >/dev/null
cp .build/plugins/GenerateManual/outputs/dmstack/dmstack.8 man/dmstack.8
"$bin" --generate-completion-script bash > completions/dmstack.bash
"$bin" --generate-completion-script zsh > completions/_dmstack
"$bin" --generate-completion-script fish > completions/dmstack.fish
echo "regenerated man/dmstack.8 and completions/"
