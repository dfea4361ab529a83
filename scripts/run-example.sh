#!/usr/bin/env bash
# Builds and runs spool's main example (examples/outbox.cpp).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build/example -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPOOL_BUILD_TESTS=OFF -DSPOOL_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build/example --target spool_example_outbox
# The example's database is left at build/example/spool-example.db for you to look at.
./build/example/examples/spool_example_outbox build/example/spool-example.db
