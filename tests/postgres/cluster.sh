#!/usr/bin/env bash
# Starts or stops the throwaway PostgreSQL 15 cluster of the PostgreSQL store's
# tests and benchmark (CTest fixture "postgres_cluster"):
#   tests/postgres/cluster.sh start|stop <dir> [durable]
#   tests/postgres/cluster.sh down|up <dir>   (the server stopped and started
#   again on the same data and port, for the tests of a server restart)
# The cluster gets a data directory and a unix-socket directory of its own
# under a fresh temporary folder, and a free port, and listens on 127.0.0.1
# and that socket only. <dir>/conninfo then holds the libpq connection string.
# Tests run it with fsync off; "durable" keeps fsync and synchronous_commit on,
# as the benchmark must. The machine's own clusters are never touched.
set -euo pipefail
action=${1:?start or stop}
dir=${2:?state directory}
durable=${3:-}

bin=/usr/lib/postgresql/15/bin
# initdb and the server refuse to run as root: as root they run as the
# postgres user (the package creates it), otherwise as the caller.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stop() {
  [[ -f "$dir/datadir" ]] || return 0
  local data
  data=$(cat "$dir/datadir")
  if [[ -f "$data/postmaster.pid" ]]; then
    as_owner "$bin/pg_ctl" -D "$data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    # A server that would not stop (a test stopped it with SIGSTOP, say) is killed.
    if [[ -f "$data/postmaster.pid" ]]; then
      pid=$(head -1 "$data/postmaster.pid")
      kill -CONT "$pid" 2>/dev/null || true
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -rf "$(dirname "$data")"
  rm -f "$dir/datadir" "$dir/conninfo"
}

free_port() {
  # A port nobody listens on, from the dynamic range, not one a peer of the
  # SMTP fixture or the machine uses.
  for _ in $(seq 200); do
    port=$((20000 + RANDOM % 20000))
    if ! ss -Hltn "sport = :$port" | grep -q .; then echo "$port"; return 0; fi
  done
  echo "cluster.sh: no free port found" >&2
  return 1
}

case "$action" in
  start)
    [[ -x "$bin/initdb" ]] || { echo "cluster.sh: PostgreSQL 15's server is missing; run scripts/install-deps.sh" >&2; exit 1; }
    stop
    mkdir -p "$dir"
    root=$(mktemp -d /tmp/spool-pg.XXXXXX)
    chmod 755 "$root"
    mkdir "$root/data" "$root/socket"
    if [[ $(id -u) -eq 0 ]]; then chown postgres: "$root/data" "$root/socket"; fi
    echo "$root/data" >"$dir/datadir"
    as_owner "$bin/initdb" -D "$root/data" -U spool -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
      { echo "cluster.sh: initdb failed:" >&2; cat "$dir/initdb.log" >&2; stop; exit 1; }
    port=$(free_port)
    {
      echo "listen_addresses = '127.0.0.1'"
      echo "port = $port"
      echo "unix_socket_directories = '$root/socket'"
      echo "max_connections = 200"
      if [[ "$durable" != durable ]]; then echo "fsync = off"; echo "synchronous_commit = off"; echo "full_page_writes = off"; fi
    } >>"$root/data/postgresql.auto.conf"
    if ! as_owner "$bin/pg_ctl" -D "$root/data" -l "$root/data/server.log" -w -t 60 start >/dev/null; then
      echo "cluster.sh: the server did not start; its log:" >&2
      cat "$root/data/server.log" >&2 || true
      stop
      exit 1
    fi
    echo "host=$root/socket port=$port user=spool dbname=postgres" >"$dir/conninfo"
    ;;
  stop) stop ;;
  down) as_owner "$bin/pg_ctl" -D "$(cat "$dir/datadir")" -m fast -w -t 60 stop >/dev/null ;;
  up) data=$(cat "$dir/datadir"); as_owner "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start >/dev/null ;;
  *) echo "cluster.sh: unknown action $action" >&2; exit 2 ;;
esac
