#!/usr/bin/env bash
# A destination that is down with 1,000,000 messages waiting for it, beside
# 100 msg/s to a healthy one: the healthy messages' p99 from submit to
# hand-off against an empty queue, on SQLite and on PostgreSQL (a durable
# throwaway cluster of its own), the median of three runs each, with the load
# average. Target: within 2x. Not a test, and not run by CI.
#   benchmarks/down_destination.sh [held=1000000] [runs=3]
set -euo pipefail
cd "$(dirname "$0")/.."
held=${1:-1000000}
runs=${2:-3}
scripts/install-deps.sh
cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPOOL_BUILD_TESTS=OFF -DSPOOL_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/bench --target spool_down_destination >/dev/null
bin=$PWD/build/bench/benchmarks/spool_down_destination

work=$(mktemp -d /tmp/spool-down-bench.XXXXXX)
cleanup() {
  tests/postgres/cluster.sh stop "$work/cluster" || true
  rm -rf "$work"
}
trap cleanup EXIT
tests/postgres/cluster.sh start "$work/cluster" durable
conninfo=$(cat "$work/cluster/conninfo")

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| store | held | p50 ms (median of $runs) | p99 ms (median of $runs) | p99 / empty |"
echo "| --- | --- | --- | --- | --- |"
for store in sqlite postgres; do
  empty_p99=""
  for n in 0 "$held"; do
    p50s=() p99s=()
    for ((r = 0; r < runs; r++)); do
      if [[ $store == sqlite ]]; then
        line=$("$bin" sqlite "$n")
      else
        # A schema of its own each run: the backlog of one run is not the next's.
        schema="down_${n}_${r}_$$"
        psql "$conninfo" -qc "DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema" >/dev/null 2>&1 ||
          /usr/lib/postgresql/15/bin/psql "$conninfo" -qc "DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema" >/dev/null
        line=$("$bin" postgres "$conninfo options='-csearch_path=$schema'" "$n")
      fi
      p50s+=("$(awk '{print $4}' <<<"$line")")
      p99s+=("$(awk '{print $6}' <<<"$line")")
    done
    p50=$(printf '%s\n' "${p50s[@]}" | median)
    p99=$(printf '%s\n' "${p99s[@]}" | median)
    if [[ $n == 0 ]]; then empty_p99=$p99; ratio=1.00; else ratio=$(awk -v a="$p99" -v b="$empty_p99" 'BEGIN {printf "%.2f", a / b}'); fi
    echo "| $store | $n | $p50 | $p99 | $ratio |"
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
