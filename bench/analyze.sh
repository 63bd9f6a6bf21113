#!/usr/bin/env bash
# The cost analysis behind the targets run.sh checks: where the library's bytes, syscalls,
# allocations and instructions go, next to the bare Asio server. Writes results/analysis.md.
#
#   bench/analyze.sh                 (after bench/run.sh, whose build it reuses; about 4 minutes)
#
# 1. footprint: the heap blocks of one idle session, allocation by allocation, and what one
#    echoed frame allocates.
# 2. syscalls (perf stat on syscall tracepoints) per echoed line in the pipelined scenario and
#    per heartbeat with 5,000 idle sessions.
# 3. allocations per echoed frame with Asio's per-thread recycling cache at 2 blocks (default)
#    and at 16 (lib_server_cache16), to show where the per-frame mallocs come from.
# 4. callgrind, request-response: instructions, allocations, posted handlers and syscalls per
#    echoed frame (calls counted by cg_calls.py when python3 is there).
# 5. callgrind, pipelined: instructions per echoed line.
# 6. callgrind: the functions with the most instructions, bare and lib.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${BUILD:-$HERE/build}
RESULTS=${RESULTS:-$HERE/results}
RAW=$RESULTS/raw
mkdir -p "$RAW"
OUT=$RESULTS/analysis.md
[ -x "$BUILD/lib_server" ] || { echo "analyze.sh: build first (bench/run.sh)" >&2; exit 1; }
cmake --build "$BUILD" >/dev/null
CODE="include/ at $(git -C "$HERE" log -1 --format=%h -- ../include 2>/dev/null || echo unknown)$(git -C "$HERE" diff --quiet HEAD -- ../include 2>/dev/null || echo " with uncommitted changes")"

PIDS=()
alive() { grep -q '^State:[[:space:]]*[^Z[:space:]]' "/proc/$1/status" 2>/dev/null; }
cleanup() {
    local p
    for p in "${PIDS[@]+"${PIDS[@]}"}"; do if alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

start() { # start NAME ARGS... -> PID, PORT
    local out=$RAW/an.$1.server
    shift
    "$@" >"$out" 2>"$out.err" &
    PID=$!
    PIDS+=("$PID")
    PORT=
    for _ in $(seq 1 100); do
        PORT=$(head -n1 "$out" 2>/dev/null | tr -dc 0-9 || true)
        [ -n "$PORT" ] && return 0
        sleep 0.1
    done
    echo "analyze.sh: server did not start" >&2
    exit 1
}
stop() {
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 1 100); do alive "$PID" || break; sleep 0.1; done
    wait "$PID" 2>/dev/null || true
}
kv() { tr ' ' '\n' <"$1" | sed -n "s/^$2=//p" | tail -n1; }
server_cmd() {
    case $1 in
    bare) echo "$BUILD/bare_server --port 0 --timeout-ms 3000" ;;
    lib) echo "$BUILD/lib_server --port 0 --timeout-ms 3000 --interval-ms 2000" ;;
    lib16) echo "$BUILD/lib_server_cache16 --port 0 --timeout-ms 3000 --interval-ms 2000" ;;
    esac
}

{
    echo "# heartbeat benchmarks: cost analysis"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $CODE (as built at the start); produced by bench/analyze.sh."
    echo
    echo "## 1. Heap blocks of an idle session (bench/footprint)"
    echo
    echo '```'
    "$BUILD/footprint" | grep -v 'freed again' | sed 's/[[:space:]]*$//'
    echo '```'
    echo
} >"$OUT"

# 2. Syscalls per unit of work.
EVENTS=syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendmsg,syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_timerfd_settime,syscalls:sys_enter_write,syscalls:sys_enter_read
syscalls() { # NAME MODE UNIT_KEY LOADGEN_ARGS...
    local name=$1 mode=$2 key=$3
    shift 3
    # shellcheck disable=SC2046
    start $name.$mode $(server_cmd $name)
    perf stat -x, -e "$EVENTS" -p "$PID" -o "$RAW/an.$name.$mode.perf" &
    local perf=$!
    PIDS+=("$perf")
    sleep 0.2
    "$BUILD/loadgen" --port "$PORT" --mode "$mode" "$@" >"$RAW/an.$name.$mode.out" 2>/dev/null
    kill -INT "$perf" 2>/dev/null || true
    wait "$perf" 2>/dev/null || true
    stop
    local units
    units=$(kv "$RAW/an.$name.$mode.out" "$key")
    awk -F, -v u="$units" -v n="$name" '
        $3 ~ /sys_enter_/ { sub(/syscalls:sys_enter_/, "", $3); c[$3] = $1; t += $1 }
        END { printf "| %s | %.0f |", n, u;
              split("recvfrom sendmsg sendto epoll_wait timerfd_settime", k, " ");
              for (i = 1; i <= 5; i++) printf " %.3f |", c[k[i]] / u;
              printf " %.3f |\n", t / u }' "$RAW/an.$name.$mode.perf"
}
if command -v perf >/dev/null && perf list 2>/dev/null | grep sys_enter_sendmsg >/dev/null; then
    {
        echo "## 2. System calls per unit of work (perf stat on syscall tracepoints)"
        echo
        echo "Pipelined echo, 50 connections x 1 KiB in flight, 3 s: per echoed line"
        echo
        echo "| server | lines | recvfrom | sendmsg | sendto | epoll_wait | timerfd_settime | all |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|"
        syscalls bare pipeline lines --connections 50 --window 1024 --seconds 3 --warmup 0.2
        syscalls lib pipeline lines --connections 50 --window 1024 --seconds 3 --warmup 0.2
        echo
        echo "5,000 idle sessions, PING every 1 s, 5 s (2 s warm-up included): per heartbeat (PING received)"
        echo
        echo "| server | PINGs | recvfrom | sendmsg | sendto | epoll_wait | timerfd_settime | all |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|"
        syscalls bare idle pings --connections 5000 --seconds 3 --warmup 2
        syscalls lib idle pings --connections 5000 --seconds 3 --warmup 2
        echo
    } >>"$OUT"
