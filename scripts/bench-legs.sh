#!/usr/bin/env bash
# Part of `make bench` (host, no dm needed): one whole leg of a striped volume (2 legs, 64 KiB
# chunks) of 1 GiB, 100 GiB, 1 TiB and 100 TiB. `simulate --snapshot SNAP LEG --event remove`
# (the snapshot written here: two leaf devices and the striped dm device, in the format of
# `dmstack capture`) and `translate --down --table` of the whole volume. Time and peak RSS
# from /usr/bin/time (`%e %M`). With BASELINE=/path/to/an/older/dmstack, the same commands
# with it as well, at the sizes it survives within LIMIT_S seconds and 4 GiB (the ratio is
# the figure). Prints a Markdown section; with $BENCH_DATA set, appends
# `legs<TAB>SIZE_LABEL<TAB>SIZE_BYTES<TAB>SECONDS<TAB>PEAK_KIB` rows (the simulate run of
# each size) to $BENCH_DATA/legs.tsv.
# Usage: bench-legs.sh DMSTACK_BIN
set -euo pipefail
bin=$1
baseline=${BASELINE:-}
limit=${LIMIT_S:-120}
work=$(mktemp -d /var/tmp/dmstack-bench-legs-XXXXXX)
trap 'rm -rf "$work"' EXIT
sizes=("1GiB:1073741824" "100GiB:107374182400" "1TiB:1099511627776" "100TiB:109951162777600")

# A snapshot with the striped volume `vol` over sda and sdb, and its table as a file.
snapshot() { # BYTES FILE
    python3 - "$1" "$2" <<'PY'
import json, sys
size, out = int(sys.argv[1]), sys.argv[2]
sectors = size // 512
leg = sectors // 2
def leaf(name, minor):
    return {"badblocks": [], "holders": ["dm-0"], "kernel_name": name, "logical_block_size": 512, "major": 8,
            "minor": minor, "read_only": False, "removable": False, "size": leg, "slaves": []}
table = f"0 {sectors} striped 2 128 8:0 0 8:16 0"
doc = {"format": "dmstack-snapshot", "version": 2,
       "host": {"captured_at": "2026-12-01T00:00:00Z", "dm_driver_version": "4.47.0", "dmstack_version": "bench",
                "hostname": "bench", "kernel": "6.1.0", "libdevmapper_version": "1.02.185"},
       "devices": [leaf("sda", 0), leaf("sdb", 16),
                   {"badblocks": [], "holders": [], "kernel_name": "dm-0", "logical_block_size": 512, "major": 254, "minor": 0,
                    "read_only": False, "removable": False, "size": sectors, "slaves": ["sda", "sdb"],
                    "dm": {"deps": ["8:0", "8:16"], "name": "vol", "open_count": 0, "status": [f"0 {sectors} striped 2 AA"],
                           "suspended": False, "table": [table], "uuid": ""}}],
       "mounts": [], "pmem": {"namespaces": [], "regions": []}, "reverse_maps": [], "file_uses": []}
json.dump(doc, open(out, "w"))
PY
}

# measure BIN ARGS...: "SECONDS PEAK_KIB" or "failed" (exit status, limit or memory).
measure() {
    local b=$1; shift
    if /usr/bin/time -f '%e %M' -o "$work/time" timeout "$limit" prlimit --as=4294967296 "$b" "$@" > "$work/out" 2> "$work/err"; then
        cat "$work/time"
    else
        echo "failed"
    fi
}

fmt() { # "S K" → "S s, M MiB"
    if [ "$1" = "failed" ]; then echo "failed"; else awk '{ printf "%.2f s, %.1f MiB", $1, $2 / 1024 }' <<< "$1"; fi
}

ratio() { # new old → "N×" or "-"
    if [ "$1" = "failed" ] || [ "$2" = "failed" ] || [ -z "$2" ]; then echo "–"; else
        awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); t = y[1] / (x[1] > 0.01 ? x[1] : 0.01); m = y[2] / x[2]; printf "time ÷ %.1f, memory ÷ %.1f", t, m }'
    fi
}

rows=""
for entry in "${sizes[@]}"; do
    label=${entry%%:*} bytes=${entry#*:}
    sectors=$((bytes / 512))
    snapshot "$bytes" "$work/snap.json"
    printf 'vol: 0 %s striped 2 128 /dev/sda 0 /dev/sdb 0\n' "$sectors" > "$work/vol.table"
    sim=$(measure "$bin" simulate --snapshot "$work/snap.json" sda --event remove --json)
    grep -q '"degraded_devices"\|"layers"' "$work/out" 2>/dev/null || sim=failed
    down=$(measure "$bin" translate --down --table "$work/vol.table" vol "0+$sectors")
    old_sim="" old_down=""
    if [ -n "$baseline" ]; then
        old_sim=$(measure "$baseline" simulate --snapshot "$work/snap.json" sda --event remove --json)
        old_down=$(measure "$baseline" translate --down --table "$work/vol.table" vol "0+$sectors")
    fi
    if [ -n "${BENCH_DATA:-}" ] && [ "$sim" != "failed" ]; then
        mkdir -p "$BENCH_DATA"
        printf 'legs\t%s\t%s\t%s\t%s\n' "$label" "$bytes" ${sim} >> "$BENCH_DATA/legs.tsv"
    fi
    rows+="| $label | $(fmt "$sim") | $(fmt "$down") |"
    if [ -n "$baseline" ]; then rows+=" $(fmt "$old_sim") | $(fmt "$old_down") | $(ratio "$sim" "$old_sim") | $(ratio "$down" "$old_down") |"; fi
    rows+=$'\n'
done

echo "## One whole leg of a striped volume"
echo
echo "A striped volume of 2 legs with 64 KiB chunks, from a snapshot and from a table file:"
echo "\`simulate --snapshot SNAP sda --event remove --json\` (one whole leg gone) and"
echo "\`translate --down --table vol.table vol 0+SIZE\` (the whole volume). One run each; wall"
echo "time and peak RSS from \`/usr/bin/time -f '%e %M'\`; a run past ${limit} s or 4 GiB of"
echo "address space counts as failed. A leg is one run of chunks (\`START+LENGTH/STRIDE×COUNT\`),"
echo "so the work does not grow with the size."
echo
if [ -n "$baseline" ]; then
    echo "| volume | simulate | translate --down | simulate, baseline | translate --down, baseline | simulate vs baseline | translate vs baseline |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
else
    echo "| volume | simulate | translate --down |"
    echo "|---|---:|---:|"
fi
printf '%s' "$rows"
echo
echo "Aim (issue 17): at 100 TiB, ≤ 1 s and ≤ 64 MiB peak RSS for both."
