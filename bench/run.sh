#!/usr/bin/env bash
# Runs every benchmark scenario against the three line echo servers (bare_server: hand-written
# Asio, go_server: goroutine per connection, lib_server: heartbeat_session) and prints a table
# with the library's ratio to the bare reference and a PASS/MISS per target. Writes
# results/results.md, results/idle_sweep.dat and results/rss_cpu.png.
#
# Servers (--servers): bare, go, lib (lib_server's streaming loop: try_send/try_receive) in
# every scenario; in the pipelined and request-response scenarios also the awaited loop, where
# each echo's async_send completion is waited for before the next receive:
#   await      lib_server --loop await (callbacks, the shape of examples/echo_server.cpp)
#   coro       lib_server --loop coro (C++20 coroutine; n/a where the build has none)
#   echo       examples/echo_server.cpp as users copy it (library defaults, its own output)
#   coro_echo  examples/coro_echo_server.cpp likewise (n/a without C++20 coroutines)
# Each awaited server gets its own row, its figure in the lib column, its ratio against the
# bare runs of the same repetitions.
#
#   bench/run.sh                 the full run (about 8 minutes on 2 cores)
#   bench/run.sh --quick         small N and short windows (< 60 s once built): proves that
#                                everything builds and runs; writes results/quick/
# Options:
#   --reps N            repetitions of the throughput and 10k-idle runs (median; default 3)
#   --no-install        never apt-get missing packages
#   --no-callgrind      skip the callgrind and allocation-count runs
#   --only "LIST"       run only these scenarios: idle pipeline rr frozen flood callgrind
#                       allocations (the table shows n/a for the others)
#   --servers "LIST"    only these of bare go lib await coro echo coro_echo (default: all;
#                       n/a for the others)
#   --render-only       print and write the table again from results/raw/table.tsv
#   --build-dir DIR     where to build (default bench/build); a directory that holds the
#                       programs but no CMakeCache.txt (the root project's build/bench when
#                       configured with -DHEARTBEAT_BUILD_BENCHMARKS=ON) is used as it is
#   --results-dir DIR   where to write (default bench/results, bench/results/quick)
# Environment: GO_MAXPROCS (default 1: every server runs on one core, like the two C++ servers),
# BENCH_PIN=1 (pin the server to CPU 0 and the load generators to CPU 1: steadier on an
# otherwise idle machine, worse when other work shares it, so off by default).
set -eEuo pipefail
trap 'echo "run.sh: line $LINENO: failed: $BASH_COMMAND" >&2' ERR

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
QUICK=0
REPS=
INSTALL=1
CALLGRIND=1
ONLY="idle pipeline rr frozen flood callgrind allocations"
ALL_SERVERS="bare go lib await coro echo coro_echo"
SERVERS=$ALL_SERVERS
RENDER_ONLY=0
BUILD=
RESULTS=
while [ $# -gt 0 ]; do
    case $1 in
    --quick) QUICK=1 ;;
    --reps) REPS=$2; shift ;;
    --no-install) INSTALL=0 ;;
    --no-callgrind) CALLGRIND=0 ;;
    --only) ONLY=$2; shift ;;
    --servers) SERVERS=$2; shift ;;
    --render-only) RENDER_ONLY=1 ;;
    --build-dir) BUILD=$2; shift ;;
    --results-dir) RESULTS=$2; shift ;;
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
for s in $SERVERS; do
    case " $ALL_SERVERS " in
    *" $s "*) ;;
    *) echo "run.sh: unknown server $s (want some of: $ALL_SERVERS)" >&2; exit 2 ;;
    esac
done
BUILD=${BUILD:-$HERE/build}
if [ -z "$RESULTS" ]; then
    RESULTS=$HERE/results
    [ $QUICK = 1 ] && RESULTS=$HERE/results/quick
