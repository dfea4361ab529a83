#!/usr/bin/env bash
# Builds and runs spool's whole test suite with g++ 12 and clang++ 14, warnings
# as errors, as CI does. Pass one compiler (gcc or clang) to run only that one.
set -euo pipefail
cd "$(dirname "$0")/.."

compilers=("${@:-gcc clang}")
read -r -a compilers <<<"${compilers[*]}"
needs_clang=""
for c in "${compilers[@]}"; do [[ "$c" == clang ]] && needs_clang=clang; done
scripts/install-deps.sh $needs_clang

for c in "${compilers[@]}"; do
  case "$c" in
    gcc) cxx=g++-12 ;;
    clang) cxx=clang++-14 ;;
    *) echo "unknown compiler '$c' (gcc or clang)" >&2; exit 2 ;;
  esac
  echo "=== spool tests with $cxx"
  cmake -S . -B "build/test-$c" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER="$cxx" \
    -DSPOOL_WARNINGS_AS_ERRORS=ON >/dev/null
  cmake --build "build/test-$c"
  ctest --test-dir "build/test-$c" --output-on-failure -j2
done