else
    echo "(perf with syscall tracepoints not available: section 2 skipped)" >>"$OUT"
fi

# 3. Allocations per frame against the size of Asio's recycling cache.
allocs() { # NAME
    local name=$1 m0 m1 lines
    # shellcheck disable=SC2046
    start mc0.$name env LD_PRELOAD="$BUILD/malloc_count.so" $(server_cmd $name)
    "$BUILD/loadgen" --port "$PORT" --mode rr --connections 1 --count 0 >/dev/null 2>&1
    stop
    m0=$(grep '^malloc_count' "$RAW/an.mc0.$name.server.err" | tail -n1 | sed 's/.*mallocs=\([0-9]*\).*/\1/')
    # shellcheck disable=SC2046
    start mc1.$name env LD_PRELOAD="$BUILD/malloc_count.so" $(server_cmd $name)
    "$BUILD/loadgen" --port "$PORT" --mode rr --connections 1 --count 20000 --seconds 60 >"$RAW/an.mc1.$name.out" 2>/dev/null
    stop
    m1=$(grep '^malloc_count' "$RAW/an.mc1.$name.server.err" | tail -n1 | sed 's/.*mallocs=\([0-9]*\).*/\1/')
    lines=$(kv "$RAW/an.mc1.$name.out" lines)
    awk -v a="$m0" -v b="$m1" -v l="$lines" -v n="$name" 'BEGIN { printf "| %s | %.3f |\n", n, (b - a) / l }'
}
{
    echo "## 3. Heap allocations per echoed frame (1 connection, 20,000 round trips, malloc_count.so)"
    echo
    echo "lib16 is lib_server built with ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE=16 (Asio's default: 2)."
    echo
    echo "| server | mallocs per frame |"
    echo "|---|---:|"
    allocs bare
    allocs lib
    allocs lib16
    echo
} >>"$OUT"

# 4. Where the instructions go: callgrind of the echo workloads, this build.
cg_run() { # NAME TAG LOADGEN_ARGS...: callgrind one server run; sets IR
    local name=$1 tag=$2
    shift 2
    # shellcheck disable=SC2046
    start cg.$name.$tag valgrind --tool=callgrind --callgrind-out-file="$RAW/an.cg.$name.$tag.callgrind" $(server_cmd $name)
    "$BUILD/loadgen" --port "$PORT" "$@" >"$RAW/an.cg.$name.$tag.out" 2>/dev/null
    stop
    IR=$(sed -n 's/^summary:[[:space:]]*//p' "$RAW/an.cg.$name.$tag.callgrind" | awk '{ print $1 }')
}
if command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null; then
    {
        echo "## 4. callgrind: request-response echo, 1 connection x 20,000 lines"
        echo
        echo "Per echoed frame: (run - run with no frame) / frames."
        echo
        echo "| server | Ir per frame | mallocs | scheduler ops posted | epoll_wait | recv | send | timerfd_settime | std::string moves |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        for s in bare lib; do
            cg_run $s echo0 --mode rr --connections 1 --count 0
            local_ir0=$IR
            cg_run $s echo --mode rr --connections 1 --count 20000 --seconds 300
            lines=$(kv "$RAW/an.cg.$s.echo.out" lines)
            printf '| %s | %.0f |' $s "$(awk -v a="$IR" -v b="$local_ir0" -v n="$lines" 'BEGIN { print (a - b) / n }')"
            if command -v python3 >/dev/null; then
                python3 "$HERE/cg_calls.py" "$RAW/an.cg.$s.echo.callgrind" "$RAW/an.cg.$s.echo0.callgrind" "$lines" \
                    'malloc=^malloc$' 'posted=scheduler::post_(immediate|deferred)_completion' \
                    'epoll_wait=^epoll_wait' 'recv=^(__libc_)?recv' 'send=^(__libc_)?send' \
                    'timerfd=timerfd_settime' \
                    'moves=basic_string\(std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >&&\)' |
                    awk -F'\t' '{ printf " %s |", $2 } END { print "" }'
            else
                echo " | | | | | | |"
            fi
        done
        echo
        echo "## 5. callgrind: pipelined echo, 50 connections x 1 KiB in flight, 3 s"
        echo
        echo "| server | lines echoed | Ir per line (start-up included) |"
        echo "|---|---:|---:|"
        for s in bare lib; do
            cg_run $s pipe --mode pipeline --connections 50 --window 1024 --seconds 3 --warmup 0
            lines=$(kv "$RAW/an.cg.$s.pipe.out" lines)
            printf '| %s | %s | %.0f |\n' $s "$lines" "$(awk -v a="$IR" -v n="$lines" 'BEGIN { print a / n }')"
        done
        echo
        echo "## 6. callgrind: the functions with the most instructions (self cost) in the request-response run"
        echo
        for s in bare lib; do
            echo "### $s"
            echo
            echo '```'
            callgrind_annotate --threshold=95 "$RAW/an.cg.$s.echo.callgrind" 2>/dev/null |
                sed -n '/^Ir/,$p' | sed -n '6,26p' | cut -c1-200 || true
            echo '```'
            echo
        done
    } >>"$OUT"
fi
cat "$OUT"