fi
RAW=$RESULTS/raw
mkdir -p "$RAW"
[ "$RENDER_ONLY" = 1 ] || rm -f "$RAW"/*
GO_PROCS=${GO_MAXPROCS:-1}
T0=$(date +%s)

log() { printf '[%4ds] %s\n' $(($(date +%s) - T0)) "$*" >&2; }
warn() { printf '[%4ds] WARNING: %s\n' $(($(date +%s) - T0)) "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Parameters. Full: the scales of the targets. Quick: the same scenarios, small and short.
if [ $QUICK = 1 ]; then
    REPS=${REPS:-1}
    SWEEP_NS="200"; IDLE_N=200; IDLE_REPS=1
    IDLE_INTERVAL=250; IDLE_TIMEOUT=1000; LIB_INTERVAL=700; IDLE_WINDOW=1; IDLE_WARMUP=0.6
    PIPE_CONNS=50; PIPE_WINDOW=1024; RR_CONNS=100; TP_SECONDS=1; TP_WARMUP=0.3
    FROZEN_LIVE=270; FROZEN_N=30; FREEZE_AFTER=1; FROZEN_MARGIN=0.5
    FLOOD_IDLE=200; FLOOD_CONNS=10; FLOOD_WINDOW=65536; FLOOD_SECONDS=1
    CG_FRAMES=500; CG_CONNS=5; CG_PINGS=10; CG_INTERVAL=100; CG_PIPE_SECONDS=1; HEAP_N=200
else
    REPS=${REPS:-3}
    SWEEP_NS="1000 2000 5000 10000"; IDLE_N=10000; IDLE_REPS=$(( REPS < 2 ? REPS : 2 ))
    IDLE_INTERVAL=1000; IDLE_TIMEOUT=3000; LIB_INTERVAL=2000; IDLE_WINDOW=5; IDLE_WARMUP=2
    PIPE_CONNS=50; PIPE_WINDOW=1024; RR_CONNS=100; TP_SECONDS=5; TP_WARMUP=0.5
    FROZEN_LIVE=9000; FROZEN_N=1000; FREEZE_AFTER=3; FROZEN_MARGIN=2
    FLOOD_IDLE=5000; FLOOD_CONNS=50; FLOOD_WINDOW=65536; FLOOD_SECONDS=6
    CG_FRAMES=20000; CG_CONNS=20; CG_PINGS=50; CG_INTERVAL=100; CG_PIPE_SECONDS=4; HEAP_N=1000
fi

# ---------------------------------------------------------------------------------------------
# Packages a fresh Debian/Ubuntu machine may lack.
PKGS=(cmake ninja-build g++ libasio-dev golang-go gnuplot-nox valgrind)
install_missing() {
    [ $INSTALL = 1 ] && command -v dpkg >/dev/null || return 0
    local p missing=()
    for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        warn "missing packages ${missing[*]}: not root or no apt-get, not installing"
        return 0
    fi
    log "installing ${missing[*]}"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${missing[@]}"; } >"$RAW/apt.log" 2>&1 ||
        warn "apt-get failed (see $RAW/apt.log); continuing with what is there"
}

build() {
    local gen=()
    if [ ! -f "$BUILD/CMakeCache.txt" ] && [ -x "$BUILD/loadgen" ]; then
        log "using the programs already built in $BUILD (e.g. by the root project)"
        return 0
    fi
    command -v ninja >/dev/null && gen=(-G Ninja)
    if [ ! -f "$BUILD/CMakeCache.txt" ]; then
        cmake -S "$HERE" -B "$BUILD" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release >"$RAW/build.log" 2>&1 ||
            { tail -n 40 "$RAW/build.log"; die "cmake configure failed"; }
    fi
    cmake --build "$BUILD" >>"$RAW/build.log" 2>&1 ||
        { tail -n 40 "$RAW/build.log"; die "build failed"; }
}

# ---------------------------------------------------------------------------------------------
# Processes: every one started here is tracked by PID and killed on exit, and only those.
PIDS=()
track() { PIDS+=("$1"); }
untrack() {
    local p keep=()
    for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    PIDS=("${keep[@]+"${keep[@]}"}")
}
alive() { grep -q '^State:[[:space:]]*[^Z[:space:]]' "/proc/$1/status" 2>/dev/null; }
cleanup() {
    local p
    for p in "${PIDS[@]+"${PIDS[@]}"}"; do
        if alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
    done
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PIN_S=(); PIN_C=()
if [ "${BENCH_PIN:-0}" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    PIN_S=(taskset -c 0); PIN_C=(taskset -c 1)
fi

# start_server NAME TIMEOUT_MS INTERVAL_MS TAG [WRAPPER...]: sets SERVER_PID, SERVER_PORT.
# LOG_ENDS=FILE in the environment adds --log-ends FILE (not for the examples, which have none).
start_server() {
    local name=$1 timeout=$2 interval=$3 tag=$4
    shift 4
    local out="$RAW/$tag.server" cmd
    case $name in
    bare) cmd=("$BUILD/bare_server" --port 0 --timeout-ms "$timeout") ;;
    lib | await | coro)
        cmd=("$BUILD/lib_server" --port 0 --timeout-ms "$timeout" --interval-ms "$interval")
        [ "$name" = lib ] || cmd+=(--loop "$name") ;;
    go) cmd=(env "GOMAXPROCS=$GO_PROCS" "$BUILD/go_server" --port 0 --timeout-ms "$timeout") ;;
    echo | coro_echo)
        cmd=("$BUILD/example_${name}_server" --bind 127.0.0.1 --port 0
            --interval-ms "$interval" --timeout-ms "$timeout") ;;
    *) die "start_server: unknown server $name" ;;
    esac
    if [ -n "${LOG_ENDS:-}" ]; then
        case $name in echo | coro_echo) die "start_server: $name has no --log-ends" ;; esac
        cmd+=(--log-ends "$LOG_ENDS")
    fi
    "${PIN_S[@]+"${PIN_S[@]}"}" "$@" "${cmd[@]}" >"$out" 2>"$out.err" &
    SERVER_PID=$!
    SERVER_NAME=$name
    SERVER_TAG=$tag
    track $SERVER_PID
    SERVER_PORT=
    local i first
    for i in $(seq 1 300); do
        # Only a whole first line: the port, or the examples' "listening on 127.0.0.1:PORT"
        # (the address has digits too, so only what follows the last colon).
        if [ "$(wc -l <"$out" 2>/dev/null || echo 0)" -ge 1 ]; then
            first=$(head -n1 "$out")
            case $name in
            echo | coro_echo) SERVER_PORT=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' <<<"$first") ;;
            *) SERVER_PORT=$(tr -dc 0-9 <<<"$first") ;;
            esac
            [ -n "$SERVER_PORT" ] && return 0
            break
        fi
        alive $SERVER_PID || break
        sleep 0.1
    done
    cat "$out" "$out.err" >&2
    die "$name server did not start (or printed no port)"
}

# Stops the server with SIGTERM, which every one but go_server handles by closing its sessions
# and exiting with 0: any other ending is worth a warning.
stop_server() {
    local pid=$SERVER_PID i rc=0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 600); do alive "$pid" || break; sleep 0.1; done # callgrind dumps slowly
    if alive "$pid"; then
        warn "$SERVER_TAG: the $SERVER_NAME server ignored SIGTERM for 60 s: killed"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || rc=$?
    untrack "$pid"
    [ "$rc" = 0 ] || [ "$SERVER_NAME" = go ] ||
        warn "$SERVER_TAG: the $SERVER_NAME server exited with status $rc (see $RAW/$SERVER_TAG.server.err)"
}

# loadgen TAG ARGS...: one run against the current server, output in $RAW/TAG.out
loadgen() {
    local tag=$1
    shift
    "${PIN_C[@]+"${PIN_C[@]}"}" "$BUILD/loadgen" --port "$SERVER_PORT" "$@" \
        >"$RAW/$tag.out" 2>"$RAW/$tag.err" || warn "loadgen $tag failed (see $RAW/$tag.err)"
}

# kv FILE KEY: the value of KEY in a key=value results line
kv() { tr ' ' '\n' <"$1" 2>/dev/null | sed -n "s/^$2=//p" | tail -n1; }

median() {
    printf '%s\n' "$@" | { grep -E '^-?[0-9.e+-]+$' || true; } | sort -g |
        awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2];
                                   else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

calc() { awk "BEGIN { v = $1; if (v != v) print \"nan\"; else printf \"%.6g\n\", v }" 2>/dev/null || echo nan; }

# The results: one row per measure, rendered at the end.
declare -A R
TSV=$RAW/table.tsv
[ "$RENDER_ONLY" = 1 ] || : >"$TSV"
# row SCENARIO UNIT BARE GO LIB CHECK THRESHOLD TARGET_TEXT
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$TSV"; }

have_go=1
[ -x "$BUILD/go_server" ] || { have_go=0; }
have_coro=0

# available SERVER: whether this build has it.
available() {
    case $1 in
    go) [ $have_go = 1 ] ;;
    coro) [ $have_coro = 1 ] ;;
    echo) [ -x "$BUILD/example_echo_server" ] ;;
    coro_echo) [ -x "$BUILD/example_coro_echo_server" ] ;;
    *) return 0 ;;
    esac
}

# The servers of $SERVERS that this build has, of those in LIST: servers_of "LIST"
servers_of() {
    local s out=""
    for s in $SERVERS; do
        case " $1 " in *" $s "*) available "$s" && out+=" $s" ;; esac
    done
    echo "${out# }"
}
# The servers of the idle, frozen and flood scenarios: the awaited loops differ from lib only
# in how frames are echoed, which those scenarios hardly do.
CORE_SERVERS="bare go lib"

# ---------------------------------------------------------------------------------------------
scenario_idle() {
    log "idle: N sessions PING every ${IDLE_INTERVAL} ms, read_timeout ${IDLE_TIMEOUT} ms (N = $SWEEP_NS; servers: $(servers_of "$CORE_SERVERS"))"
    local dat=$RESULTS/idle_sweep.dat n r srv tag reps
    printf '# sessions  rss_per_session_bytes(bare go lib)  cpu_us_per_heartbeat(bare go lib)\n' >"$dat"
    for n in $SWEEP_NS; do
        reps=1
        [ "$n" = "$IDLE_N" ] && reps=$IDLE_REPS
        declare -A rss=() cpu=()
        for r in $(seq 1 "$reps"); do
            for srv in $(servers_of "$CORE_SERVERS"); do
                tag=idle.$n.$srv.$r
                start_server $srv $IDLE_TIMEOUT $LIB_INTERVAL $tag
                loadgen $tag --mode idle --connections "$n" --interval-ms $IDLE_INTERVAL \
                    --seconds $IDLE_WINDOW --warmup $IDLE_WARMUP --server-pid $SERVER_PID
                stop_server
                local closed connected
                closed=$(kv "$RAW/$tag.out" closed_by_server)
                connected=$(kv "$RAW/$tag.out" connected)
                [ "${closed:-1}" = 0 ] || warn "$tag: $closed sessions closed by the server"
                [ "${connected:-0}" = "$n" ] || warn "$tag: only $connected of $n connected"
                rss[$srv]+=" $(kv "$RAW/$tag.out" rss_per_session_b)"
                cpu[$srv]+=" $(kv "$RAW/$tag.out" cpu_us_per_heartbeat)"
            done
        done
        local line=$n
        for srv in bare go lib; do line+=" $(median ${rss[$srv]:-})"; done
        for srv in bare go lib; do line+=" $(median ${cpu[$srv]:-})"; done
        echo "$line" >>"$dat"
        log "  N=$n  rss B/session bare/go/lib and cpu us/heartbeat bare/go/lib: ${line#* }"
        if [ "$n" = "$IDLE_N" ]; then
            for srv in bare go lib; do
                R[rss.$srv]=$(median ${rss[$srv]:-})
                R[cpu.$srv]=$(median ${cpu[$srv]:-})
            done
        fi
        unset rss cpu
    done
}

# throughput MODE KEY CONNS [ARGS...]: every server of $SERVERS once per repetition, in turn,
# so that each one's median and bare's come from the same stretch of the machine's load.
throughput() {
    local mode=$1 key=$2 conns=$3 r srv tag
    shift 3
    declare -A v=() c=() p=()
    for r in $(seq 1 "$REPS"); do
        for srv in $(servers_of "$ALL_SERVERS"); do
            tag=$key.$srv.$r
            start_server $srv 3000 2000 $tag
            loadgen $tag --mode $mode --connections $conns --seconds $TP_SECONDS \
                --warmup $TP_WARMUP --server-pid $SERVER_PID "$@"
            stop_server
            [ "$(kv "$RAW/$tag.out" bad)" = 0 ] || warn "$tag: wrong echoes"
            v[$srv]+=" $(kv "$RAW/$tag.out" lines_per_s)"
            c[$srv]+=" $(kv "$RAW/$tag.out" lines_per_cpu_s)"
            p[$srv]+=" $(kv "$RAW/$tag.out" server_cpu_pct)"
        done
    done
    local rates="" pcts=""
    for srv in $ALL_SERVERS; do
        R[$key.$srv]=$(median ${v[$srv]:-})
        R[$key.cpu.$srv]=$(median ${c[$srv]:-})
        R[$key.pct.$srv]=$(median ${p[$srv]:-})
        [ -n "${v[$srv]:-}" ] || continue
        rates+=" $srv ${R[$key.$srv]}"
        pcts+=" $srv ${R[$key.pct.$srv]}"
    done
    log "  $key lines/s:$rates  (server CPU %:$pcts)"
    if [ "$mode" = pipeline ] && [[ ${R[$key.pct.bare]} =~ ^[0-9.]+$ ]] &&
        [ "$(calc "${R[$key.pct.bare]} < 95")" = 1 ]; then
        warn "bare used ${R[$key.pct.bare]}% of its CPU: the load generator limits it, so throughput ratios against it are upper bounds (see the per CPU second rows)"
    fi
}

scenario_pipeline() {
    log "pipelined echo: $PIPE_CONNS connections x $PIPE_WINDOW bytes of lines in flight, ${TP_SECONDS} s x $REPS (servers: $(servers_of "$ALL_SERVERS"))"
    throughput pipeline pipe $PIPE_CONNS --window $PIPE_WINDOW
}

scenario_rr() {
    log "request-response: $RR_CONNS connections, one line in flight, ${TP_SECONDS} s x $REPS (servers: $(servers_of "$ALL_SERVERS"))"
    throughput rr rr $RR_CONNS
}

wait_for_text() { # FILE TEXT SECONDS
    local i
    for i in $(seq 1 $(($3 * 10))); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

scenario_frozen() {
    local total=$((FROZEN_LIVE + FROZEN_N))
    log "frozen peers: $total sessions, $FROZEN_N of them frozen (SIGSTOP) at once, read_timeout ${IDLE_TIMEOUT} ms (servers: $(servers_of "$CORE_SERVERS"))"
    local srv tag live frozen wait_s live_s
    wait_s=$(calc "$IDLE_TIMEOUT / 1000 + $FROZEN_MARGIN")
    live_s=$(calc "$FREEZE_AFTER + $wait_s + 1")
    for srv in $(servers_of "$CORE_SERVERS"); do
        tag=frozen.$srv
        LOG_ENDS=$RAW/$tag.ends start_server $srv $IDLE_TIMEOUT $LIB_INTERVAL $tag
        "${PIN_C[@]+"${PIN_C[@]}"}" "$BUILD/loadgen" --port $SERVER_PORT --mode idle \
            --connections $FROZEN_LIVE --interval-ms $IDLE_INTERVAL --seconds "$live_s" --warmup 0 \
            --ports-file "$RAW/$tag.live.ports" >"$RAW/$tag.live.out" 2>"$RAW/$tag.live.err" &
        live=$!
        track $live
        "${PIN_C[@]+"${PIN_C[@]}"}" "$BUILD/loadgen" --port $SERVER_PORT --mode freeze \
            --connections $FROZEN_N --interval-ms $IDLE_INTERVAL --freeze-after $FREEZE_AFTER \
            --ports-file "$RAW/$tag.frozen.ports" >"$RAW/$tag.frozen.out" 2>"$RAW/$tag.frozen.err" &
        frozen=$!
        track $frozen
        wait_for_text "$RAW/$tag.frozen.out" frozen 60 || warn "$tag: the frozen group never froze"
        sleep "$wait_s"
        cp "$RAW/$tag.ends" "$RAW/$tag.ends.snapshot"
        wait $live 2>/dev/null || true
        untrack $live
        kill -KILL $frozen 2>/dev/null || true
        wait $frozen 2>/dev/null || true
        untrack $frozen
        stop_server
        # Ends of frozen peers' sessions: latency = ms since last byte - read_timeout.
        awk -v T=$IDLE_TIMEOUT 'FNR == NR { f[$1] = 1; next }
            ($1 in f) && $3 == "timeout" { print $2 - T > "/dev/stdout"; next }
            !($1 in f) { live++ }
            END { print live + 0 > "/dev/stderr" }' \
            "$RAW/$tag.frozen.ports" "$RAW/$tag.ends.snapshot" \
            >"$RAW/$tag.latency" 2>"$RAW/$tag.live_ended"
        local detected p50 p99 pmax live_ended lg_closed
        detected=$(wc -l <"$RAW/$tag.latency")
        p50=$(sort -g "$RAW/$tag.latency" | awk '{ a[NR] = $1 } END { if (NR) print a[int(NR * 0.50 + 0.999999)]; else print "nan" }')
        p99=$(sort -g "$RAW/$tag.latency" | awk '{ a[NR] = $1 } END { if (NR) print a[int(NR * 0.99 + 0.999999)]; else print "nan" }')
        pmax=$(sort -g "$RAW/$tag.latency" | tail -n1)
        live_ended=$(cat "$RAW/$tag.live_ended")
        lg_closed=$(kv "$RAW/$tag.live.out" closed_by_server)
        [ "${lg_closed:-0}" -gt "$live_ended" ] 2>/dev/null && live_ended=$lg_closed
        R[fz.p50.$srv]=$p50
        R[fz.p99.$srv]=$p99
        R[fz.max.$srv]=${pmax:-nan}
        R[fz.det.$srv]=$detected
        R[fz.live.$srv]=$live_ended
        log "  $srv: detected $detected/$FROZEN_N frozen, latency p50 $p50 ms p99 $p99 ms max ${pmax:-nan} ms; live sessions ended: $live_ended"
    done
}

scenario_flood() {
    log "flood: $FLOOD_CONNS connections pipelining ${FLOOD_WINDOW} B each while $FLOOD_IDLE idle sessions heartbeat (servers: $(servers_of "$CORE_SERVERS"))"
    local srv tag idle idle_s ended timeouts
    idle_s=$(calc "$FLOOD_SECONDS + 1.2")
    for srv in $(servers_of "$CORE_SERVERS"); do
        tag=flood.$srv
        LOG_ENDS=$RAW/$tag.ends start_server $srv $IDLE_TIMEOUT $LIB_INTERVAL $tag
        "${PIN_C[@]+"${PIN_C[@]}"}" "$BUILD/loadgen" --port $SERVER_PORT --mode idle \
            --connections $FLOOD_IDLE --interval-ms $IDLE_INTERVAL --seconds "$idle_s" --warmup 0 \
            >"$RAW/$tag.idle.out" 2>"$RAW/$tag.idle.err" &
        idle=$!
        track $idle
        wait_for_text "$RAW/$tag.idle.err" connected= 60 || warn "$tag: idle group did not connect"
        loadgen $tag.flood --mode pipeline --connections $FLOOD_CONNS --window $FLOOD_WINDOW \
            --seconds $FLOOD_SECONDS --warmup 0.5 --server-pid $SERVER_PID
        wait $idle 2>/dev/null || true
        untrack $idle
        stop_server
        ended=$(kv "$RAW/$tag.idle.out" closed_by_server)
        timeouts=$(awk '$3 == "timeout"' "$RAW/$tag.ends" | wc -l)
        [ "${timeouts:-0}" -gt "${ended:-0}" ] 2>/dev/null && ended=$timeouts
        R[fl.ended.$srv]=${ended:-nan}
        R[fl.rtt.$srv]=$(calc "$(kv "$RAW/$tag.idle.out" rtt_us_p99) / 1000")
        R[fl.rttmax.$srv]=$(calc "$(kv "$RAW/$tag.idle.out" rtt_us_max) / 1000")
        R[fl.lines.$srv]=$(kv "$RAW/$tag.flood.out" lines_per_s)
        log "  $srv: idle sessions ended $ended, heartbeat RTT p99 ${R[fl.rtt.$srv]} ms max ${R[fl.rttmax.$srv]} ms, flood ${R[fl.lines.$srv]} lines/s"
    done
}

# One server run under a wrapper (callgrind or the malloc counter) with a fixed workload.
# fixed_run SRV KIND TAG WRAPPER...; KIND: echo echo0 idle idle0 pipe
# The idle runs keep the ratios of the idle scenario (PING every 1 s, server PING interval 2 s,
# read_timeout 3 s) on a 10x faster clock, so the library's timer wakes as often per heartbeat
# as it does there; the echo runs use the settings of the echo scenarios.
fixed_run() {
    local srv=$1 kind=$2 tag=$3
    shift 3
    case $kind in
    echo* | pipe) start_server $srv 3000 2000 $tag "$@" ;;
    idle*) start_server $srv $((CG_INTERVAL * 3)) $((CG_INTERVAL * 2)) $tag "$@" ;;
    esac
    case $kind in
    echo) loadgen $tag --mode rr --connections 1 --count $CG_FRAMES --seconds 600 ;;
    echo0) loadgen $tag --mode rr --connections 1 --count 0 --seconds 600 ;;
    pipe) loadgen $tag --mode pipeline --connections $PIPE_CONNS --window $PIPE_WINDOW \
        --seconds $CG_PIPE_SECONDS --warmup 0 ;;
    idle) loadgen $tag --mode idle --connections $CG_CONNS --interval-ms $CG_INTERVAL \
        --count $CG_PINGS --seconds 600 ;;
    idle0) loadgen $tag --mode idle --connections $CG_CONNS --interval-ms $CG_INTERVAL \
        --count 0 --seconds 600 ;;
    esac
    stop_server
}

scenario_callgrind() {
    if ! command -v valgrind >/dev/null; then
        warn "no valgrind: skipping the instruction counts"
        return
    fi
    log "callgrind: $CG_FRAMES echoed lines on 1 connection; $CG_CONNS connections x $CG_PINGS heartbeats every $CG_INTERVAL ms; pipelined echo for $CG_PIPE_SECONDS s (minus runs with none)"
    local srv kind tag ir
    for srv in bare lib; do
        for kind in echo echo0 idle idle0 pipe; do
            tag=cg.$srv.$kind
            fixed_run $srv $kind $tag valgrind --tool=callgrind --callgrind-out-file="$RAW/$tag.callgrind"
            [ "$(kv "$RAW/$tag.out" closed_by_server)" = 0 ] ||
                warn "$tag: the server closed sessions under valgrind: counts are off"
            ir=$(sed -n 's/^summary:[[:space:]]*//p; s/^totals:[[:space:]]*//p' "$RAW/$tag.callgrind" | head -n1 | awk '{ print $1 }')
            R[ir.$kind.$srv]=${ir:-nan}
        done
        R[ir.frame.$srv]=$(calc "(${R[ir.echo.$srv]} - ${R[ir.echo0.$srv]}) / $(kv "$RAW/cg.$srv.echo.out" lines)")
        R[ir.hb.$srv]=$(calc "(${R[ir.idle.$srv]} - ${R[ir.idle0.$srv]}) / $(kv "$RAW/cg.$srv.idle.out" pings)")
        # Time-bounded, so the count of lines differs between servers; the per-line figure
        # does not (the baseline connects 1 client, not 50: a few thousand Ir in millions).
        R[ir.pipe.$srv]=$(calc "(${R[ir.pipe.$srv]} - ${R[ir.echo0.$srv]}) / $(kv "$RAW/cg.$srv.pipe.out" lines)")
        log "  $srv: ${R[ir.frame.$srv]} instructions per echoed frame, ${R[ir.hb.$srv]} per heartbeat, ${R[ir.pipe.$srv]} per pipelined line"
    done
}

