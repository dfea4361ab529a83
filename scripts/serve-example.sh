#!/usr/bin/env bash
# Serves the web dashboard (docs/web.md) for the main example's database, on
# http://127.0.0.1:8025/ (loopback only), until Ctrl-C. The first time, it
# adds the operator "admin" with a random password, and prints it once.
set -euo pipefail
cd "$(dirname "$0")/.."
db=build/example/spool-example.db
[[ -f "$db" ]] || scripts/run-example.sh
cmake --build build/example --target spoolctl >/dev/null
spoolctl=build/example/tools/spoolctl
if [[ ! -s "$db.users" ]]; then
  password=$(head -c 18 /dev/urandom | base64)
  printf '%s\n' "$password" | "$spoolctl" web-user add admin --role operator --users "$db.users" >/dev/null
  echo "Sign in as admin with the password $password (kept hashed in $db.users; change it with spoolctl web-user add)."
fi
exec "$spoolctl" --db "$db" serve "$@"
