#!/usr/bin/env bash
# The PostgreSQL store under database pressure: a steady load (one submitter
# at a fixed rate, 64 sends per transaction, and two spooler processes) on a
# durable throwaway cluster of its own, sampled every `step` seconds: messages
# finished (the queue's deletes), the queue's depth, its dead tuples, its heap
# and index sizes.
#   benchmarks/postgres_pressure.sh vacuum [rate=3000] [phase_s=60] [step=10]
#       phase_s of load, then a REPEATABLE READ transaction held open for
#       phase_s beside it (vacuum cannot remove what it might see), then
#       phase_s after it ends
#   benchmarks/postgres_pressure.sh soak [rate=1000] [seconds=480] [step=30]
#       the load alone, with the autovacuum settings the migrations set
# SPOOL_VACUUM_MS sets the spoolers' postgres_options::vacuum_interval (0:
# autovacuum alone; unset: the default).
# Not a test, and not run by CI. Prints a table; docs/performance.md keeps
# the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:?vacuum or soak}
case "$what" in
  vacuum) rate=${2:-3000}; phase=${3:-60}; step=${4:-10}; seconds=$((3 * phase)) ;;
  soak) rate=${2:-1000}; seconds=${3:-480}; step=${4:-30}; phase=0 ;;
  *) echo "usage: $0 vacuum|soak ..." >&2; exit 2 ;;
esac
scripts/install-deps.sh
cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPOOL_BUILD_TESTS=OFF -DSPOOL_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/bench --target spool_postgres_throughput >/dev/null
bin=$PWD/build/bench/benchmarks/spool_postgres_throughput

work=$(mktemp -d /tmp/spool-pg-pressure.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  tests/postgres/cluster.sh stop "$work/cluster" || true
  rm -rf "$work"
}
trap cleanup EXIT
tests/postgres/cluster.sh start "$work/cluster" durable
base=$(cat "$work/cluster/conninfo")
psql "$base" -qc "CREATE SCHEMA pressure" >/dev/null
info="$base options='-csearch_path=pressure'"

"$bin" steady "$info" "$rate" "$seconds" >"$work/submitted" & pids+=($!)
sleep 1 # the schema made by the submitter's store before the spoolers open theirs
for _ in 1 2; do "$bin" spool "$info" "$work/never" 30000 0 "${SPOOL_VACUUM_MS:--1}" >/dev/null & pids+=($!); done

sample() {
  psql "$info" -qAtF' ' -c "SELECT coalesce(n_tup_del, 0), n_dead_tup, (SELECT count(*) FROM spool_queue),
      pg_relation_size('spool_queue'), pg_indexes_size('spool_queue'), pg_relation_size('spool_queue_pkey'),
      pg_relation_size('spool_queue_order'), pg_relation_size('spool_queue_due'), n_tup_hot_upd, n_tup_upd, autovacuum_count + vacuum_count
    FROM pg_stat_user_tables WHERE schemaname = 'pressure' AND relname = 'spool_queue'"
}
echo "load: $rate msg/s submitted, 2 spooler processes (vacuum_interval ${SPOOL_VACUUM_MS:-default} ms); a sample every ${step}s"
printf '%6s %-7s %10s %8s %10s %9s %9s %8s %8s %8s %6s %9s\n' t phase "done/s" depth dead heap_KiB idx_KiB pkey order due hot% vacuums
prev_del=0
for ((t = step; t <= seconds; t += step)); do
  if [ "$what" = vacuum ] && [ "$t" -eq $((phase + step)) ]; then
    psql "$info" -qc "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM spool_queue; SELECT pg_sleep($phase); COMMIT" >/dev/null &
    pids+=($!)
  fi
  sleep "$step"
  read -r del dead depth heap idx pkey order due hot upd vac <<<"$(sample)"
  label=load
  if [ "$what" = vacuum ]; then
    if [ "$t" -gt "$phase" ] && [ "$t" -le $((2 * phase)) ]; then label=held; elif [ "$t" -gt $((2 * phase)) ]; then label=after; else label=before; fi
  fi
  python3 -c "
d = ($del - $prev_del) / $step
hot = 100 * $hot / $upd if $upd else 0
print(f'{$t:6d} {\"$label\":7s} {d:10.0f} {$depth:8d} {$dead:10d} {$heap // 1024:9d} {$idx // 1024:9d} {$pkey // 1024:8d} {$order // 1024:8d} {$due // 1024:8d} {hot:6.1f} {$vac:9d}')"
  prev_del=$del
done
wait "${pids[0]}" || true
echo "submitted: $(cat "$work/submitted") messages in ${seconds}s; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