# Allocations per frame and per heartbeat, and heap bytes per idle session, with malloc_count.
scenario_allocations() {
    local shim=$BUILD/malloc_count.so srv kind tag
    [ -f "$shim" ] || { warn "no malloc_count.so: skipping allocation counts"; return; }
    log "allocations: the same fixed workloads natively under malloc_count.so; heap of $HEAP_N idle sessions"
    mallocs() { grep '^malloc_count:' "$1" | sed -n "${2}p" | tr ' ' '\n' | sed -n "s/^$3=//p"; }
    for srv in bare lib; do
        for kind in echo echo0 idle idle0; do
            tag=mc.$srv.$kind
            fixed_run $srv $kind $tag env LD_PRELOAD="$shim"
            R[mc.$kind.$srv]=$(mallocs "$RAW/$tag.server.err" '$' mallocs)
        done
        R[mc.frame.$srv]=$(calc "(${R[mc.echo.$srv]:-nan} - ${R[mc.echo0.$srv]:-nan}) / $(kv "$RAW/mc.$srv.echo.out" lines)")
        R[mc.hb.$srv]=$(calc "(${R[mc.idle.$srv]:-nan} - ${R[mc.idle0.$srv]:-nan}) / $(kv "$RAW/mc.$srv.idle.out" pings)")
        # Heap held by idle sessions: live bytes with N sessions connected minus before.
        tag=heap.$srv
        start_server $srv $IDLE_TIMEOUT $LIB_INTERVAL $tag env LD_PRELOAD="$shim"
        kill -USR1 $SERVER_PID || true
        "${PIN_C[@]+"${PIN_C[@]}"}" "$BUILD/loadgen" --port $SERVER_PORT --mode idle \
            --connections $HEAP_N --interval-ms $IDLE_INTERVAL --seconds 1 --warmup $IDLE_WARMUP \
            >"$RAW/$tag.out" 2>"$RAW/$tag.err" &
        local lg=$!
        track $lg
        wait_for_text "$RAW/$tag.err" connected= 60 || true
        sleep "$IDLE_WARMUP"
        kill -USR1 $SERVER_PID || true
        wait $lg 2>/dev/null || true
        untrack $lg
        stop_server
        local before after
        before=$(mallocs "$RAW/$tag.server.err" 1 live_bytes)
        after=$(mallocs "$RAW/$tag.server.err" 2 live_bytes)
        R[heap.$srv]=$(calc "(${after:-nan} - ${before:-nan}) / $HEAP_N")
        log "  $srv: ${R[mc.frame.$srv]} allocations per echoed frame, ${R[mc.hb.$srv]} per heartbeat, ${R[heap.$srv]} heap bytes per idle session"
    done
}

