#!/usr/bin/env bash
# Several Kintsugi instances on one PostgreSQL behind nginx (see
# tests/multi/multi.py): the debug binary, a private PostgreSQL cluster,
# three instances sharing the site key, Debian's nginx as load balancer.
#   tests/multi/run.sh          (about a minute after the debug build)
#   MULTI_KEEP=1 tests/multi/run.sh   keeps the logs and data folders
set -euo pipefail
cd "$(dirname "$0")/../.."
need() { command -v "$1" >/dev/null || [ -x "/usr/sbin/$1" ] || apt-get install -y "$2" >/dev/null || (apt-get update >/dev/null && apt-get install -y "$2" >/dev/null); }
need nginx nginx-light || need nginx nginx
need psql postgresql-client
if ! command -v initdb >/dev/null 2>&1; then
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$pgbin" ]; then
    apt-get install -y postgresql >/dev/null || (apt-get update >/dev/null && apt-get install -y postgresql >/dev/null)
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  export PATH="$pgbin:$PATH"
fi
[ -x target/debug/kintsugi ] && [ "${MULTI_BUILD:-1}" = 0 ] || cargo build --bin kintsugi
exec python3 tests/multi/multi.py target/debug/kintsugi
