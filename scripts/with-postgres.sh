#!/usr/bin/env bash
# Runs a command with a throw-away PostgreSQL server: a temporary cluster on a free loopback
# port, stopped and removed afterwards. Exports CREDITBOT_TEST_PG_URL for the tests.
# PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user.
set -euo pipefail
bin_dir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d /tmp/creditbot-pg.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_owner=()
if [[ $(id -u) -eq 0 ]]; then
  chown postgres: "$work"
  as_owner=(runuser -u postgres --)
fi
cleanup() {
  "${as_owner[@]}" "$bin_dir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
"${as_owner[@]}" "$bin_dir/initdb" -D "$work/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
"${as_owner[@]}" "$bin_dir/pg_ctl" -D "$work/data" -l "$work/log" -w start \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $work -c fsync=off -c synchronous_commit=off -c max_connections=300" >/dev/null
export CREDITBOT_TEST_PG_URL="postgresql+asyncpg://postgres@127.0.0.1:$port/postgres"
"$@"
