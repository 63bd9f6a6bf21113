#!/usr/bin/env bash
# Builds the three libFuzzer targets with Clang (ASan + UBSan) and fuzzes each for a bounded
# time, starting from the seed corpus in tests/fuzz/corpus/<target>/ (new inputs go to the build
# directory, never into the repository). Any crash, sanitizer report, violated invariant, leak,
# timeout (-timeout) or memory blow-up (-rss_limit_mb) fails the run; the input is kept in
# BUILD_DIR/artifacts/<target>/.
#
# Usage: tests/fuzz/run.sh [BUILD_DIR]      (default: build-fuzz in the repository)
# Environment: FUZZ_SECONDS (60 per target), FUZZ_JOBS (targets fuzzed at once, default 2),
#   FUZZ_MAX_LEN (4096), FUZZ_RSS_MB (2048).
# Prints "N passed, N failed" last; exits non-zero on any failure.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build-fuzz}
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-2}
max_len=${FUZZ_MAX_LEN:-4096}
rss_mb=${FUZZ_RSS_MB:-2048}
targets=(fuzz_line_framing fuzz_length_prefixed_framing fuzz_session)

# --- What a fresh Debian machine lacks. ---------------------------------------------------
missing=()
for p in cmake ninja-build clang libclang-rt-14-dev libasio-dev; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "fuzz: installing ${missing[*]}"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends "${missing[@]}" >/dev/null ||
            echo "fuzz: warning: could not install ${missing[*]}"
    else
        echo "fuzz: warning: missing packages ${missing[*]} (not root: not installing)"
    fi
fi

started=$SECONDS
mkdir -p "$build"
echo "==================== build (clang++, libFuzzer + ASan + UBSan) ===================="
if ! cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++ -DHBT_FUZZ_LIBFUZZER=ON >"$build/configure.log" 2>&1 ||
    ! cmake --build "$build" >"$build/build.log" 2>&1; then
    cat "$build/configure.log"
    grep -E 'error|Error' "$build/build.log" 2>/dev/null | head -40
    echo "0 passed, ${#targets[@]} failed"
    exit 1
fi
echo "built in $((SECONDS - started)) s"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

fuzz_one() {
    local t=$1
    local corpus=$build/corpus/$t artifacts=$build/artifacts/$t/
    mkdir -p "$corpus" "$artifacts"
    timeout --kill-after=30 $((seconds + 120)) "$build/$t" \
        -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb="$rss_mb" -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$artifacts" \
        "$corpus" "$here/corpus/$t" >"$build/$t.log" 2>&1
    echo $? >"$build/$t.rc"
}

echo "==================== fuzzing ${#targets[@]} targets, ${seconds}s each, $jobs at a time ===================="
running=0
for t in "${targets[@]}"; do
    fuzz_one "$t" &
    running=$((running + 1))
    if ((running >= jobs)); then
        wait -n
        running=$((running - 1))
    fi
done
wait

passed=0
failed=0
for t in "${targets[@]}"; do
    rc=$(cat "$build/$t.rc" 2>/dev/null || echo 1)
    execs=$(grep -a -m1 'stat::number_of_executed_units' "$build/$t.log" | awk '{print $2}')
    cov=$(grep -aE '^#[0-9]+[[:space:]]+DONE' "$build/$t.log" | grep -oE 'cov: [0-9]+' | tail -1)
    corpus=$(find "$build/corpus/$t" -type f | wc -l)
    if [[ $rc == 0 ]]; then
        passed=$((passed + 1))
        echo "$t: passed: ${execs:-?} inputs, $cov, ${corpus} inputs in its corpus"
    else
        failed=$((failed + 1))
        echo "$t: FAILED (exit $rc); log: $build/$t.log"
        grep -aE 'invariant violated|ERROR: |SUMMARY: |runtime error|Test unit written' \
            "$build/$t.log" | head -20
    fi
done
echo "==================== fuzz: $((SECONDS - started)) s ===================="
echo "$passed passed, $failed failed"
((failed == 0))