# ---------------------------------------------------------------------------------------------
render() {
    local md=$RESULTS/results.md
    awk -F'\t' -v md="$md" -v header="$1" '
    function num(x) { return x ~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/ }
    function fmt(x) {
        if (x == "-") return "-"
        if (!num(x)) return "n/a"
        if (x + 0 >= 100000 || x + 0 <= -100000) return sprintf("%.0f", x)
        if (x + 0 >= 100 || x + 0 <= -100) return sprintf("%.0f", x)
        if (x == int(x)) return sprintf("%d", x)
        return sprintf("%.3g", x)
    }
    {
        scen[NR] = $1; unit[NR] = $2; b[NR] = $3; g[NR] = $4; l[NR] = $5
        r = (num($3) && num($5) && $3 + 0 != 0) ? $5 / $3 : ""
        ratio[NR] = r != "" ? sprintf("%.3f", r) : "n/a"
        v = "info"
        if ($6 == "le_abs")   v = num($5) ? ($5 + 0 <= $7 + 0 ? "PASS" : "MISS") : "n/a"
        if ($6 == "le_ratio") v = r != "" ? (r <= $7 + 0 ? "PASS" : "MISS") : "n/a"
        if ($6 == "ge_ratio") v = r != "" ? (r >= $7 + 0 ? "PASS" : "MISS") : "n/a"
        if ($6 == "eq")       v = num($5) ? ($5 + 0 == $7 + 0 ? "PASS" : "MISS") : "n/a"
        verdict[NR] = v; target[NR] = $8
    }
    END {
        fmtline = "%-64s %11s %11s %11s %9s  %-15s %s\n"
        printf fmtline, "scenario [unit]", "bare", "go", "lib", "lib/bare", "target", "result"
        print header > md
        print "" > md
        print "| scenario | unit | bare | go | lib | lib/bare | target | result |" > md
        print "|---|---|---:|---:|---:|---:|---|---|" > md
        for (i = 1; i <= NR; i++) {
            printf fmtline, scen[i] " [" unit[i] "]", fmt(b[i]), fmt(g[i]), fmt(l[i]), ratio[i], target[i], verdict[i]
            printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", scen[i], unit[i], fmt(b[i]), fmt(g[i]), fmt(l[i]), ratio[i], target[i], (verdict[i] == "MISS" ? "**MISS**" : verdict[i]) > md
        }
    }' "$TSV"
}

