#!/usr/bin/env bash
# The examples' smoke test (CTest runs it): echo_server and echo_client over loopback, and raw
# peers in Python where a scenario needs exact bytes. Usage: echo_smoke_test.sh SCENARIO
# ECHO_SERVER ECHO_CLIENT, with SCENARIO one of
#   round_trip                      lines piped into echo_client come back, also from a regular
#                                   file and from /dev/null; SIGTERM stops the server cleanly
#   silent_client_dropped           a --silent client (no PING, no PONG) is dropped by the
#                                   server's read timeout
#   half_close                      a client that sends, then shuts down its sending side, gets
#                                   every echo before the server closes (3 lines, then 1,000)
#   client_exits_when_session_ends  echo_client, its input held open, against a server that
#                                   accepts and then does nothing: it exits right after its read
#                                   timeout ends the session
#   refused_line                    echo_client refuses the line PING (a heartbeat word), names
#                                   it, exits 1, and still sends the other lines
#   crlf                            echo_server --crlf sends CRLF lines, PINGs included, however
#                                   the client's lines end; echo_client --crlf sends CRLF lines
#   stray_cr_echoed                 "x\r\r\n" is echoed as "x", and the next line comes back too
#   reconnect                       echo_client --reconnect keeps its input across a server
#                                   restart on the same port: the lines read while the server
#                                   was down come back once it is up again, in order
# Every wait is bounded; python3 plays the raw peers (nc may not be installed).
set -euo pipefail

scenario=$1
server=$2
client=$3

work=$(mktemp -d)
server_pid=
helper_pid=
cleanup() {
    for pid in $server_pid $helper_pid; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
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

# start_helper NAME PYTHON_CODE [ARG...]: runs a Python peer that prints the port it listens on
# first; sets helper_port. Its output goes to NAME.log.
start_helper() {
    local name=$1 code=$2
    shift 2
    timeout 30 python3 -c "$code" "$@" >"$work/$name.log" 2>&1 &
    helper_pid=$!
    helper_port=
    for _ in $(seq 100); do
        helper_port=$(sed -n '1s/^\([0-9][0-9]*\)$/\1/p' "$work/$name.log")
        [[ -n $helper_port ]] && break
        kill -0 "$helper_pid" 2>/dev/null || fail "$name exited before listening"
        sleep 0.05
    done
    [[ -n $helper_port ]] || fail "$name did not report its port"
}

# wait_for_log PATTERN: the server's line for a session may trail the peer's view of its end.
wait_for_log() {
    for _ in $(seq 50); do
        grep -q -- "$1" "$work/server.log" && return 0
        sleep 0.1
    done
    return 1
}

server_args=()
[[ $scenario == crlf ]] && server_args=(--crlf)

# A free port is the server's to pick (--port 0); it prints "listening on 127.0.0.1:PORT".
# --foreground: timeout passes our SIGTERM to the server alone, once.
: >"$work/server.log"
timeout --foreground 60 "$server" --bind 127.0.0.1 --port 0 --interval-ms 200 --timeout-ms 700 \
    "${server_args[@]}" >"$work/server.log" 2>&1 &
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

    # Standard input that epoll cannot watch: a regular file, /dev/null.
    printf 'hello\nworld\n' >"$work/input.txt"
    rc=0
    timeout 20 "$client" --port "$port" --interval-ms 200 --timeout-ms 700 <"$work/input.txt" \
        >"$work/client.out" 2>"$work/client.log" || rc=$?
    [[ $rc -eq 0 ]] || fail "echo_client exited $rc with its input from a file"
    [[ $(cat "$work/client.out") == $'hello\nworld' ]] || fail "unexpected echoes from a file"
    rc=0
    timeout 20 "$client" --port "$port" --interval-ms 200 --timeout-ms 700 </dev/null \
        >"$work/client.out" 2>"$work/client.log" || rc=$?
    [[ $rc -eq 0 ]] || fail "echo_client exited $rc with its input from /dev/null"
    [[ ! -s $work/client.out ]] || fail "echoes from /dev/null"
    grep -q "session ended: input finished" "$work/client.log" || fail "no clean end, /dev/null"

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
half_close)
    # Each exchange prints the client's port, to find the server's line for its session.
    python3 - "$port" >"$work/half_close.log" 2>&1 <<'EOF' || fail "half-closed client"
import socket, sys

