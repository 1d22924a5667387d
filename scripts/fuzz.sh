#!/usr/bin/env bash
# libFuzzer harnesses for every input dmstack reads (Tests/Fuzz/Harnesses/<target>.swift).
#   scripts/fuzz.sh build [TARGET...]   build .build-fuzz/bin/fuzz-<target>
#   scripts/fuzz.sh run [TARGET...]     build, then run each FUZZ_SECONDS (default 60) from its
#                                       seed corpus Tests/Fuzz/<target>/; prints executions and
#                                       coverage (libFuzzer's cov: and ft:) per target
#   scripts/fuzz.sh list                the targets
# SwiftPM cannot pass -sanitize=fuzzer to some targets only, so the modules are compiled here
# with swiftc directly (instrumented with libFuzzer's coverage and AddressSanitizer), out of
# the ordinary build: `swift build` never sees these harnesses. A crash is kept under
# .build-fuzz/crashes/<target>/ and makes `run` exit 1; replay it with
# `.build-fuzz/bin/fuzz-<target> FILE`, then add it to the host suite as a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/.build-fuzz
SWIFTC=${SWIFTC:-swiftc}
CLANG=${CLANG:-clang}
seconds=${FUZZ_SECONDS:-60}
san=fuzzer,address

# Targets that need only StackModel, and those that need StackSystem (libyaml) too.
model_targets=(table range snapshot thin-dump cache-dump cow-store writecache integrity)
system_targets=(spec config)
all_targets=("${model_targets[@]}" "${system_targets[@]}")

# Largest input per target: text targets small, binary ones a few metadata blocks.
max_len() {
    case "$1" in
        snapshot) echo 65536 ;;
        thin-dump|cache-dump) echo 16384 ;;
        cow-store|writecache|integrity) echo 20000 ;;
        *) echo 4096 ;;
    esac
}

newer() { # newer OUTPUT INPUT... : OUTPUT is missing or older than one of the inputs
    local o=$1; shift
    [ -e "$o" ] || return 0
    [ -n "$(find "$@" -newer "$o" -print -quit)" ]
}

build_model() {
    mkdir -p "$out/obj"
    if newer "$out/obj/StackModel.o" Sources/StackModel; then
        echo "fuzz: compiling StackModel (instrumented)" >&2
        (cd "$out/obj" && "$SWIFTC" -sanitize=$san -parse-as-library -O -wmo -module-name StackModel \
            -emit-module -emit-module-path "$out/obj/StackModel.swiftmodule" \
            -c $(find "$root/Sources/StackModel" -name '*.swift' | sort) -o StackModel.o)
    fi
}

system_includes() {
    echo -I "$out/obj" -I Sources/CYAML -I Sources/CDeviceMapper -I Sources/CBlkid -I Sources/CSQLite \
        -I "$out/modules/CLinux" -Xcc -I -Xcc Sources/CLinux/include
    local f
    for f in $(pkg-config --cflags-only-I blkid devmapper yaml-0.1 sqlite3); do echo -Xcc "$f"; done
}

build_system() {
    build_model
    mkdir -p "$out/modules/CLinux"
    printf 'module CLinux {\n    header "%s/Sources/CLinux/include/CLinux.h"\n    link "devmapper"\n    export *\n}\n' "$root" \
        > "$out/modules/CLinux/module.modulemap"
    if newer "$out/obj/CLinux.o" Sources/CLinux; then
        "$CLANG" -O1 -fsanitize=fuzzer-no-link,address -I Sources/CLinux/include -c Sources/CLinux/CLinux.c -o "$out/obj/CLinux.o"
    fi
    if newer "$out/obj/StackSystem.o" Sources/StackSystem "$out/obj/StackModel.o"; then
        echo "fuzz: compiling StackSystem (instrumented)" >&2
        (cd "$out/obj" && "$SWIFTC" -sanitize=$san -parse-as-library -O -wmo -module-name StackSystem \
            -emit-module -emit-module-path "$out/obj/StackSystem.swiftmodule" $(cd "$root" && system_includes | sed "s| Sources/| $root/Sources/|g") \
            -c $(find "$root/Sources/StackSystem" -name '*.swift' | sort) -o StackSystem.o)
    fi
}

build_target() {
    local t=$1 harness=Tests/Fuzz/Harnesses/$1.swift
    [ -f "$harness" ] || { echo "fuzz: no harness $harness" >&2; exit 2; }
    mkdir -p "$out/bin"
    local objs=("$out/obj/StackModel.o") extra=()
    if [[ " ${system_targets[*]} " == *" $t "* ]]; then
        build_system
        objs+=("$out/obj/StackSystem.o" "$out/obj/CLinux.o")
        read -r -a extra <<< "$(system_includes) -lyaml -lsqlite3 -ldevmapper -lblkid"
    else
        build_model
        extra=(-I "$out/obj")
    fi
    if newer "$out/bin/fuzz-$t" "$harness" "${objs[@]}"; then
        echo "fuzz: linking fuzz-$t" >&2
        "$SWIFTC" -sanitize=$san -parse-as-library -O -module-name Fuzz"${t//-/}" "${extra[@]}" \
            "$harness" Tests/Fuzz/Harnesses/Support/*.swift "${objs[@]}" -o "$out/bin/fuzz-$t" 2>&1 |
            { grep -v "Cannot export local symbol '__asan" || true; } >&2
        [ -x "$out/bin/fuzz-$t" ] && [ "$out/bin/fuzz-$t" -nt "$harness" ] || { echo "fuzz: linking fuzz-$t failed" >&2; exit 1; }
    fi
}

run_target() {
    local t=$1
    local corpus=$out/corpus/$t crashes=$out/crashes/$t log=$out/logs/$t.log
    mkdir -p "$corpus" "$crashes" "$out/logs"
    local seeds=()
    [ -d "Tests/Fuzz/$t" ] && seeds=("Tests/Fuzz/$t")
    set +e
    "$out/bin/fuzz-$t" -max_total_time="$seconds" -max_len="$(max_len "$t")" -rss_limit_mb=2048 -timeout=20 \
        -print_final_stats=1 -artifact_prefix="$crashes/" "$corpus" "${seeds[@]}" > "$log" 2>&1
    local rc=$?
    set -e
    local last execs
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    printf '%-12s execs %-10s %s\n' "$t" "${execs:-?}" "$(grep -oE 'cov: [0-9]+ ft: [0-9]+' <<< "$last" || echo "cov: ? ft: ?")"
    if [ $rc -ne 0 ]; then
        echo "fuzz: $t failed (exit $rc); see $log and $crashes/" >&2
        grep -m 3 -E 'ERROR|Fatal error|SUMMARY' "$log" >&2 || true
        return 1
    fi
}

cmd=${1:-run}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
case "$cmd" in
    list) printf '%s\n' "${all_targets[@]}" ;;
    build) for t in "${targets[@]}"; do build_target "$t"; done ;;
    run)
        for t in "${targets[@]}"; do build_target "$t"; done
        failed=0
        for t in "${targets[@]}"; do run_target "$t" || failed=1; done
        exit $failed ;;
    *) echo "usage: scripts/fuzz.sh build|run|list [TARGET...]" >&2; exit 2 ;;
esac
