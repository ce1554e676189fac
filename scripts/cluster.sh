#!/usr/bin/env bash
# task cluster: two gifchat instances on this machine's PostgreSQL and NATS, behind cmd/proxy
# on :8005, for trying several instances (open http://localhost:8005 in two browsers). Not a
# production set-up: see "Several instances" in the README. Ctrl-C stops all three.
# Expects bin/gifchat and bin/proxy (the task builds them). Extra arguments go to both
# instances.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_SERVER=${GIFCHAT_CLUSTER_PG_SERVER:-postgres://127.0.0.1:5432}
PG_DB=gifchat_cluster
PG_URL="$PG_SERVER/$PG_DB?sslmode=disable"
NATS_URL=nats://127.0.0.1:4222
PROXY_ADDR=${GIFCHAT_CLUSTER_PROXY_ADDR:-:8005}

say() { echo "cluster: $*" >&2; }
die() { say "$*"; exit 1; }

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432; }
nats_up() { (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; }
# wait_until SECONDS COMMAND...: true once COMMAND succeeds, false after SECONDS.
wait_until() {
  local tries=$(($1 * 10)); shift
  for _ in $(seq "$tries"); do "$@" && return 0; sleep 0.1; done
  return 1
}

[ -x bin/gifchat ] && [ -x bin/proxy ] || die "bin/gifchat or bin/proxy missing: run it as 'task cluster'"

# PostgreSQL: start the machine's server if it is installed but stopped (as .ci/run does).
if ! pg_up; then
  command -v pg_ctlcluster >/dev/null 2>&1 || die "PostgreSQL is not answering on 127.0.0.1:5432 and is not installed here"
  say "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  wait_until 30 pg_up || die "PostgreSQL did not come up on 127.0.0.1:5432"
fi
if [ -z "$(psql "$PG_SERVER/postgres?sslmode=disable" -qAtc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" ]; then
  say "creating database $PG_DB"
  psql "$PG_SERVER/postgres?sslmode=disable" -qc "CREATE DATABASE $PG_DB" >/dev/null
fi

# NATS: start the machine's nats-server if it is installed but stopped. It keeps running after
# Ctrl-C, like PostgreSQL: both are the machine's services, not this script's.
if ! nats_up; then
  [ -x /usr/sbin/nats-server ] || die "NATS is not answering on 127.0.0.1:4222 and /usr/sbin/nats-server is not installed"
  say "starting nats-server"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222
  wait_until 30 nats_up || die "NATS did not come up on 127.0.0.1:4222"
fi

pids=()
names=()
stop_all() {
  trap - INT TERM EXIT
  if [ ${#pids[@]} -gt 0 ]; then
    say "stopping"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
}
trap stop_all EXIT
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM

# start NAME COMMAND...: runs COMMAND in the background, its output prefixed with NAME.
# stop_all ends it with SIGTERM (gifchat then shuts down gracefully, as on Ctrl-C). The prefixing
# sed ignores Ctrl-C: it must outlive the command to pass on its last lines, and a command
# writing its shutdown log into a closed pipe would die of SIGPIPE instead of finishing.
start() {
  local name=$1; shift
  "$@" > >(trap '' INT; exec sed -u "s/^/$name | /") 2>&1 &
  pids+=($!)
  names+=("$name")
}

# ready NAME PID HEALTH_URL: true once the process answers; ends the script if it has died.
ready() {
  kill -0 "$2" 2>/dev/null || die "$1 exited at start (its output is above)"
  curl -fs -o /dev/null --max-time 1 "$3"
}

instance() { # name, port, data directory
  mkdir -p "$3"
  start "$1" bin/gifchat -addr "127.0.0.1:$2" -data "$3" -postgres "$PG_URL" -nats "$NATS_URL" \
    -instance "$1" -trust-proxy "${@:4}"
  wait_until 30 ready "$1" "${pids[-1]}" "http://127.0.0.1:$2/healthz" || die "$1 did not become healthy on 127.0.0.1:$2 within 30s"
}
instance one 8011 ./data/cluster-1 "$@"
instance two 8012 ./data/cluster-2 "$@"
start proxy bin/proxy -addr "$PROXY_ADDR" -backends http://127.0.0.1:8011,http://127.0.0.1:8012
wait_until 10 ready proxy "${pids[-1]}" "http://127.0.0.1:${PROXY_ADDR##*:}/healthz" || die "the proxy did not start on $PROXY_ADDR"

say "open http://localhost:${PROXY_ADDR##*:} in two browsers (instances one on :8011, two on :8012); Ctrl-C stops all three"
# Until Ctrl-C. An instance that ends (kill one to watch the browsers move to the other) leaves
# the rest running; the proxy ending, or the last instance, stops everything.
while :; do
  ended=""
  set +e
  wait -n -p ended "${pids[@]}"
  status=$?
  set -e
  [ -n "$ended" ] || die "lost track of the processes (wait: status $status); stopping the rest"
  for i in "${!pids[@]}"; do
    [ "${pids[$i]}" = "${ended:-}" ] || continue
    name=${names[$i]}
    unset 'pids[i]' 'names[i]'
    pids=("${pids[@]}") names=("${names[@]}")
    if [ "$name" = proxy ] || [ ${#pids[@]} -le 1 ]; then
      die "$name exited (status $status); stopping the rest"
    fi
    say "$name exited (status $status); the proxy sends the browsers to the other instance"
    break
  done
done