plot() {
    command -v gnuplot >/dev/null || { warn "no gnuplot: no plot"; return; }
    gnuplot -e "datafile='$RESULTS/idle_sweep.dat'; outfile='$RESULTS/rss_cpu.png'" \
        "$HERE/plot.gnuplot" 2>"$RAW/gnuplot.err" || warn "gnuplot failed (see $RAW/gnuplot.err)"
}

# ---------------------------------------------------------------------------------------------
if [ "$RENDER_ONLY" = 1 ]; then # the table again from raw/table.tsv, keeping results.md's header
    [ -f "$TSV" ] || die "no $TSV to render"
    render "$(sed -n '1,3p' "$RESULTS/results.md")"
    exit 0
fi
install_missing
log "building in $BUILD"
build
# What is measured: the tree as built now (include/ may change while the scenarios run).
CODE="include/ at $(git -C "$HERE" log -1 --format=%h -- ../include 2>/dev/null || echo unknown)$(git -C "$HERE" diff --quiet HEAD -- ../include 2>/dev/null || echo " with uncommitted changes")"
# A copy outside git (e.g. git archive of a commit) has no history to name.
git -C "$HERE" rev-parse --git-dir >/dev/null 2>&1 || CODE="include/ of a tree outside git"
[ -x "$BUILD/go_server" ] && have_go=1 || { have_go=0; warn "no go_server (golang-go missing): Go column is n/a"; }
# lib_server has --loop coro only where Asio has C++20 coroutines.
"$BUILD/lib_server" --list-loops 2>/dev/null | grep -qw coro && have_coro=1 || have_coro=0
for s in coro echo coro_echo; do
    case " $SERVERS " in
    *" $s "*) available $s || warn "no $s server in this build (no C++20 coroutines, or built before it existed): its rows are n/a" ;;
    esac
