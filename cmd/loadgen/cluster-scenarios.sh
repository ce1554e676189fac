#!/usr/bin/env bash
# Issue 14's figures, in one sitting: the same chat workloads on one instance (SQLite, then
# PostgreSQL) and on two instances (PostgreSQL + NATS, the people of each room dealt over
# both), with the CPU of every process counted over the measured window: gifchat's, and
# PostgreSQL's backends and nats-server's (loadgen -cpu-of). One JSON report per run in $OUT.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-bin/load-cluster}
DURATION=${DURATION:-10s}
PG=${PG:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
NATS=${NATS:-nats://127.0.0.1:4222}
export PGOPTIONS="-c client_min_messages=warning"
mkdir -p "$OUT"
go build -o bin/gifchat .
go build -o bin/loadgen ./cmd/loadgen
ulimit -n 65536 2>/dev/null || true

pids=()
schema=""
start() { # mode: sqlite | postgres | cluster
  local mode=$1 n=1 store=() addrs=()
  schema=""
  if [ "$mode" != sqlite ]; then
    schema="gifchat_load_$$_$RANDOM"
    psql "$PG" -qc "CREATE SCHEMA $schema"
    store=(-postgres "$PG&search_path=$schema")
  fi
  [ "$mode" = cluster ] && n=2
  for i in $(seq "$n"); do
    local addr="127.0.0.1:$((8096 + i))" extra=()
    [ "$mode" = cluster ] && extra=(-nats "$NATS" -instance "load-$i")
    bin/gifchat -addr "$addr" -data "$(mktemp -d)" "${store[@]}" "${extra[@]}" -max-capacity 1000 -rate-limits=false \
      -max-sockets-per-person 100000 -max-sockets-per-address 100000 -max-lobby-streams-per-address 100000 \
      -empty-room-grace 30m -log-level warn 2>>"$OUT/server.log" &
    pids+=($!)
    addrs+=("$addr")
    for _ in $(seq 100); do curl -fs "http://$addr/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  done
  targets=$(IFS=,; echo "${addrs[*]}")
  pidlist=$(IFS=,; echo "${pids[*]}")
}
stop() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pids=()
  if [ -n "$schema" ]; then psql "$PG" -qc "DROP SCHEMA $schema CASCADE" || true; schema=""; fi
}
trap stop EXIT

run() { # name, mode, loadgen flags...
  local name=$1 mode=$2; shift 2
  start "$mode"
  echo "== $name ($mode)"
  bin/loadgen -targets "$targets" -pid "$pidlist" -cpu-of postgres,nats-server -json "$OUT/$name-$mode.json" "$@" 2>&1 |
    grep -E '^product|p99' || true
  stop
}

for mode in sqlite postgres cluster; do
  run rooms-100x10-10mps "$mode" -people 1000 -rooms 100 -capacity 10 -senders 1 -rate 10 -duration "$DURATION"
  run saturation-1x500 "$mode" -people 500 -capacity 500 -duration "$DURATION" -window 16
done

# Reconnect storm on two instances (issue 18): PostgreSQL + NATS, behind cmd/proxy, 10,000
# people in rooms of 100. Instance one runs throughout; instance two is the load generator's
# -server, restarted (SIGTERM, then kill -9 in a second run): its people reconnect through the
# proxy, to instance one while two is down, to either once it is back. The proxy asks both
# instances' /healthz every second (its default), so for up to a second after the load
# generator has started instance two, the first people all go to instance one. A shorter
# interval is also a shorter timeout for /healthz, and under the storm's load that made the
# proxy take both instances out of turn again and again (502s) at 100 ms.
go build -o bin/proxy ./cmd/proxy
STORM_PEOPLE=${STORM_PEOPLE:-10000}
PROXY=127.0.0.1:8096
storm_cluster() { # name, term|kill, loadgen flags...
  local name=$1 restart=$2; shift 2
  schema="gifchat_load_$$_$RANDOM"
  psql "$PG" -qc "CREATE SCHEMA $schema"
  local store="$PG&search_path=$schema"
  local flags="-max-capacity 1000 -rate-limits=false -max-sockets-per-person 100000 -max-sockets-per-address 100000 -max-lobby-streams-per-address 100000 -empty-room-grace 30m -log-level warn -trust-proxy"
  # shellcheck disable=SC2086 # $flags is a list of flags
  bin/gifchat -addr 127.0.0.1:8097 -data "$(mktemp -d)" -postgres "$store" -nats "$NATS" -instance load-1 $flags 2>>"$OUT/server.log" &
  pids+=($!)
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:8097/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  bin/proxy -addr "$PROXY" -backends http://127.0.0.1:8097,http://127.0.0.1:8098 2>>"$OUT/proxy.log" &
  pids+=($!)
  for _ in $(seq 100); do curl -fs "http://$PROXY/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  echo "== $name (cluster, instance two restarted)"
  bin/loadgen -mode storm -restart "$restart" -addr "$PROXY" -server-addr 127.0.0.1:8098 \
    -server "bin/gifchat -addr 127.0.0.1:8098 -data $(mktemp -d) -postgres $store -nats $NATS -instance load-2 $flags" \
    -server-log "$OUT/server.log" -json "$OUT/$name.json" \
    -people "$STORM_PEOPLE" -rooms $((STORM_PEOPLE / 100)) -capacity 100 -timeout 15m "$@" 2>&1 | grep -E '^product' || true
  stop
}
storm_cluster storm-term-10000x100 term
storm_cluster storm-kill-10000x100 kill
