#!/usr/bin/env bash
# End-to-end throughput of the PostgreSQL store with 1, 2 and 4 spooler
# processes on one local PostgreSQL 15 server with fsync and
# synchronous_commit on, beside raw inserts of the rows a submit writes
# (64 messages per transaction) on the same server in the same run; then the
# spooling alone (a queue filled first, drained by 1, 2 and 4 processes); then
# the recovery time after a spooler is killed with messages leased.
#   benchmarks/postgres_scaling.sh [messages=40000] [processes="1 2 4"] [lease_ms=1000] [river=1000000]
# River's shape (river messages queued first with spool's batching, timed,
# then drained by two processes) runs last; river=0 leaves it out.
# A message's clock: the submitter (64 sends per transaction) and the spoolers
# start together; it stops when the last spooler has found nothing left. Not
# a test, and not run by CI; the server is a throwaway cluster of its own
# (tests/postgres/cluster.sh ... durable), stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-40000}
processes=${2:-"1 2 4"}
lease_ms=${3:-1000}
river=${4:-1000000}
scripts/install-deps.sh
cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPOOL_BUILD_TESTS=OFF -DSPOOL_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/bench --target spool_postgres_throughput >/dev/null
bin=$PWD/build/bench/benchmarks/spool_postgres_throughput

work=$(mktemp -d /tmp/spool-pg-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  tests/postgres/cluster.sh stop "$work/cluster" || true
  rm -rf "$work"
}
trap cleanup EXIT
tests/postgres/cluster.sh start "$work/cluster" durable
base=$(cat "$work/cluster/conninfo")
psql "$base" -qAtc "SELECT 'server: fsync=' || current_setting('fsync') || ', synchronous_commit=' || current_setting('synchronous_commit')"
# A fresh schema for each run (its name given, as $(...) runs in a subshell).
schema() { psql "$base" -qc "CREATE SCHEMA $1" >/dev/null; echo "$base options='-csearch_path=$1'"; }
now() { date +%s.%N; }

raw_s=$("$bin" raw "$(schema raw)" "$messages")
raw_rate=$(python3 -c "print(round($messages / $raw_s))")
echo "raw inserts: $messages messages (2 rows each) in ${raw_s}s: $raw_rate msg/s, $((raw_rate * 2)) rows/s"

submit_only_s=$("$bin" submit "$(schema submit_only)" "$messages")
submit_rate=$(python3 -c "print(round($messages / $submit_only_s))")
echo "spool's submit alone (64 sends per client.batch): $messages messages in ${submit_only_s}s: $submit_rate msg/s, $(python3 -c "print(f'{$submit_rate / $raw_rate:.2f}')") of raw"

# SPOOL_BASELINE_BIN: another build's spool_postgres_throughput, whose submit
# is timed in the same run (before and after a change, on one server).
if [ -n "${SPOOL_BASELINE_BIN:-}" ]; then
  base_s=$("$SPOOL_BASELINE_BIN" submit "$(schema baseline)" "$messages")
  echo "baseline's submit alone: $messages messages in ${base_s}s: $(python3 -c "print(round($messages / $base_s))") msg/s"
fi

for p in $processes; do
  info=$(schema "p$p")
  rm -f "$work/done"
  start=$(now)
  pids=()
  for _ in $(seq "$p"); do "$bin" spool "$info" "$work/done" "$lease_ms" >/dev/null & pids+=($!); done
  submit_s=$("$bin" submit "$info" "$messages")
  touch "$work/done"
  for pid in "${pids[@]}"; do wait "$pid"; done
  pids=()
  end=$(now)
  left=$(psql "$info" -qAtc "SELECT count(*) FROM spool_queue")
  python3 -c "
e = $end - $start; r = $messages / e
print(f'spool, $p process(es): $messages messages in {e:.2f}s: {r:.0f} msg/s, {r / $raw_rate:.2f} of raw, {r / $submit_rate:.2f} of submit alone (the submitter took ${submit_s}s); left in the queue: $left')"
done

# The spooling alone: the queue filled first (not timed), then P spoolers
# drain it; the clock stops when the last finds nothing left. With
# SPOOL_BASELINE_BIN, the baseline build drains a queue of its own the same
# way, right after, for a ratio from the same run.
drain() { # binary label processes
  local info
  info=$(schema "d$3$2")
  "$1" submit "$info" "$messages" >/dev/null
  touch "$work/done"
  start=$(now)
  pids=()
  for _ in $(seq "$3"); do "$1" spool "$info" "$work/done" "$lease_ms" >/dev/null & pids+=($!); done
  for pid in "${pids[@]}"; do wait "$pid"; done
  pids=()
  end=$(now)
  python3 -c "
e = $end - $start; r = $messages / e
print(f'spooling a full queue${2:+ ($2)}, $3 process(es): $messages messages in {e:.2f}s: {r:.0f} msg/s, {r / $raw_rate:.2f} of raw')"
}
for p in $processes; do
  drain "$bin" "" "$p"
  if [ -n "${SPOOL_BASELINE_BIN:-}" ]; then drain "$SPOOL_BASELINE_BIN" baseline "$p"; fi
done

# Recovery: one spooler claims messages and is killed while it works on them
# (50 ms a message, synchronous); a second starts at once. The clock runs from
# the kill until the queue is empty: about one lease plus one poll interval.
info=$(schema recovery)
rm -f "$work/done"
"$bin" submit "$info" 500 >/dev/null
"$bin" spool "$info" "$work/done" "$lease_ms" 50 >/dev/null & victim=$!
sleep 1
kill -KILL "$victim"; wait "$victim" 2>/dev/null || true
killed=$(now)
held=$(psql "$info" -qAtc "SELECT count(*) FROM spool_queue WHERE lease_until > clock_timestamp()")
touch "$work/done"
"$bin" spool "$info" "$work/done" "$lease_ms" >/dev/null
python3 -c "print(f'recovery after a kill (lease $lease_ms ms, $held messages leased by the killed process): {$(now) - $killed:.2f}s until the queue was empty')"

# River's shape: a large queue filled with spool's batching (timed: the rows'
# insert rate), then drained by two processes.
if [ "$river" -gt 0 ]; then
  info=$(schema river)
  fill_s=$("$bin" submit "$info" "$river")
  touch "$work/done"
  start=$(now)
  pids=()
  for _ in 1 2; do "$bin" spool "$info" "$work/done" "$lease_ms" >/dev/null & pids+=($!); done
  for pid in "${pids[@]}"; do wait "$pid"; done
  pids=()
  end=$(now)
  python3 -c "
f = $river / $fill_s; e = $end - $start; r = $river / e
print(f'River shape: $river messages inserted in {$fill_s:.1f}s ({f:.0f} msg/s), drained by 2 processes in {e:.1f}s: {r:.0f} msg/s, {r / f:.2f} of the insert rate')"
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
