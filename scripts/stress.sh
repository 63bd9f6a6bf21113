#!/usr/bin/env bash
# Runs the whole CTest suite N times in a row while busy loops load every core, and stops at the
# first failure: a test that fails once is a bug (scripts/test.sh has no retry either).
#
#   scripts/stress.sh [N]                       20 runs by default, of build/
#   scripts/stress.sh N --build-dir DIR         runs DIR's tests (build it first: scripts/test.sh)
#   scripts/stress.sh N ... -- CTEST_ARGS...    more ctest arguments, e.g. -- -LE package
#
# The load: one `yes > /dev/null` per core (nproc); they are killed when the script exits,
# whatever the reason (failure, Ctrl-C, kill). The failing run's output is kept in
# DIR/stress-failure.log.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$HEARTBEAT_ROOT"

usage() {
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

runs=20
build_dir=build
ctest_extra=()
if (($# > 0)) && [[ $1 =~ ^[0-9]+$ ]]; then
    runs=$1
    shift
fi
while (($# > 0)); do
    case $1 in
    --build-dir)
        (($# >= 2)) || usage
        build_dir=$2
        shift 2
        ;;
    --)
        shift
        ctest_extra=("$@")
        break
        ;;
    *) usage ;;
    esac
done
((runs > 0)) || usage
[[ -f $build_dir/CTestTestfile.cmake ]] || {
    echo "error: no tests in $build_dir; build it first (scripts/test.sh --build-dir $build_dir)" >&2
    exit 2
}

loops=()
log=$(mktemp)
# Whatever ends the script (the end, a failure, Ctrl-C, kill), the busy loops go with it.
cleanup() {
    local pid
    for pid in "${loops[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${loops[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    loops=()
    rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

cores=$(nproc 2>/dev/null || echo 2)
for ((i = 0; i < cores; ++i)); do
    yes >/dev/null &
    loops+=("$!")
done
echo "==> $runs runs of the suite in $build_dir, with $cores busy loops (pids ${loops[*]})"

start=$SECONDS
for ((run = 1; run <= runs; ++run)); do
    run_start=$SECONDS
    if ctest --test-dir "$build_dir" --output-on-failure -j2 --timeout 300 \
        "${ctest_extra[@]}" >"$log" 2>&1; then
        echo "run $run/$runs: passed ($((SECONDS - run_start)) s)"
    else
        cp "$log" "$build_dir/stress-failure.log"
        grep -E '^\s*[0-9]+ - |tests passed|\*\*\*' "$log" || true
        elapsed=$((SECONDS - start))
        echo "FAILED: run $run/$runs failed; $((run - 1)) passed before it;" \
            "$((elapsed / 60)) min $((elapsed % 60)) s; output in $build_dir/stress-failure.log"
        exit 1
    fi
done
elapsed=$((SECONDS - start))
echo "OK: $runs/$runs passed, 0 failures, $((elapsed / 60)) min $((elapsed % 60)) s"