def exchange(lines):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
    print(s.getsockname()[1], flush=True)
    s.sendall(b"".join(line + b"\n" for line in lines))
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:  # until the server closes; each wait bounded by the timeout
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    if not data.endswith(b"\n"):
        sys.exit("FAIL: the echoes end mid-line or are missing: %r" % data[-60:])
    echoes = [line for line in data.split(b"\n")[:-1] if line != b"PING"]
    if echoes != lines:
        same = next((i for i, (a, b) in enumerate(zip(echoes, lines)) if a != b),
                    min(len(echoes), len(lines)))
        sys.exit("FAIL: %d echoes of %d lines, the same up to line %d" %
                 (len(echoes), len(lines), same))

exchange([b"a", b"b", b"c"])
exchange([b"line %d" % i for i in range(1000)])
EOF
    while read -r client_port; do
        wait_for_log "^127\.0\.0\.1:$client_port ended: End of file$" ||
            fail "no 'ended: End of file' for the client on port $client_port"
    done < <(grep -x '[0-9][0-9]*' "$work/half_close.log")
    echo "3 and 1,000 lines echoed after the client's half-close"
    ;;
client_exits_when_session_ends)
    # A frozen server: it accepts, then never reads nor writes.
    start_helper frozen_server '
import socket, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
s.settimeout(20)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
time.sleep(20)
'
    # Standard input stays open, so only the session's end can end echo_client.
    mkfifo "$work/stdin"
    exec 3<>"$work/stdin"
    start=$(now_ms)
    rc=0
    timeout 20 "$client" --port "$helper_port" --interval-ms 100 --timeout-ms 500 \
        <"$work/stdin" >"$work/client-stdout.log" 2>"$work/client.log" || rc=$?
    elapsed=$(($(now_ms) - start))
    exec 3>&-
    [[ $rc -ne 0 && $rc -ne 124 ]] || fail "echo_client exited $rc, expected 1 (timed out)"
    grep -q "session ended: peer timed out" "$work/client.log" || fail "no timeout reported"
    # 500 ms read timeout, then exit within 100 ms; the rest is slack for a loaded machine.
    ((elapsed >= 450 && elapsed < 1500)) ||
        fail "echo_client exited after $elapsed ms, expected 500-600 ms"
    echo "echo_client exited $elapsed ms after it started"
    ;;
refused_line)
    rc=0
    printf 'hello\nPING\nworld\n' |
        timeout 20 "$client" --port "$port" --interval-ms 200 --timeout-ms 700 \
            >"$work/client.out" 2>"$work/client.log" || rc=$?
    cp "$work/client.out" "$work/client-stdout.log"
    [[ $rc -eq 1 ]] || fail "echo_client exited $rc, expected 1 (a line refused)"
    grep -qF 'not sent: "PING": frame cannot be encoded by this framing' "$work/client.log" ||
        fail "the refused line and its reason are not reported"
    [[ $(cat "$work/client.out") == $'hello\nworld' ]] || fail "unexpected echoes"
    ;;
crlf)
    # echo_server --crlf: CRLF lines out, whatever ends the lines coming in.
    python3 - "$port" >"$work/crlf_client.log" 2>&1 <<'EOF' || fail "echo_server --crlf"
import socket, sys, time

s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"hi\r\n")
s.sendall(b"x\r\r\n")
s.sendall(b"y\n")
data = b""
deadline = time.monotonic() + 5
while True:
    lines = data.split(b"\n")[:-1]
    bare = [line for line in lines if not line.endswith(b"\r")]
    if bare:
        sys.exit("FAIL: a line without CR: %r in %r" % (bare[0], data))
    payloads = [line[:-1] for line in lines]
    echoes = [p for p in payloads if p != b"PING"]
    # The three echoes, and a PING: the server sends one after 200 ms of its own silence.
    if len(echoes) >= 3 and len(echoes) < len(payloads):
        break
    if time.monotonic() > deadline:
        sys.exit("FAIL: after 5 s, received %r" % data)
    chunk = s.recv(4096)
    if not chunk:
        sys.exit("FAIL: closed after %r" % data)
    data += chunk
if echoes != [b"hi", b"x", b"y"]:
    sys.exit("FAIL: echoes %r" % echoes)
print("received %r" % data)
EOF
    # echo_client --crlf, against a server that records the bytes and echoes the lines.
    start_helper crlf_server '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
