#!/usr/bin/env bash
# Installs, from Debian 12's packages, whatever spool's build, tests and
# examples need and the machine does not have yet. Safe to run again.
#   scripts/install-deps.sh [clang] [catch3] [valgrind]
#     clang:    adds clang++ 14
#     catch3:   adds what scripts/install-catch3.sh needs to fetch Catch2 3's source
#     valgrind: adds valgrind, whose callgrind counts the benchmarks' instructions
set -euo pipefail

packages=(g++ cmake ninja-build pkg-config libboost1.81-dev librange-v3-dev catch2 libbenchmark-dev libsqlite3-dev python3 python3-flufl.bounce
  libssl-dev openssl python3-aiosmtpd dnsmasq-base postfix libpq-dev postgresql-15
  libcli11-dev python3-prometheus-client libopendkim-dev python3-dkim python3-nacl libcrypt-dev
  chromium chromium-driver python3-selenium)
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

# Postfix is here for its test tools (smtp-sink, smtp-source) only: the SMTP
# tests run them on loopback with their own options. It is installed with
# "No configuration" (no main.cf, so no mail system is set up) and without
# starting its service. It would replace another mail server, so if the
# machine has one, stop here rather than change its mail set-up.
policy_made=""
# A policy that keeps any service from starting while the packages install,
# made only if the machine has none (and removed afterwards).
no_service_starts() {
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\n# spool install-deps.sh: no service starts while packages install\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod 755 /usr/sbin/policy-rc.d
    policy_made=yes
  fi
}
if [[ " ${missing[*]} " == *" postfix "* ]]; then
  if mta=$(dpkg-query -S /usr/sbin/sendmail 2>/dev/null | cut -d: -f1) && [[ -n "$mta" && "$mta" != postfix ]]; then
    echo "spool: this machine's mail server ($mta) would be replaced by postfix, whose smtp-sink the SMTP tests need;" >&2
    echo "spool: install postfix yourself, or run the tests on a machine without a mail server" >&2
    exit 1
  fi
  echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
  no_service_starts
fi
# PostgreSQL's server is here for the PostgreSQL store's tests, which start a
# throwaway cluster of their own (tests/postgres/cluster.sh). Debian's package
# would create and start a "main" cluster on port 5432: a drop-in that
# postgresql-common reads says not to create it, and the policy above (made
# for postfix too) keeps any service from starting during the install. The
# drop-in is removed afterwards, so later installs behave as Debian's do.
dropin=""
if [[ " ${missing[*]} " == *" postgresql-15 "* ]]; then
  if [[ ! -e /etc/postgresql-common/createcluster.d/spool-no-main-cluster.conf ]]; then
    $sudo mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.d/spool-no-main-cluster.conf >/dev/null
    dropin=/etc/postgresql-common/createcluster.d/spool-no-main-cluster.conf
  fi
  no_service_starts
fi
cleanup() {
  if [[ -n "$policy_made" ]]; then $sudo rm -f /usr/sbin/policy-rc.d; fi
  if [[ -n "$dropin" ]]; then $sudo rm -f "$dropin"; fi
}
trap cleanup EXIT

$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