done
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "load average before: $LOAD_BEFORE (other work on the machine skews throughput; medians of $REPS runs)"

[ $CALLGRIND = 1 ] || ONLY=$(echo " $ONLY " | sed 's/ callgrind / /; s/ allocations / /')
for s in $ONLY; do
    case $s in
    idle | pipeline | rr | frozen | flood | callgrind | allocations) "scenario_$s" ;;
    *) die "unknown scenario $s" ;;
    esac
done

g() { echo "${R[$1]:-nan}"; }
S=$IDLE_N
row "$S idle sessions: server RSS per session" "bytes" "$(g rss.bare)" "$(g rss.go)" "$(g rss.lib)" le_abs 1024 "lib <= 1024 B"
row "$S idle sessions: server CPU per heartbeat" "us" "$(g cpu.bare)" "$(g cpu.go)" "$(g cpu.lib)" le_ratio 1.1 "<= 1.1x bare"
row "pipelined echo, $PIPE_CONNS conns x $PIPE_WINDOW B in flight" "lines/s" "$(g pipe.bare)" "$(g pipe.go)" "$(g pipe.lib)" ge_ratio 0.9 ">= 0.9x bare"
row "  same, per server CPU second" "lines/cpu-s" "$(g pipe.cpu.bare)" "$(g pipe.cpu.go)" "$(g pipe.cpu.lib)" info "" "-"
# The awaited loops: one row each, the server's figure in the lib column, against bare.
row "pipelined echo, awaited loop (callbacks)" "lines/s" "$(g pipe.bare)" "-" "$(g pipe.await)" ge_ratio 0.5 ">= 0.5x bare"
row "pipelined echo, awaited loop (coroutine)" "lines/s" "$(g pipe.bare)" "-" "$(g pipe.coro)" ge_ratio 0.5 ">= 0.5x bare"
row "pipelined echo, example echo_server" "lines/s" "$(g pipe.bare)" "-" "$(g pipe.echo)" ge_ratio 0.5 ">= 0.5x bare"
row "pipelined echo, example coro_echo_server" "lines/s" "$(g pipe.bare)" "-" "$(g pipe.coro_echo)" ge_ratio 0.5 ">= 0.5x bare"
# Where bare does not fill its CPU the load generator is the limit, and a throughput ratio
# flatters a slower server: its lines per CPU second against bare's say what it costs.
for s in await coro echo coro_echo; do
    row "  $s, per server CPU second" "lines/cpu-s" "$(g pipe.cpu.bare)" "-" "$(g pipe.cpu.$s)" info "" "-"
