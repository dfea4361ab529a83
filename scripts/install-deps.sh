#!/usr/bin/env bash
# Installs, from Debian 12's packages, whatever spool's build, tests and
# examples need and the machine does not have yet. Safe to run again.
#   scripts/install-deps.sh [clang] [catch3] [valgrind]
#     clang:    adds clang++ 14
#     catch3:   adds what scripts/install-catch3.sh needs to fetch Catch2 3's source
#     valgrind: adds valgrind, whose callgrind counts the benchmarks' instructions
set -euo pipefail

packages=(g++ cmake ninja-build pkg-config libboost1.81-dev librange-v3-dev catch2 libbenchmark-dev libsqlite3-dev python3 python3-flufl.bounce)
for extra in "$@"; do
  case "$extra" in
    clang) packages+=(clang-14) ;;
    catch3) packages+=(curl) ;;
    valgrind) packages+=(valgrind) ;;
    *) echo "scripts/install-deps.sh: unknown extra '$extra' (expected clang, catch3 or valgrind)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "spool: installing ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
