#!/usr/bin/env bash
# The examples' smoke test (CTest runs it): echo_server and echo_client over loopback.
#   echo_smoke_test.sh round_trip            ECHO_SERVER ECHO_CLIENT
#       two lines piped into echo_client come back; SIGTERM stops the server cleanly
#   echo_smoke_test.sh silent_client_dropped ECHO_SERVER ECHO_CLIENT
#       a --silent client (no PING, no PONG) is dropped by the server's read timeout
set -euo pipefail

scenario=$1
server=$2
client=$3

work=$(mktemp -d)
server_pid=
cleanup() {
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

# A free port is the server's to pick (--port 0); it prints "listening on 127.0.0.1:PORT".
# --foreground: timeout passes our SIGTERM to the server alone, once.
: >"$work/server.log"
timeout --foreground 60 "$server" --bind 127.0.0.1 --port 0 --interval-ms 200 --timeout-ms 700 \
    >"$work/server.log" 2>&1 &
server_pid=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$work/server.log")
    [[ -n $port ]] && break
    kill -0 "$server_pid" 2>/dev/null || fail "echo_server exited before listening"
    sleep 0.1
done
[[ -n $port ]] || fail "echo_server did not report its port"
echo "echo_server listening on port $port"

case $scenario in
round_trip)
    rc=0
    printf 'hello\nworld\n' |
        timeout 20 "$client" --port "$port" --interval-ms 200 --timeout-ms 700 \
            >"$work/client.out" 2>"$work/client.log" || rc=$?
    cp "$work/client.out" "$work/client-stdout.log"
    [[ $rc -eq 0 ]] || fail "echo_client exited $rc"
    [[ $(cat "$work/client.out") == $'hello\nworld' ]] || fail "unexpected echoes"
    grep -q "session ended: input finished" "$work/client.log" || fail "no clean end"

    kill -TERM "$server_pid"
    rc=0
    wait "$server_pid" || rc=$?
    server_pid=
    [[ $rc -eq 0 ]] || fail "echo_server exited $rc after SIGTERM"
    grep -q "^stopping$" "$work/server.log" || fail "echo_server did not stop on SIGTERM"
    grep -q "^127\.0\.0\.1:[0-9]* ended: " "$work/server.log" || fail "no session end line"
    ;;
silent_client_dropped)
    # Standard input stays open (a FIFO this script holds), so only the server can end it.
    mkfifo "$work/stdin"
    exec 3<>"$work/stdin"
    start=$(now_ms)
    rc=0
    timeout 20 "$client" --port "$port" --silent --timeout-ms 0 \
        <"$work/stdin" >"$work/client-stdout.log" 2>"$work/client.log" || rc=$?
    elapsed=$(($(now_ms) - start))
    exec 3>&-
    [[ $rc -eq 1 ]] || fail "echo_client exited $rc, expected 1 (dropped)"
    grep -q "session ended: " "$work/client.log" || fail "echo_client gave no reason"
    ((elapsed >= 500 && elapsed < 5000)) || fail "dropped after $elapsed ms, expected ~700 ms"
    for _ in $(seq 50); do # the server's line may trail the client's exit
        grep -q "ended: peer timed out" "$work/server.log" && break
        sleep 0.1
    done
    grep -q "ended: peer timed out" "$work/server.log" || fail "server did not time it out"
    echo "silent client dropped after $elapsed ms"
    ;;
*)
    fail "unknown scenario '$scenario'"
    ;;
esac

cat "$work/server.log"
echo "PASS: $scenario"
