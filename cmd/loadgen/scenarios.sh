#!/usr/bin/env bash
# Reproduces the README's performance table: builds gifchat and loadgen, starts a fresh
# server on loopback for each scenario, runs the workload (against the bare baseline too where
# the issue asks for a ratio), and leaves one JSON report per scenario in $OUT.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-bin/load}
ADDR=${ADDR:-127.0.0.1:8099}
DURATION=${DURATION:-10s}
mkdir -p "$OUT"
go build -o bin/gifchat .
go build -o bin/loadgen ./cmd/loadgen
ulimit -n 65536 2>/dev/null || true

# PostgreSQL runs use a fresh schema on this server (the machines' local one by default).
PG=${PG:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
export PGOPTIONS="-c client_min_messages=warning"
STORE=sqlite
schema=""

server_pid=""
start_server() {
  local data store=()
  data=$(mktemp -d)
  if [ "$STORE" = postgres ]; then
    schema="gifchat_load_$$_$RANDOM"
    psql "$PG" -qc "CREATE SCHEMA $schema"
    store=(-postgres "$PG&search_path=$schema")
  fi
  bin/gifchat -addr "$ADDR" -data "$data" "${store[@]}" -max-capacity 1000 -rate-limits=false \
    -max-sockets-per-person 100000 -max-sockets-per-address 100000 -max-lobby-streams-per-address 100000 -empty-room-grace 30m -log-level warn 2>>"$OUT/server.log" &
  server_pid=$!
  for _ in $(seq 100); do curl -fs "http://$ADDR/healthz" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "server did not start" >&2; exit 1
}
stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  if [ -n "$schema" ]; then psql "$PG" -qc "DROP SCHEMA $schema CASCADE" || true; schema=""; fi
}
trap stop_server EXIT

run() { # name, loadgen flags...
  local name=$1; shift
  start_server
  echo "== $name"
  bin/loadgen -addr "$ADDR" -pid "$server_pid" -json "$OUT/$name.json" "$@" 2>&1 | grep -E '^(product|baseline|ratio|store|fsync)|per conn|p99' || true
  stop_server
}

run saturation-1x500     -baseline -people 500 -capacity 500 -duration "$DURATION" -window 16
# The server's data is in a fresh directory under ${TMPDIR:-/tmp}: the disk's fsync is timed
# there around the runs, for issue 18's limit (baseline p99 + 2 × fsync p99).
run rooms-100x10-10mps   -baseline -people 1000 -rooms 100 -capacity 10 -senders 1 -rate 10 -duration "$DURATION" \
  -fsync-probe "${TMPDIR:-/tmp}"
# saturation-1x500 with 50 of the receivers typing (a typing signal each every 3 s): compare
# with its product line for what typing costs.
run typing-1x500-50      -people 500 -capacity 500 -duration "$DURATION" -window 16 -typers 50
run idle-ws-10000        -mode idle -idle 10000 -capacity 100
run idle-sse-10000       -mode idle -idle-kind sse -idle 10000
run lobby-10000          -mode lobby -subscribers 10000 -creates 10

# Reconnect storms (issue 18): 10,000 people in rooms of 100 on one SQLite server, which the
# load generator starts itself (-server; split on white space, no shell), restarts and stops.
# The server is pinned to core 0 and the load generator to core 1 where taskset exists. First
# a graceful restart (SIGTERM: every socket gets 1012), then kill -9, then a graceful one with
# the senders going on through it.
STORM_PEOPLE=${STORM_PEOPLE:-10000}
pin() { if command -v taskset >/dev/null; then echo "taskset -c $1"; fi; }
storm() { # name, term|kill, loadgen flags...
  local name=$1 restart=$2; shift 2
  echo "== $name"
  $(pin 1) bin/loadgen -mode storm -restart "$restart" -addr "$ADDR" -json "$OUT/$name.json" -server-log "$OUT/server.log" \
    -server "$(pin 0) bin/gifchat -addr $ADDR -data $(mktemp -d) -max-capacity 1000 -rate-limits=false -max-sockets-per-person 100000 -max-sockets-per-address 100000 -max-lobby-streams-per-address 100000 -empty-room-grace 30m -log-level warn" \
    -people "$STORM_PEOPLE" -rooms $((STORM_PEOPLE / 100)) -capacity 100 -timeout 15m "$@" 2>&1 | grep -E '^product' || true
}
storm storm-term-10000x100         term
storm storm-kill-10000x100         kill
storm storm-term-10000x100-sending term -keep-sending

# The same chat workloads with everything stored in PostgreSQL (the server's CPU and memory
# figures are gifchat's alone; PostgreSQL's own are not counted).
STORE=postgres
run pg-saturation-1x500   -baseline -people 500 -capacity 500 -duration "$DURATION" -window 16
run pg-rooms-100x10-10mps -baseline -people 1000 -rooms 100 -capacity 10 -senders 1 -rate 10 -duration "$DURATION"
