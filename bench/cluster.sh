#!/usr/bin/env bash
# Cluster benchmarks: the same loadgen runs against one roost node (no
# replication) and a three-node cluster at R3 on this machine, alternating
# the two setups run by run, with fresh data for each setup.
#
#   LOADGEN=/path/to/loadgen bench/cluster.sh [REPS]
#
# Scenarios (as the lab's compare.sh names them): one16 (C=16 on one counter),
# one1 (C=1), many-warm (10,000 counters created first, then random picks at
# C=64). Against the cluster, requests go round-robin through all three nodes
# (loadgen -hosts), so two thirds of them are forwarded to the owner. One JSON
# line per run (loadgen's, with "setup" and "bench" in front) goes to
# stdout; CPU time per operation per node is in each line's cpu fields
# (loadgen -rss-pid sums the listed PIDs: divide by the node count).
# Needs: go, curl, a loadgen binary (github.com/.../lab/loadgen or compatible).
set -euo pipefail
cd "$(dirname "$0")/.."
LOADGEN="${LOADGEN:?set LOADGEN to a loadgen binary}"
REPS="${1:-3}"
WORK="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
go build -o "$WORK/roost" ./cmd/roost
ulimit -n "$(ulimit -Hn)"

answers() { curl -s -o /dev/null --max-time 1 "http://$1/metrics"; }
for port in 8801 8802 8803; do
  if answers "127.0.0.1:$port"; then echo "something already answers on 127.0.0.1:$port; stop it first" >&2; exit 1; fi
done
wait_up() { for _ in $(seq 1 300); do answers "$1" && return 0; sleep 0.1; done; echo "no answer on $1" >&2; exit 1; }

# start_single / start_cluster print the PIDs; HOSTS is set to the HTTP addresses.
start_single() {
  rm -rf "$WORK/single"; mkdir -p "$WORK/single"
  "$WORK/roost" serve --addr 127.0.0.1:8801 --data "$WORK/single" --log-level warn >"$WORK/single.log" 2>&1 &
  PIDS=$!; HOSTS=127.0.0.1:8801; wait_up 127.0.0.1:8801
}
start_cluster() {
  PIDS=""; HOSTS=""
  for i in 1 2 3; do
    rm -rf "$WORK/n$i"; mkdir -p "$WORK/n$i"
    join=$(for j in 1 2 3; do if [ "$j" != "$i" ]; then printf '127.0.0.1:730%s,' "$j"; fi; done)
    "$WORK/roost" serve --addr "127.0.0.1:880$i" --data "$WORK/n$i" --node "n$i" --cluster "127.0.0.1:730$i" \
      --join "${join%,}" --log-level warn >"$WORK/n$i.log" 2>&1 &
    PIDS="$PIDS${PIDS:+,}$!"; HOSTS="$HOSTS${HOSTS:+,}127.0.0.1:880$i"
  done
  for i in 1 2 3; do wait_up "127.0.0.1:880$i"; done
  # Every shard owned before measuring: a first write per shard's owner.
  for _ in $(seq 1 100); do
    curl -s --max-time 5 "http://127.0.0.1:8801/_roost/cluster" | grep -q '"node":""' || break; sleep 0.2
  done
}
stop() { kill ${PIDS//,/ } 2>/dev/null || true; wait 2>/dev/null || true; }

run() { # setup bench loadgen-args...
  local setup=$1 scenario=$2; shift 2
  "$LOADGEN" -url "http://{host}/counter/{id}/increment" -hosts "$HOSTS" -rss-pid "$PIDS" "$@" 2>>"$WORK/loadgen.log" |
    sed "s/^{/{\"setup\":\"$setup\",\"bench\":\"$scenario\",/"
}

for rep in $(seq 1 "$REPS"); do
  for setup in single cluster3; do
    if [ "$setup" = single ]; then start_single; else start_cluster; fi
    run "$setup" one16 -scenario http-one -id "hot-$rep" -c 16 -warmup 2s -d 10s
    run "$setup" one1 -scenario http-one -id "solo-$rep" -c 1 -warmup 2s -d 10s
    run "$setup" populate -scenario http-many -k 10000 -c 64 -pick rr -prefix "w$rep-" -max-requests 10000 -d 120s
    run "$setup" many-warm -scenario http-many -k 10000 -c 64 -pick random -seed "$rep" -prefix "w$rep-" -d 10s
    stop
  done
done
