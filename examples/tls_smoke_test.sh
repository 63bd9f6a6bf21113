#!/usr/bin/env bash
# The TLS examples' smoke test (CTest runs it): tls_echo_server with a self-signed certificate
# and tls_echo_client verifying it, over loopback.
#   tls_smoke_test.sh round_trip             TLS_ECHO_SERVER TLS_ECHO_CLIENT
#       two lines piped into the client come back; the client's close says goodbye (the server
#       logs "End of file", not "stream truncated"); SIGTERM stops the server cleanly
#   tls_smoke_test.sh frozen_client_dropped  TLS_ECHO_SERVER TLS_ECHO_CLIENT
#       a client stopped with SIGSTOP after its handshake (a hung process, its kernel alive) is
#       dropped at the server's read timeout, without waiting shutdown_timeout for a goodbye
set -euo pipefail

scenario=$1
server=$2
client=$3

work=$(mktemp -d)
server_pid=
client_pid=
cleanup() {
    if [[ -n $client_pid ]]; then
        kill -KILL "$client_pid" 2>/dev/null || true
        wait "$client_pid" 2>/dev/null || true
    fi
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*"
    for log in "$work"/*.log; do
        [[ -f $log ]] || continue
        echo "--- $(basename "$log")"
        cat "$log"
    done
    exit 1
}

now_ms() { date +%s%3N; }

# Waits up to 10 s for `pattern` in `file`.
wait_for() {
    local pattern=$1 file=$2
    for _ in $(seq 100); do
        grep -q "$pattern" "$file" && return 0
        sleep 0.1
    done
    return 1
}

# The server writes its certificate (public half) where the client will look for it. A
# shutdown_timeout of 3 s makes a wrongly awaited goodbye obvious in frozen_client_dropped.
: >"$work/server.log"
timeout --foreground 60 "$server" --self-signed "$work/cert.pem" --bind 127.0.0.1 --port 0 \
    --interval-ms 200 --timeout-ms 700 --shutdown-timeout-ms 3000 >"$work/server.log" 2>&1 &
server_pid=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$work/server.log")
    [[ -n $port ]] && break
    kill -0 "$server_pid" 2>/dev/null || fail "tls_echo_server exited before listening"
    sleep 0.1
done
[[ -n $port ]] || fail "tls_echo_server did not report its port"
[[ -s $work/cert.pem ]] || fail "tls_echo_server did not write its certificate"
echo "tls_echo_server listening on port $port"

case $scenario in
round_trip)
    rc=0
    printf 'hello\nworld\n' |
        timeout 20 "$client" --ca "$work/cert.pem" --host localhost --port "$port" \
            --interval-ms 200 --timeout-ms 700 >"$work/client.out" 2>"$work/client.log" || rc=$?
    cp "$work/client.out" "$work/client-stdout.log"
    [[ $rc -eq 0 ]] || fail "tls_echo_client exited $rc"
    [[ $(cat "$work/client.out") == $'hello\nworld' ]] || fail "unexpected echoes"
    grep -q "session ended: input finished" "$work/client.log" || fail "no clean end"
    # The client's close_notify reached the server: a clean TLS end, not a truncation.
    wait_for "^127\.0\.0\.1:[0-9]* ended: " "$work/server.log" || fail "no session end line"
    grep -q "^127\.0\.0\.1:[0-9]* ended: End of file$" "$work/server.log" ||
        fail "the server did not see the client's close_notify"

    kill -TERM "$server_pid"
    rc=0
    wait "$server_pid" || rc=$?
    server_pid=
    [[ $rc -eq 0 ]] || fail "tls_echo_server exited $rc after SIGTERM"
    grep -q "^stopping$" "$work/server.log" || fail "tls_echo_server did not stop on SIGTERM"
    ;;
frozen_client_dropped)
    # Standard input stays open (a FIFO this script holds), so the client never ends by itself.
    mkfifo "$work/stdin"
    exec 3<>"$work/stdin"
    "$client" --ca "$work/cert.pem" --host localhost --port "$port" --interval-ms 200 \
        --timeout-ms 0 <"$work/stdin" >"$work/client-stdout.log" 2>"$work/client.log" &
    client_pid=$!
    wait_for "^connected$" "$work/client.log" || fail "tls_echo_client did not connect"
    wait_for " connected$" "$work/server.log" || fail "the server did not see the client"
    # The clock is read before SIGSTOP: reading it takes a process, slow on a loaded machine,
    # and a late start would shorten the measured time below its lower bound.
    start=$(now_ms)
    kill -STOP "$client_pid"
    for _ in $(seq 100); do
        grep -q "ended: " "$work/server.log" && break
        sleep 0.05
    done
    elapsed=$(($(now_ms) - start))
    exec 3>&-
    grep -q "ended: peer timed out" "$work/server.log" || fail "server did not time it out"
    # 700 ms after the client's last byte, which came at most one 200 ms interval before
    # SIGSTOP, or a little more when its PING was late (load): 300 ms leaves 200 ms for that,
    # and still fails a server that drops a client as soon as it is quiet. A goodbye would add
    # shutdown_timeout (3 s), since a stopped process never answers it.
    ((elapsed >= 300 && elapsed < 2500)) || fail "dropped after $elapsed ms, expected ~700 ms"
    echo "frozen client dropped after $elapsed ms"
    ;;
*)
    fail "unknown scenario '$scenario'"
    ;;
esac

cat "$work/server.log"
echo "PASS: $scenario"
