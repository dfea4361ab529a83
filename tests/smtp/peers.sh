#!/usr/bin/env bash
# Starts or stops the SMTP and DNS servers of the SMTP transport's tests (CTest
# fixture "smtp_peers"): tests/smtp/peers.sh start|stop <dir>. Loopback only;
# a peer that cannot start fails the run.
set -euo pipefail
action=${1:?start or stop}
dir=${2:?run directory}
here=$(cd "$(dirname "$0")" && pwd)

# Debian's aiosmtpd is importable only by Debian's own interpreter; another
# python3 may come first on PATH.
python=""
for candidate in /usr/bin/python3 python3; do
  if "$candidate" -c "import aiosmtpd" 2>/dev/null; then python=$candidate; break; fi
done

stop() {
  if [[ -f "$dir/pid" ]]; then
    pid=$(cat "$dir/pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$dir/pid"
  fi
}

case "$action" in
  start)
    [[ -n "$python" ]] || { echo "peers.sh: no python3 can import aiosmtpd; run scripts/install-deps.sh" >&2; exit 1; }
    for tool in /usr/sbin/smtp-sink /usr/sbin/dnsmasq openssl; do
      command -v "$tool" >/dev/null || { echo "peers.sh: $tool is missing; run scripts/install-deps.sh" >&2; exit 1; }
    done
    stop
    rm -rf "$dir"
    mkdir -p "$dir"
    nohup "$python" "$here/peers.py" "$dir" >"$dir/peers.log" 2>&1 &
    echo $! >"$dir/pid"
    for _ in $(seq 300); do
      [[ -f "$dir/ready" ]] && exit 0
      kill -0 "$(cat "$dir/pid")" 2>/dev/null || break
      sleep 0.1
    done
    echo "peers.sh: the SMTP peers did not start; their log:" >&2
    cat "$dir/peers.log" >&2
    stop
    exit 1
    ;;
  stop) stop ;;
  *) echo "peers.sh: unknown action $action" >&2; exit 2 ;;
esac
