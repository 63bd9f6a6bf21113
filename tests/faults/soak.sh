#!/usr/bin/env bash
# The soak: hbt_faults_soak as a server process and a client process on loopback, each with
# up to 20000 descriptors. Bounded: SOAK_SECONDS of churn (default 60) plus the drain.
#
#   tests/faults/soak.sh PATH/TO/hbt_faults_soak
#
# Environment: SOAK_SECONDS (60), SOAK_SESSIONS (5000), SOAK_SILENT_PERCENT (10).
# Exits non-zero when either process reports a failure.
set -euo pipefail

exe=${1:?usage: soak.sh PATH/TO/hbt_faults_soak}
seconds=${SOAK_SECONDS:-60}
sessions=${SOAK_SESSIONS:-5000}
silent=${SOAK_SILENT_PERCENT:-10}

work=$(mktemp -d "${TMPDIR:-/tmp}/hbt-soak.XXXXXX")
server_pid=
cleanup() {
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# Each process gets its own descriptor limit (the hard limit may be lower on other hosts).
fd_limit() {
    local hard
    hard=$(ulimit -Hn)
    if [[ $hard == unlimited || $hard -ge 20000 ]]; then echo 20000; else echo "$hard"; fi
}
limit=$(fd_limit)

(ulimit -Sn "$limit" && exec "$exe" server --port-file "$work/port" --warm $((sessions + 100))) \
    >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
    [[ -s $work/port ]] && break
    sleep 0.1
done
if [[ ! -s $work/port ]]; then
    echo "soak: the server did not start" >&2
    cat "$work/server.log" >&2
    exit 1
fi
port=$(cat "$work/port")
echo "soak: $sessions sessions, $silent% silent, ${seconds}s of churn, server pid $server_pid" \
    "on 127.0.0.1:$port, descriptor limit $limit per process"

client_rc=0
(ulimit -Sn "$limit" && exec "$exe" client --port "$port" --sessions "$sessions" \
    --seconds "$seconds" --silent-percent "$silent") || client_rc=$?

kill -TERM "$server_pid"
server_rc=0
wait "$server_pid" || server_rc=$?
server_pid=
cat "$work/server.log"

if [[ $client_rc -ne 0 || $server_rc -ne 0 ]]; then
    echo "soak: FAILED (client exit $client_rc, server exit $server_rc)"
    exit 1
fi
echo "soak: passed"
