#!/usr/bin/env bash
# Builds spool in Release and prints one markdown table of every benchmark
# figure, with the machine's description. Takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh clang valgrind
cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPOOL_BUILD_TESTS=OFF -DSPOOL_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/bench >/dev/null
out=build/bench/results
mkdir -p "$out"
bench=build/bench/benchmarks
# One core for the measured process where taskset exists, so that the
# scheduler moving it between cores does not add to the spread.
pin=()
if command -v taskset >/dev/null; then pin=(taskset -c 1); fi
# (a), (b), (b0) and (c) on their own, interleaved at random over 10
# repetitions: a machine's drift then favours none of them, and the heap is
# not left in whatever state the million-message runs leave it.
"${pin[@]}" "$bench/spool_composition" --benchmark_filter='^(a|b|b0|c)_' --benchmark_repetitions=10 \
    --benchmark_enable_random_interleaving=true --benchmark_format=json > "$out/comparison.json"
"$bench/spool_composition" --benchmark_filter='^(queue_scaling|memory_per)' --benchmark_format=json > "$out/scaling.json"
# The raw inserts and spool's end-to-end runs interleaved too: they share the disk.
"$bench/spool_durable_throughput" --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true \
    --benchmark_format=json --benchmark_filter='^(raw|spool|concurrent)' > "$out/durable.json"
# Alone, since peak RSS is the whole process's.
"$bench/spool_durable_throughput" --benchmark_format=json --benchmark_filter='^sqlite_peak_rss' > "$out/rss.json"
# Latencies an operator feels: stop(), and a submit from another process.
"$bench/spool_stop_and_wake" --benchmark_format=json > "$out/stop_wake.json"
# Concurrent delivery waits on timers, so the machine's load matters little.
"$bench/spool_concurrent_delivery" --benchmark_format=json > "$out/concurrent.json"
# b087b2a: the commit before concurrent delivery, the quickstart's reference (issue 28).
python3 benchmarks/compile_time.py --against b087b2a > "$out/compile_time.json"
# Instructions do not drift with the machine's load as time does.
python3 benchmarks/instruction_counts.py "$bench/spool_instruction_counts" > "$out/instructions.json"
python3 benchmarks/report.py "$out/comparison.json" "$out/scaling.json" "$out/durable.json" "$out/rss.json" \
    "$out/compile_time.json" "$out/instructions.json" "$out/stop_wake.json" "$out/concurrent.json"
