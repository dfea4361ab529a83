#!/usr/bin/env bash
# Builds and runs spool's whole test suite, as CI does: with g++ 12 and
# clang++ 14 (warnings as errors), with g++ 12 against Catch2 3 (what Conan
# and vcpkg users get), then under AddressSanitizer with
# UndefinedBehaviorSanitizer, then under ThreadSanitizer. Each stage is a
# workflow preset in CMakePresets.json. g++ runs everything; the later stages
# leave out what another stage already proves, so CI stays under 45 minutes on
# two cores: clang++ the packaging consumers, the multi-process PostgreSQL
# test and the static checks (must-not-compile, headers on their own, layers:
# clang++ still builds every test and example, but the wording of the concept
# errors is checked with g++ only); Catch2 3 and the sanitizers the must-not-compile, packaging and heavy
# tests, and the sanitizers the examples and benchmarks; ThreadSanitizer builds
# and runs only the tests of threads and processes (threading, delivery,
# spooler, processes, smtp). Name stages to run only those:
#   scripts/run-tests.sh ci-gcc      (also: gcc, clang, catch3, asan-ubsan, tsan)
set -euo pipefail
cd "$(dirname "$0")/.."

stages=("$@")
[[ ${#stages[@]} -eq 0 ]] && stages=(ci-gcc ci-clang catch3 asan-ubsan tsan)
for i in "${!stages[@]}"; do
  case "${stages[$i]}" in
    gcc) stages[$i]=ci-gcc ;;
    clang) stages[$i]=ci-clang ;;
  esac
done

extras=()
for s in "${stages[@]}"; do
  case "$s" in
    ci-clang | tsan) extras+=(clang) ;;
    catch3) extras+=(catch3) ;;
  esac
done
scripts/install-deps.sh "${extras[@]}"
if [[ " ${extras[*]} " == *" catch3 "* ]]; then scripts/install-catch3.sh; fi

for s in "${stages[@]}"; do
  echo "=== spool tests: $s"
  start=$SECONDS
  cmake --workflow --preset "$s"
  echo "=== $s: passed in $((SECONDS - start)) s"
done
