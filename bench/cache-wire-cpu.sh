#!/usr/bin/env bash
# Where a cache hit's and a replica read's time goes at one client, by CPU rather than wall time
# (wall time on a loaded machine is mostly waiting for a core): pgbench -c 1 runs each statement
# for SECONDS; per transaction, the CPU of pgbench, of the shardgate process and of the replicas'
# PostgreSQL processes (from /proc, 10 ms ticks; the same interval with no client is measured
# first and subtracted: the proxy's and servers' background work), and the proxy's syscalls
# (strace -c, a separate short run: strace slows everything, only its counts are used).
# Usage: bench/cache-wire-cpu.sh <proxy pid> <proxy port> <user> <password> <replica ports,...> [seconds] [mode]
# e.g. against `npm start -- --no-mysql --state-file s.json` (the demo caches trending_topics):
#   bench/cache-wire-cpu.sh $(pgrep -f 'main.js demo') 6432 app app 41235,41237 5 simple
set -euo pipefail
PID=$1 PORT=$2 USER_=$3 PASS=$4 REPLICA_PORTS=$5 SECONDS_=${6:-5} MODE=${7:-simple}
HIT="SELECT topic, score FROM trending_topics WHERE id = 1;"
REPLICA="SELECT post_id FROM likes WHERE user_id = 1;"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
tick=$(getconf CLK_TCK)
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# The replicas' postmasters (by listening port) and their children (the backends serving shardgate).
POSTMASTERS=()
for port in ${REPLICA_PORTS//,/ }; do
  POSTMASTERS+=("$(ss -Hltnp "sport = :$port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)")
done
pg_cpu() {
  local t=0
  for pm in "${POSTMASTERS[@]}"; do
    for p in "$pm" $(pgrep -P "$pm"); do t=$((t + $(cpu_of "$p" 2>/dev/null || echo 0))); done
  done
  echo $t
}
# Background CPU per second while no client runs, in ticks (proxy, servers).
p0=$(cpu_of "$PID"); s0=$(pg_cpu); sleep "$SECONDS_"; p1=$(cpu_of "$PID"); s1=$(pg_cpu)
IDLE_P=$((p1 - p0)) IDLE_S=$((s1 - s0))
echo "idle over ${SECONDS_} s: shardgate $IDLE_P ticks, replicas $IDLE_S ticks (subtracted below)"
run() {
  local name=$1 sql=$2
  echo "$sql" > "$dir/$name.sql"
  local p0 s0 p1 s1 out
  p0=$(cpu_of "$PID"); s0=$(pg_cpu)
  out=$(PGPASSWORD=$PASS /usr/bin/time -f 'client_cpu %U %S' pgbench -n -M "$MODE" -c 1 -T "$SECONDS_" \
    -f "$dir/$name.sql" -h 127.0.0.1 -p "$PORT" -U "$USER_" shardgate 2>&1)
  p1=$(cpu_of "$PID"); s1=$(pg_cpu)
  local tx lat cu cs
  tx=$(echo "$out" | awk '/actually processed/ {print $NF}')
  lat=$(echo "$out" | awk '/latency average/ {print $4}')
  read -r cu cs < <(echo "$out" | awk '/client_cpu/ {print $2, $3}')
  awk -v n="$name" -v tx="$tx" -v lat="$lat" -v cu="$cu" -v cs="$cs" -v dp=$((p1 - p0 - IDLE_P)) -v ds=$((s1 - s0 - IDLE_S)) -v tick="$tick" \
    'BEGIN { printf "%-8s tx %7d  latency %.3f ms  CPU us/tx: pgbench %5.1f  shardgate %5.1f  postgres %5.1f\n",
      n, tx, lat, (cu + cs) * 1e6 / tx, dp / tick * 1e6 / tx, ds / tick * 1e6 / tx }'
}
for round in 1 2; do
  run hit "$HIT"
  run replica "$REPLICA"
done
# Syscalls of the proxy per transaction (2 s each under strace).
for name in hit replica; do
  PGPASSWORD=$PASS pgbench -n -M "$MODE" -c 1 -T 2 -f "$dir/$name.sql" -h 127.0.0.1 -p "$PORT" -U "$USER_" \
    shardgate > "$dir/$name.out" 2>&1 &
  bench=$!
  sleep 0.5
  timeout 1 strace -c -f -p "$PID" -o "$dir/$name.strace" 2>/dev/null || true
  wait $bench
  reads=$(awk '$NF=="read" {print $4}' "$dir/$name.strace")
  writes=$(awk '$NF=="write" || $NF=="writev" {s+=$4} END {print s+0}' "$dir/$name.strace")
  epolls=$(awk '$NF=="epoll_wait" || $NF=="epoll_pwait" {s+=$4} END {print s+0}' "$dir/$name.strace")
  echo "$name proxy syscalls in 1 s under strace: read ${reads:-0}  write/writev $writes  epoll_wait $epolls"
done