done
row "request-response, $RR_CONNS conns, one line in flight" "round trips/s" "$(g rr.bare)" "$(g rr.go)" "$(g rr.lib)" ge_ratio 0.95 ">= 0.95x bare"
row "  same, per server CPU second" "rt/cpu-s" "$(g rr.cpu.bare)" "$(g rr.cpu.go)" "$(g rr.cpu.lib)" info "" "-"
row "request-response, awaited loop (callbacks)" "round trips/s" "$(g rr.bare)" "-" "$(g rr.await)" ge_ratio 0.95 ">= 0.95x bare"
row "request-response, awaited loop (coroutine)" "round trips/s" "$(g rr.bare)" "-" "$(g rr.coro)" ge_ratio 0.95 ">= 0.95x bare"
row "request-response, example echo_server" "round trips/s" "$(g rr.bare)" "-" "$(g rr.echo)" ge_ratio 0.95 ">= 0.95x bare"
row "request-response, example coro_echo_server" "round trips/s" "$(g rr.bare)" "-" "$(g rr.coro_echo)" ge_ratio 0.95 ">= 0.95x bare"
row "$((FROZEN_LIVE + FROZEN_N)) sessions, $FROZEN_N frozen: detection latency p50" "ms" "$(g fz.p50.bare)" "$(g fz.p50.go)" "$(g fz.p50.lib)" info "" "-"
row "  detection latency p99 (close - last byte - timeout)" "ms" "$(g fz.p99.bare)" "$(g fz.p99.go)" "$(g fz.p99.lib)" le_abs 50 "p99 <= 50 ms"
row "  frozen sessions detected" "count" "$(g fz.det.bare)" "$(g fz.det.go)" "$(g fz.det.lib)" eq $FROZEN_N "all $FROZEN_N"
row "  live sessions ended" "count" "$(g fz.live.bare)" "$(g fz.live.go)" "$(g fz.live.lib)" eq 0 "0"
row "flood on $FLOOD_CONNS conns + $FLOOD_IDLE idle: sessions ended by mistake" "count" "$(g fl.ended.bare)" "$(g fl.ended.go)" "$(g fl.ended.lib)" eq 0 "0"
row "  heartbeat round trip p99 during the flood" "ms" "$(g fl.rtt.bare)" "$(g fl.rtt.go)" "$(g fl.rtt.lib)" info "" "-"
row "  flood echo throughput" "lines/s" "$(g fl.lines.bare)" "$(g fl.lines.go)" "$(g fl.lines.lib)" info "" "-"
if [ $CALLGRIND = 1 ]; then
    row "callgrind: instructions per echoed frame" "Ir" "$(g ir.frame.bare)" "n/a" "$(g ir.frame.lib)" le_ratio 1.2 "<= 1.2x bare"
    row "callgrind: instructions per heartbeat" "Ir" "$(g ir.hb.bare)" "n/a" "$(g ir.hb.lib)" le_ratio 1.2 "<= 1.2x bare"
    row "  instructions per pipelined line (user space)" "Ir" "$(g ir.pipe.bare)" "n/a" "$(g ir.pipe.lib)" info "" "-"
    row "  heap allocations per echoed frame" "malloc" "$(g mc.frame.bare)" "n/a" "$(g mc.frame.lib)" info "" "-"
    row "  heap allocations per heartbeat" "malloc" "$(g mc.hb.bare)" "n/a" "$(g mc.hb.lib)" info "" "-"
    row "  heap held per idle session ($HEAP_N sessions)" "bytes" "$(g heap.bare)" "n/a" "$(g heap.lib)" info "" "-"
fi
plot
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
mode="full run"
[ $QUICK = 1 ] && mode="quick run (small N, short windows: not for comparison)"
header="# heartbeat benchmarks: $mode

$(date -u '+%Y-%m-%d %H:%M UTC'), $CODE (as built at the start), $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)), kernel $(uname -r), load average before/after: $LOAD_BEFORE / $LOAD_AFTER; throughput: median of $REPS runs; server pinned to CPU 0 and load generators to CPU 1: $([ ${#PIN_S[@]} -gt 0 ] && echo yes || echo no); Go with GOMAXPROCS=$GO_PROCS; took $(($(date +%s) - T0)) s."
echo
render "$header"
echo
log "results: $RESULTS/results.md, $RESULTS/idle_sweep.dat, $RESULTS/rss_cpu.png; raw outputs in $RAW"
