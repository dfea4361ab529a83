#!/usr/bin/env bash
# Builds spool in Release and prints one markdown table of every benchmark
# figure, with the machine's description. Takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh clang
cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPOOL_BUILD_TESTS=OFF -DSPOOL_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/bench >/dev/null
out=build/bench/results
mkdir -p "$out"
bench=build/bench/benchmarks
common=(--benchmark_repetitions=3 --benchmark_format=json)
# (a), (b) and (c) interleaved at random, so that a machine's drift during the
# run does not favour whichever ran first.
"$bench/spool_composition" --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true \
    --benchmark_format=json > "$out/composition.json"
"$bench/spool_durable_throughput" "${common[@]}" --benchmark_filter='^(raw|spool|concurrent)' > "$out/durable.json"
# Alone, since peak RSS is the whole process's.
"$bench/spool_durable_throughput" --benchmark_format=json --benchmark_filter='^sqlite_peak_rss' > "$out/rss.json"
python3 benchmarks/compile_time.py > "$out/compile_time.json"
python3 benchmarks/report.py "$out/composition.json" "$out/durable.json" "$out/rss.json" "$out/compile_time.json"
