#!/usr/bin/env bash
# The scaling section of BENCHMARKS.md: reads the rows the bench scripts appended to
# $1/*.tsv (series, size label, size, seconds, peak KiB), prints a Markdown table and draws
# docs/bench/scaling.png with gnuplot: time and peak memory against size, log-log, one panel
# for volume size (striped legs) and one for the number of files (simulate, capture).
set -euo pipefail
data=$1
root=$(cd "$(dirname "$0")/.." && pwd)
shopt -s nullglob
files=("$data"/*.tsv)
if [ ${#files[@]} -eq 0 ]; then echo "## Scaling"; echo; echo "Not measured: no bench section wrote scaling rows."; exit 0; fi

echo "## Scaling"
echo
echo "Each row is one run of the section named, at one size (time wall-clock, peak RSS from GNU"
echo "\`time\`). The plot is docs/bench/scaling.png, drawn by scripts/bench-plot.sh from the same rows."
echo
echo "| series | size | seconds | peak MiB |"
echo "|---|---:|---:|---:|"
cat "${files[@]}" | sort -t$'\t' -k1,1 -k3,3n | awk -F'\t' '{ printf "| %s | %s | %.3f | %.1f |\n", $1, $2, $4, $5 / 1024 }'
echo
echo "![time and memory against size](docs/bench/scaling.png)"

command -v gnuplot >/dev/null || { echo; echo "(gnuplot missing: no plot drawn)"; exit 0; }
mkdir -p "$root/docs/bench"
plot() { # panel title, x label, x axis settings, then series files
    local title=$1 xlabel=$2 xaxis=$3; shift 3
    local lines=() f s
    for f in "$@"; do
        [ -s "$f" ] || continue
        while read -r s; do
            grep -P "^$s\t" "$f" | sort -t$'\t' -k3,3n > "$data/.plot-$s"
            lines+=("'$data/.plot-$s' using 3:4 with linespoints title '$s seconds' axes x1y1")
            lines+=("'$data/.plot-$s' using 3:(\$5/1024) with linespoints dashtype 2 title '$s peak MiB' axes x1y2")
        done < <(cut -f1 "$f" | sort -u)
    done
    [ ${#lines[@]} -gt 0 ] || { echo "set title '$title (not measured)'; unset key; plot [1:10] 1 notitle"; return; }
    local IFS=,
    echo "set title '$title'; set xlabel '$xlabel'; set ylabel 'seconds'; set y2label 'peak MiB';"
    echo "$xaxis; set logscale y 10; set logscale y2 10; set ytics nomirror; set y2tics; set key left top;"
    echo "plot ${lines[*]}"
}
{
    echo "set terminal pngcairo size 1400,560 font ',10' noenhanced"
    echo "set output '$root/docs/bench/scaling.png'"
    echo "set datafile separator '\t'"
    echo "set multiplot layout 1,2"
    plot "one striped leg, by volume size" "volume size" "set logscale x 1024; set mxtics 1; set format x '%.0b %BB'" "$data/legs.tsv"
    plot "whole-filesystem impact and capture, by files" "files" "set logscale x 10; set format x '%.0s%c'" "$data/files.tsv" "$data/capture.tsv"
    echo "unset multiplot"
} > "$data/plot.gp"
gnuplot "$data/plot.gp" 2>&1 | grep -v '^$' >&2 || true
