#!/usr/bin/env bash
# Builds Catch2 3 for the test stage that checks spool's tests against it:
# Debian 12 ships Catch2 2.13, while Conan and vcpkg users get Catch2 3.
# The source is Debian's own (the upstream tarball of the catch2 3.7.1
# package), checked against the checksum Debian publishes for it. It is
# installed under build/deps/, nowhere else. Safe to run again.
#   scripts/install-catch3.sh   prints the install prefix on its last line
set -euo pipefail
cd "$(dirname "$0")/.."

version=3.7.1 # the catch3 preset in CMakePresets.json names the same prefix
sha256=c991b247a1a0d7bb9c39aa35faf0fe9e19764213f28ffba3109388e62ee0269c
url="http://deb.debian.org/debian/pool/main/c/catch2/catch2_${version}.orig.tar.gz"
deps="$PWD/build/deps"
prefix="$deps/catch2-$version"

if [[ ! -f "$prefix/lib/cmake/Catch2/Catch2Config.cmake" ]]; then
  mkdir -p "$deps"
  tarball="$deps/catch2_${version}.orig.tar.gz"
  if [[ ! -f "$tarball" ]] || ! echo "$sha256  $tarball" | sha256sum --check --status; then
    echo "spool: downloading Catch2 $version from $url"
    curl --fail --silent --show-error --location --retry 3 --output "$tarball.part" "$url" || {
      echo "spool: could not download Catch2 $version from $url" >&2
      exit 1
    }
    mv "$tarball.part" "$tarball"
  fi
  echo "$sha256  $tarball" | sha256sum --check --status || {
    echo "spool: $tarball does not have the checksum Debian publishes ($sha256)" >&2
    exit 1
  }
  rm -rf "$deps/Catch2-$version" "$deps/catch2-build"
  tar -xzf "$tarball" -C "$deps"
  cmake -S "$deps/Catch2-$version" -B "$deps/catch2-build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_COMPILER=g++-12 -DCMAKE_CXX_STANDARD=20 -DCATCH_INSTALL_DOCS=OFF \
    -DCMAKE_INSTALL_PREFIX="$prefix" >/dev/null
  cmake --build "$deps/catch2-build" >/dev/null
  cmake --install "$deps/catch2-build" >/dev/null
  rm -rf "$deps/Catch2-$version" "$deps/catch2-build"
fi
echo "$prefix"
