#!/bin/sh
# Builds the libFuzzer targets (tests/fuzz) with clang into build/fuzz, replays the
# regression inputs, then fuzzes each target for SECONDS (default 30) from a copy of its seed
# corpus, so that tests/fuzz/corpus/ only changes when someone merges new inputs on purpose.
# Exits non-zero when any target crashes, breaks an invariant, leaks, hangs or runs out of
# memory; the input is then in build/fuzz/artifacts/TARGET/ (see docs/fuzzing.md).
#
#   tools/scripts/fuzz.sh            # 30 s per target
#   tools/scripts/fuzz.sh 20         # CI's short run
#   tools/scripts/fuzz.sh 3600 csv   # one hour on one target
set -eu
cd "$(dirname "$0")/../.."

SECONDS_PER_TARGET=${1:-30}
shift 2>/dev/null || true
TARGETS=${*:-resp csv ini card}
BUILD=build/fuzz
JOBS=$(nproc 2>/dev/null || echo 2)

case $SECONDS_PER_TARGET in
'' | *[!0-9]*)
    echo "usage: $0 [SECONDS] [TARGET...]   (targets: resp csv ini card)" >&2
    exit 2
    ;;
esac

tools/scripts/deps.sh
CC=$(command -v clang-14 || command -v clang || true)
if [ -z "$CC" ]; then
    echo "fuzz: clang not found (tools/scripts/deps.sh installs clang-14)" >&2
    exit 1
fi

cmake -S . -B $BUILD -DCMAKE_C_COMPILER="$CC" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" -DYKT_FUZZ=ON -DYKT_TESTS=OFF >/dev/null
set --
for t in $TARGETS; do
    set -- "$@" "fuzz_$t"
done
cmake --build $BUILD -j "$JOBS" --target "$@"

# Sanitizer reports and leaks are findings.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=""
for t in $TARGETS; do
    bin=$BUILD/tests/fuzz/fuzz_$t
    artifacts=$BUILD/artifacts/$t
    work=$BUILD/work/$t
    mkdir -p "$artifacts"
    rm -rf "$work"
    mkdir -p "$work"
    cp "tests/fuzz/corpus/$t"/* "$work"/ 2>/dev/null || true
    dict=""
    [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"

    # Every input that once crashed must keep passing.
    if ls "tests/fuzz/regressions/$t"/* >/dev/null 2>&1; then
        echo "== fuzz_$t: replaying tests/fuzz/regressions/$t"
        if ! "$bin" "tests/fuzz/regressions/$t"/* >"$BUILD/replay-$t.log" 2>&1; then
            cat "$BUILD/replay-$t.log" >&2
            failed="$failed $t(regression)"
            continue
        fi
    fi

    echo "== fuzz_$t: ${SECONDS_PER_TARGET}s from $(find "$work" -type f | wc -l) seeds"
    # shellcheck disable=SC2086
    if ! "$bin" $dict -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
        -max_len=4096 -print_final_stats=1 -artifact_prefix="$artifacts/" "$work" \
        >"$BUILD/fuzz-$t.log" 2>&1; then
        tail -n 60 "$BUILD/fuzz-$t.log" >&2
        failed="$failed $t"
        continue
    fi
    grep -E '^#[0-9]+.*DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb' \
        "$BUILD/fuzz-$t.log" || true
done

if [ -n "$failed" ]; then
    echo "fuzz: FAILED:$failed (inputs in $BUILD/artifacts/; see docs/fuzzing.md)" >&2
    exit 1
fi
echo "fuzz: ok ($TARGETS, ${SECONDS_PER_TARGET}s each)"