s.settimeout(20)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
c.settimeout(20)
data = pending = b""
while True:
    chunk = c.recv(4096)
    if not chunk:
        break
    data += chunk
    pending += chunk
    while b"\n" in pending:
        line, pending = pending.split(b"\n", 1)
        if line.rstrip(b"\r") not in (b"PING", b"PONG"):
            c.sendall(line + b"\n")
open(sys.argv[1], "wb").write(data)
' "$work/crlf_received"
    rc=0
    printf 'hello\nworld\n' |
        timeout 20 "$client" --port "$helper_port" --interval-ms 100 --timeout-ms 5000 --crlf \
            >"$work/client.out" 2>"$work/client.log" || rc=$?
    [[ $rc -eq 0 ]] || fail "echo_client --crlf exited $rc"
    [[ $(cat "$work/client.out") == $'hello\nworld' ]] || fail "unexpected echoes"
    wait "$helper_pid" || fail "the recording server failed"
    helper_pid=
    python3 - "$work/crlf_received" <<'EOF' || fail "echo_client --crlf sent other bytes"
import sys
data = open(sys.argv[1], "rb").read()
lines = data.split(b"\n")
if lines[-1] != b"" or not all(line.endswith(b"\r") for line in lines[:-1]):
    sys.exit("FAIL: not all CRLF lines: %r" % data)
payloads = [line[:-1] for line in lines[:-1] if line[:-1] not in (b"PING", b"PONG")]
if payloads != [b"hello", b"world"]:
    sys.exit("FAIL: sent %r" % data)
print("echo_client --crlf sent %r" % data)
EOF
    ;;
stray_cr_echoed)
    python3 - "$port" >"$work/stray_cr.log" 2>&1 <<'EOF' || fail "x\r\r\n and the next line"
import socket, sys

s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
incoming = s.makefile("rb")

def next_line():  # the next line that is not a PING; the timeout bounds the wait
    while True:
        line = incoming.readline()
        if not line:
            sys.exit("FAIL: the server closed the connection")
        if line != b"PING\n":
            return line

s.sendall(b"x\r\r\n")
if (line := next_line()) != b"x\n":
    sys.exit("FAIL: %r echoed as %r" % (b"x\r\r\n", line))
s.sendall(b"z\n")
if (line := next_line()) != b"z\n":
    sys.exit("FAIL: the next line came back as %r" % line)
EOF
    ! grep -q "not echoed" "$work/server.log" || fail "the server refused an echo"
    ;;
reconnect)
    # Standard input stays open (a FIFO this script holds): the script types the lines.
    mkfifo "$work/stdin"
    exec 3<>"$work/stdin"
    timeout 30 "$client" --port "$port" --interval-ms 200 --timeout-ms 700 --reconnect \
        <"$work/stdin" >"$work/client.out" 2>"$work/client.log" 3>&- &
    helper_pid=$!
    wait_for_file() { # FILE PATTERN: up to 10 s
        for _ in $(seq 100); do
            grep -q -- "$2" "$1" && return 0
            sleep 0.1
        done
        return 1
    }
    echo before >&3
    wait_for_file "$work/client.out" '^before$' || fail "no echo before the restart"
    kill -TERM "$server_pid"
    wait "$server_pid" || true
    wait_for_file "$work/client.log" 'reconnect: disconnected' || fail "no disconnect reported"
    printf 'gap 1\ngap 2\n' >&3
    sleep 0.5 # the server stays down a while: the client backs off, the lines wait
    timeout --foreground 60 "$server" --bind 127.0.0.1 --port "$port" --interval-ms 200 \
        --timeout-ms 700 >"$work/server.log" 2>&1 3>&- & # not a writer of the FIFO
    server_pid=$!
    # The default backoff: the first waits are at most 1 s and 1.6 s.
    wait_for_file "$work/client.out" '^gap 2$' || fail "the lines of the gap did not come back"
    echo after >&3
    exec 3>&-
    rc=0
    wait "$helper_pid" || rc=$?
    helper_pid=
    cp "$work/client.out" "$work/client-stdout.log"
    [[ $rc -eq 0 ]] || fail "echo_client --reconnect exited $rc"
    [[ $(cat "$work/client.out") == $'before\ngap 1\ngap 2\nafter' ]] || fail "unexpected echoes"
    (($(grep -c 'reconnect: connected' "$work/client.log") == 2)) ||
        fail "expected two connects"
    cat "$work/client.log"
    ;;
*)
    fail "unknown scenario '$scenario'"
    ;;
esac

cat "$work/server.log"
echo "PASS: $scenario"
