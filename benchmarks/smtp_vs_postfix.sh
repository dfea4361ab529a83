#!/usr/bin/env bash
# spool and Postfix side by side, delivering the same messages to the same
# Postfix smtp-sink on loopback with the same concurrency limit:
#   spool: the SQLite store (synchronous=FULL, group commit) and smtp_transport,
#          messages handed in with client.send (one commit each: "send") or
#          100 to a commit (client.batch: "batch");
#   Postfix: a private instance (its own config and queue directories under a
#          temporary folder, loopback only), messages injected over SMTP by
#          smtp-source, relayed to smtp-sink.
# Each clock starts when the injector starts and stops when smtp-sink has the
# last message (smtp-sink -M exits on it). Two limits are measured in the same
# run, and spool is reported against each as well as against Postfix:
#   disk:  a write of each message's encoded bytes and an fdatasync, one at a
#          time, on the same filesystem: what "send" (a commit a message)
#          cannot beat;
#   wire:  the same delivery as "batch" with the in-memory store: nothing
#          durable, what "batch" cannot beat.
# Each spool side also reports the CPU time its process used (user + system),
# and the disk side the mean time of one write and fdatasync: the two things a
# busy machine stretches. SPOOL_BENCH_BUSY=N runs N busy loops beside the run
# (nice 0, as the benchmark), to see how the ratios move with load.
# Root only (Postfix's master runs as root); not a test, and not run by CI.
#   [SPOOL_BENCH_BUSY=0] benchmarks/smtp_vs_postfix.sh [messages=20000] [concurrency=20] [modes="disk send batch wire postfix"]
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-20000}
concurrency=${2:-20}
modes=${3:-"disk send batch wire postfix"}
busy=${SPOOL_BENCH_BUSY:-0}
[[ $(id -u) -eq 0 ]] || { echo "smtp_vs_postfix.sh: run as root (Postfix's master must start as root)" >&2; exit 1; }
scripts/install-deps.sh
cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPOOL_BUILD_TESTS=OFF -DSPOOL_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/bench --target spool_smtp_throughput >/dev/null
spool_bin=$PWD/build/bench/benchmarks/spool_smtp_throughput

work=$(mktemp -d /tmp/spool-smtp-bench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  [[ -f "$work/postfix/etc/main.cf" ]] && postfix -c "$work/postfix/etc" stop >/dev/null 2>&1 || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

start_sink() {
  sink_port=$(free_port)
  smtp-sink -u nobody -M "$messages" "127.0.0.1:$sink_port" 256 &
  sink_pid=$!
  pids+=("$sink_pid")
  for _ in $(seq 50); do (echo >"/dev/tcp/127.0.0.1/$sink_port") 2>/dev/null && break; sleep 0.1; done
}
# The probe above is a connection without a message; smtp-sink counts messages.

report() { # mode seconds [cpu-seconds]
  python3 -c "
import json,sys
m=$messages; s=float(sys.argv[2]); r={'side': sys.argv[1], 'messages': m, 'concurrency': $concurrency, 'busy_loops': $busy, 'seconds': round(s,3), 'msg_per_s': round(m/s,1)}
if sys.argv[1] == 'disk-limit': r['fsync_us'] = round(s/m*1e6,1)
if len(sys.argv) > 3: r['cpu_seconds'] = float(sys.argv[3]); r['cpu_us_per_msg'] = round(float(sys.argv[3])/m*1e6,1); r['cpu_share'] = round(float(sys.argv[3])/s,2)
print(json.dumps(r))" "$@" |
    tee -a "$work/results"
}
# User and system CPU seconds a live process has used.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
run_disk() {
  local out
  out=$("$spool_bin" "$work/spool.db" 0 "$messages" "$concurrency" disk)
  report disk-limit "$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['seconds'])" "$out")"
}

run_spool() { # send | batch | wire
  start_sink
  rm -f "$work/spool.db"*
  local t0 t1
  t0=$(now)
  "$spool_bin" "$work/spool.db" "$sink_port" "$messages" "$concurrency" "$1" >"$work/spool-$1.out" &
  local injector=$!
  pids+=("$injector")
  wait "$sink_pid"
  t1=$(now)
  local cpu
  cpu=$(cpu_of "$injector" 2>/dev/null || echo 0)
  kill "$injector" 2>/dev/null || true
  wait "$injector" 2>/dev/null || true
  report "spool-$1" "$(echo "$t1 - $t0" | bc)" "$cpu"
}

run_postfix() {
  start_sink
  local pf=$work/postfix smtpd_port
  smtpd_port=$(free_port)
  mkdir -p "$pf/etc" "$pf/queue" "$pf/data"
  # Postfix as shipped, but for what a private loopback relay needs.
  cat >"$pf/etc/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix-bench.localdomain
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
relayhost = [127.0.0.1]:$sink_port
smtp_tls_security_level = none
default_destination_concurrency_limit = $concurrency
maillog_file = $pf/maillog
maillog_file_prefixes = $pf
CONF
  sed "s/@SMTPD@/127.0.0.1:$smtpd_port/" >"$pf/etc/master.cf" <<'CONF'
@SMTPD@ inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CONF
  chown postfix "$pf/data"
  postfix -c "$pf/etc" check >/dev/null 2>&1 || true
  postfix -c "$pf/etc" start >/dev/null 2>&1 || { echo "smtp_vs_postfix.sh: Postfix did not start; see $pf/maillog" >&2; cat "$pf/maillog" >&2; exit 1; }
  for _ in $(seq 50); do (echo >"/dev/tcp/127.0.0.1/$smtpd_port") 2>/dev/null && break; sleep 0.1; done
  local t0 t1
  t0=$(now)
  smtp-source -s "$concurrency" -m "$messages" -l 1024 -f bench@spool.test -t sink@sink.test "127.0.0.1:$smtpd_port"
  wait "$sink_pid"
  t1=$(now)
  postfix -c "$pf/etc" stop >/dev/null 2>&1 || true
  report postfix "$(echo "$t1 - $t0" | bc)"
}

echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$busy"); do
  (while :; do :; done) &
  pids+=("$!")
done
for mode in $modes; do
  case "$mode" in
    disk) run_disk ;;
    send | batch | wire) run_spool "$mode" ;;
    postfix) run_postfix ;;
    *) echo "smtp_vs_postfix.sh: unknown mode $mode" >&2; exit 2 ;;
  esac
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
# spool against each limit and against Postfix, where both sides ran.
python3 - "$work/results" <<'PY'
import json, sys
rate = {r["side"]: r["msg_per_s"] for r in map(json.loads, open(sys.argv[1]))}
for side, base in [("spool-send", "disk-limit"), ("spool-batch", "spool-wire"), ("spool-send", "postfix"), ("spool-batch", "postfix")]:
    if side in rate and base in rate:
        print(f"{side} / {base}: {rate[side] / rate[base]:.2f}")
PY
