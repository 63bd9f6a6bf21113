#!/usr/bin/env bash
# Builds and runs the fault suite, bounded in time (about 4 minutes on two cores):
#   faults [process]   a real peer process frozen, killed, deaf, slow, half-closed, reset;
#                      our own loop stalled; a reconnecting client's server killed,
#                      restarted on its port, frozen
#   faults [netns]     the peer's host vanishes (a network namespace, 198.18.0.0/30): skipped
#                      with a message where namespaces cannot be made
#   faults [hostile]   PING floods, hostile length prefixes, garbage
#   lifetime           destroy / cancel at every stage, AddressSanitizer + UBSan
#   concurrency        4 threads, strands, 50 pairs, close/send/cancel from other threads, TSan
#   soak               5000 sessions with churn, server and client processes (SOAK_SECONDS)
#
# Usage: tests/faults/run.sh [BUILD_DIR]      (default: build-faults in the repository)
# Environment: CXX (default clang++ when present: its ThreadSanitizer handles fences),
#   SOAK_SECONDS (60), SOAK_SESSIONS (5000), HBT_FAULT_RUNS (3 runs per timed scenario).
# Prints "N passed, N failed, N skipped" last; exits non-zero on any failure.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build-faults}
results=$build/results.txt

# --- What a fresh Debian machine lacks. ---------------------------------------------------
need_packages=(cmake ninja-build g++ libasio-dev catch2 iproute2 iptables util-linux)
if command -v clang++ >/dev/null || [[ -z ${CXX:-} ]]; then
    need_packages+=(clang libclang-rt-14-dev)
fi
missing=()
for p in "${need_packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "faults: installing ${missing[*]}"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends "${missing[@]}" >/dev/null ||
            echo "faults: warning: could not install ${missing[*]}"
    else
        echo "faults: warning: missing packages ${missing[*]} (not root: not installing)"
    fi
fi
if [[ -z ${CXX:-} ]]; then
    if command -v clang++ >/dev/null; then export CXX=clang++; else export CXX=g++; fi
fi

# --- Namespaces and veths that a crashed earlier run left (their process is gone). ---------
clean_leftovers() {
    [[ $(id -u) -eq 0 ]] && command -v ip >/dev/null || return 0
    local ns pid
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^hbt-[0-9]+$'); do
        pid=${ns#hbt-}
        if ! kill -0 "$pid" 2>/dev/null; then
            ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
            ip netns delete "$ns" 2>/dev/null
        fi
    done
    for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 |
        grep -E '^hbt[0-9]+[ab]$'); do
        pid=${link#hbt}
        pid=${pid%[ab]}
        kill -0 "$pid" 2>/dev/null || ip link delete "$link" 2>/dev/null
    done
    return 0
}
clean_leftovers
trap clean_leftovers EXIT

passed=0
failed=0
skipped=0
failures=()
started=$SECONDS

# step NAME TIMEOUT_S COMMAND...: runs one step, its output to the log and to the screen.
step() {
    local name=$1 limit=$2
    shift 2
    local log=$build/$name.log
    echo
    echo "==================== $name ===================="
    local t0=$SECONDS rc=0
    timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1 || rc=$?
    # Catch2's and our programs' last lines, and every measurement line.
    grep -E '^(HBT_|lifetime:|concurrency:|client:|server:|soak:)|test cases|FAILED|ERROR|WARNING: ThreadSanitizer|ERROR: AddressSanitizer|runtime error' "$log" |
        grep -v '^HBT_TIMING\|^HBT_MEMORY' | tail -40
    grep -E '^HBT_(TIMING|MEMORY)' "$log" | tee -a "$results"
    if ((rc == 124 || rc == 137)); then
        echo "$name: TIMED OUT after ${limit}s"
    fi
    if ((rc == 0)) && grep -q '^HBT_SKIP:' "$log"; then
        skipped=$((skipped + 1))
        echo "$name: SKIPPED ($(grep -m1 '^HBT_SKIP:' "$log" | cut -d' ' -f2-)) in $((SECONDS - t0)) s"
    elif ((rc == 0)); then
        passed=$((passed + 1))
        echo "$name: passed in $((SECONDS - t0)) s"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "$name: FAILED (exit $rc) in $((SECONDS - t0)) s; full log: $log"
        tail -60 "$log"
    fi
}

mkdir -p "$build"
: >"$results"
echo "==================== build ($CXX) ===================="
if ! cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER="$CXX" >"$build/configure.log" 2>&1; then
    cat "$build/configure.log"
    echo "0 passed, 1 failed, 0 skipped"
    exit 1
fi
if ! cmake --build "$build" >"$build/build.log" 2>&1; then
    grep -E 'error|Error' "$build/build.log" | head -40
    echo "0 passed, 1 failed, 0 skipped"
    exit 1
fi
echo "built in $((SECONDS - started)) s"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
# Some kernels give mmap more random bits than clang 14's TSan expects: run it without ASLR.
no_aslr=()
if setarch "$(uname -m)" -R true 2>/dev/null; then no_aslr=(setarch "$(uname -m)" -R); fi

step faults_process 300 "$build/hbt_faults" "[process]"
step faults_netns 300 "$build/hbt_faults" "[netns]"
step faults_hostile 300 "$build/hbt_faults" "[hostile]"
step lifetime_asan 300 "$build/hbt_faults_lifetime"
step concurrency_tsan 300 "${no_aslr[@]}" "$build/hbt_faults_concurrency"
if [[ ${SOAK_SECONDS:-60} != 0 ]]; then
    step soak $((${SOAK_SECONDS:-60} + 120)) "$here/soak.sh" "$build/hbt_faults_soak"
fi

echo
echo "==================== faults: $((SECONDS - started)) s ===================="
echo "measurements: $results"
((failed)) && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
