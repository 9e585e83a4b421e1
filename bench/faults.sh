#!/usr/bin/env bash
# Fault drills against the real server binary: comments are posted through
# the real form by concurrent writers (with readers and a /readyz probe)
# while the server is killed, the SQLite file is locked, made read-only,
# runs out of disk or disappears, and PostgreSQL stops, restarts, runs out
# of connections or holds a table lock. Each scenario prints one row: posts
# acknowledged (303) against comments found in the database afterwards,
# the answers seen during the fault, 500s, the slowest post during the
# fault, and the time from the fault's end to the first acknowledged post.
# Exits non-zero if any scenario fails.
#
#   bench/faults.sh                  full run (25 kill rounds; about 4 minutes, 5½ on a busy machine)
#   FAULTS_SHORT=1 bench/faults.sh   CI run (3 kill rounds; about 2½ minutes)
#
# KINTSUGI_BIN: the server binary (default: `cargo build`, target/debug).
# KINTSUGI_FAULTS_PG_URL: a PostgreSQL superuser URL on this machine with
# trust authentication (its cluster is stopped and restarted, and its
# max_connections lowered for a moment); without it a private cluster is
# started in a temporary folder. FAULTS_KEEP=1 keeps the logs.
# Run as root for every scenario: the server then runs as `nobody` (root
# ignores file modes), and the disk-full scenario mounts a small tmpfs.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

if [ "${FAULTS_SHORT:-0}" = 1 ]; then
  KILL_ROUNDS=3 PG_KILL_ROUNDS=2
else
  KILL_ROUNDS=25 PG_KILL_ROUNDS=10
fi
# Every wait is bounded: a server must answer within READY_WITHIN seconds
# of starting, and a post must succeed within RECOVER_WITHIN of a fault's end.
READY_WITHIN=30 RECOVER_WITHIN=20

if [ -z "${KINTSUGI_BIN:-}" ]; then
  cargo build --bin kintsugi
  KINTSUGI_BIN=target/debug/kintsugi
fi

# Everything the server (running as `nobody`) reads is copied into a
# folder it can read, wherever the repository lives.
WORK=$(mktemp -d /tmp/kintsugi-faults.XXXXXX)
chmod 755 "$WORK"
cp "$KINTSUGI_BIN" "$WORK/kintsugi"
cp -r content "$WORK/content"
cp bench/faults/load.py "$WORK/load.py"
LOAD=(python3 "$WORK/load.py")
ROWS=$WORK/rows.txt
: >"$ROWS"
FAILED=0

if [ "$(id -u)" = 0 ]; then
  SITE_UID=$(id -u nobody) SITE_GID=$(id -g nobody)
  # setpriv execs (runuser would fork), so $! is the server itself.
  AS_SITE=(setpriv "--reuid=$SITE_UID" "--regid=$SITE_GID" --clear-groups --)
  give_to_site() { chown -R "$SITE_UID:$SITE_GID" "$@"; }
else
  AS_SITE=()
  give_to_site() { :; }
fi

now() { date +%s.%N; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mark() { echo "$1 $(now)" >>"$MARKS"; }
last_mark() { awk -v name="$1" '$1 == name { at = $2 } END { print at }' "$MARKS"; }
fail_check() { echo "FAIL $*" >>"$CHECKS"; echo "    $*"; }

SERVER_PID='' LOAD_PID='' HELPER_PIDS=() READ_ONLY=() TMPFS='' PG_MAX_LOWERED=0 PG_DATABASES=()
PRIVATE_PG=''

# Leaves the machine as found, also after a failure or Ctrl-C.
# shellcheck disable=SC2317 # (run by the EXIT trap, which shellcheck 0.9 does not follow)
cleanup() {
  set +e
  exec 2>/dev/null
  [ -n "$LOAD_PID" ] && kill "$LOAD_PID"
  [ -n "$SERVER_PID" ] && kill -KILL "$SERVER_PID"
  for pid in "${HELPER_PIDS[@]}"; do kill "$pid"; done
  [ "${#READ_ONLY[@]}" -gt 0 ] && chmod u+w "${READ_ONLY[@]}"
  [ -n "$TMPFS" ] && umount "$TMPFS"
  if [ -n "${PG_URL:-}" ]; then
    if [ "$PG_MAX_LOWERED" = 1 ]; then
      psql_admin -c "ALTER SYSTEM RESET max_connections" && pg_ctl_as_owner restart -m fast
    fi
    psql_admin -c "ALTER ROLE kintsugi_faults LOGIN"
    for db in "${PG_DATABASES[@]}"; do psql_admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"; done
    psql_admin -c "DROP ROLE IF EXISTS kintsugi_faults"
  fi
  if [ -n "$PRIVATE_PG" ]; then
    pg_ctl_as_owner stop -m fast
    rm -rf "$PRIVATE_PG"
  fi
  rm -f "$WORK/kintsugi"
  if [ "${FAULTS_KEEP:-0}" = 1 ]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# ---- one scenario: folders, the server, the load, the row ----

# begin NAME BACKEND: a fresh data folder and database, a free port.
begin() {
  NAME=$1 BACKEND=$2
  printf '\n== %s on %s (%ss)\n' "$NAME" "$BACKEND" "$(($(date +%s) - started))"
  local id=${NAME%% *}
  DIR=$WORK/$id TAG=s$id
  mkdir -p "$DIR/data"
  DATA=$DIR/data LOG=$DIR/load.jsonl MARKS=$DIR/marks CHECKS=$DIR/checks
  : >"$MARKS"
  : >"$CHECKS"
  PORT=$(free_port)
  if [ "$BACKEND" = sqlite ]; then
    DB=$DATA/kintsugi.sqlite3 DB_URL=sqlite://$DATA/kintsugi.sqlite3
  else
    local name=kintsugi_faults_${id}_$$
    psql_admin -c "CREATE DATABASE $name OWNER kintsugi_faults"
    PG_DATABASES+=("$name")
    DB=$("${LOAD[@]}" pg-url "$PG_URL" "$name")
    DB_URL=$("${LOAD[@]}" pg-url "$PG_URL" "$name" kintsugi_faults)
  fi
  give_to_site "$DATA"
  SERVER_EXTRA=()
}

# The server's command line, as the site user with only its own settings.
server_command() {
  SERVER=("${AS_SITE[@]}" env -i "PATH=$PATH" NO_COLOR=1 KINTSUGI_LOG=info
    "KINTSUGI_BIND=127.0.0.1:$PORT" "KINTSUGI_CONTENT_DIR=$WORK/content"
    "KINTSUGI_DATA_DIR=$DATA" "KINTSUGI_DATABASE_URL=$DB_URL" KINTSUGI_WATCH_CONTENT=false
    # Posts come from many addresses (X-Forwarded-For), at once.
    KINTSUGI_TRUSTED_PROXIES=127.0.0.1 KINTSUGI_COMMENT_MIN_SECONDS=0
    "${SERVER_EXTRA[@]}" "$WORK/kintsugi" serve "$@")
}

start_server() { # [--init]
  server_command "$@"
  echo "--- $(date -u +%T.%N) serve $*" >>"$DIR/server.log"
  (cd "$WORK" && exec "${SERVER[@]}" >>"$DIR/server.log" 2>&1) &
  SERVER_PID=$!
}

wait_ready() {
  local deadline=$(($(date +%s) + READY_WITHIN))
  until curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/readyz" 2>/dev/null; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
      fail_check "the server was not ready within ${READY_WITHIN}s of starting"
      tail -n 5 "$DIR/server.log" | sed 's/^/    log: /'
      return 1
    fi
    sleep 0.1
  done
}

# stop_server: SIGTERM, at most 15 s (the server drains for up to 10 s),
# then SIGKILL. Sets STOP_STATUS and STOP_SECONDS.
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  local t0 i
  t0=$(now)
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for i in $(seq 150); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    fail_check "the server did not exit within 15 s of SIGTERM"
    kill -KILL "$SERVER_PID"
  fi
  STOP_STATUS=0
  wait "$SERVER_PID" || STOP_STATUS=$?
  STOP_SECONDS=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$t0" "$(now)")
  SERVER_PID=''
}

start_load() {
  "${LOAD[@]}" run "http://127.0.0.1:$PORT" "$LOG" "$TAG" --max-seconds 600 &
  LOAD_PID=$!
}

stop_load() {
  [ -n "$LOAD_PID" ] || return 0
  kill -TERM "$LOAD_PID"
  wait "$LOAD_PID" || true
  LOAD_PID=''
}

# The load keeps going until a post succeeds after the fault's end.
await_recovery() {
  "${LOAD[@]}" wait-recovery "$LOG" "$(last_mark end)" "$RECOVER_WITHIN" | sed 's/^/    /' || true
}

# finish [report options]: stops everything and prints the row; on FAIL,
# the server's last warnings and errors.
finish() {
  stop_load
  stop_server
  if ! "${LOAD[@]}" report --log "$LOG" --marks "$MARKS" --scenario "$NAME" --backend "$BACKEND" \
    --db "$DB" --tag "$TAG" --rows "$ROWS" --checks "$CHECKS" --recover-within "$RECOVER_WITHIN" "$@"; then
    FAILED=1
    grep -E ' (ERROR|WARN) ' "$DIR/server.log" | grep -v 'no coach account' | sort -k3 | uniq -c -f2 |
      sort -rn | head -n 6 | sed 's/^/    log: /' || true
  fi
  if [ "$BACKEND" = postgres ]; then
    psql_admin -c "DROP DATABASE IF EXISTS ${PG_DATABASES[-1]} WITH (FORCE)"
  fi
}

skip() { # NAME BACKEND WHY
  printf '\n== %s on %s\n' "$1" "$2"
  "${LOAD[@]}" skip --scenario "$1" --backend "$2" --why "$3" --rows "$ROWS"
}

# Starts the server and the load, lets writes flow for a moment.
under_load() {
  start_server
  wait_ready || true
  start_load
  sleep 1.5
}

# ---- SQLite ----

kill_rounds() { # NAME BACKEND ROUNDS
  begin "$1" "$2"
  under_load
  local round problem
  for round in $(seq "$3"); do
    sleep "$((RANDOM % 2)).$((RANDOM % 10))"
    mark start
    kill -KILL "$SERVER_PID" 2>/dev/null || fail_check "round $round: the server had already exited"
    wait "$SERVER_PID" 2>/dev/null || true
    if [ "$BACKEND" = sqlite ] && ! problem=$("${LOAD[@]}" integrity "$DB"); then
      fail_check "round $round: $problem"
    fi
    start_server
    mark end
    await_recovery >/dev/null
  done
  finish
}

sigterm_drain() {
  begin "2 SIGTERM drain" sqlite
  under_load
  sleep 1
  mark term
  mark start
  stop_server
  echo "    exited $STOP_STATUS, $STOP_SECONDS s after SIGTERM"
  [ "$STOP_STATUS" = 0 ] || fail_check "exit status $STOP_STATUS after SIGTERM"
  start_server
  mark end
  await_recovery
  finish
}

locked_database() {
  begin "3 locked database (EXCLUSIVE 8 s)" sqlite
  under_load
  # Marks the fault's start and end itself, once the lock is held.
  timeout 30 "${LOAD[@]}" hold-lock "$DB" 8 "$MARKS" || fail_check "could not take the lock"
  await_recovery
  finish --expect-refusal --expect-unready --max-latency 3.5
}

# A chmod reaches only files opened after it: connections the server opened
# before keep writing, for real and durably, so most posts still succeed;
# each connection opened meanwhile is read-only, fails once (503) and is
# replaced. So neither refusals nor a failing /readyz are required here.
read_only() {
  begin "4 read-only files + folder 5 s" sqlite
  under_load
  local file
  READ_ONLY=("$DATA")
  for file in "$DB" "$DB-wal" "$DB-shm"; do [ -e "$file" ] && READ_ONLY+=("$file"); done
  mark start
  chmod a-w "${READ_ONLY[@]}"
  sleep 5
  chmod u+w "${READ_ONLY[@]}"
  READ_ONLY=()
  mark end
  await_recovery
  finish
}

disk_full() {
  local name="5 disk full (tmpfs) 5 s"
  if [ "$(id -u)" != 0 ]; then
    skip "$name" sqlite "needs root to mount a tmpfs"
    return
  fi
  begin "$name" sqlite
  if ! mount -t tmpfs -o size=16m,mode=755 tmpfs "$DATA" 2>"$DIR/mount.err"; then
    "${LOAD[@]}" skip --scenario "$name" --backend sqlite --rows "$ROWS" \
      --why "mount -t tmpfs refused: $(cat "$DIR/mount.err")"
    return
  fi
  TMPFS=$DATA
  give_to_site "$DATA"
  under_load
  mark start
  dd if=/dev/zero of="$DATA/filler" bs=64k status=none 2>/dev/null || true # until no space is left
  sleep 5
  rm -f "$DATA/filler"
  mark end
  await_recovery
  finish --expect-refusal --expect-unready
  umount "$DATA"
  TMPFS=''
}

folder_moved() {
  begin "6a data folder moved away 5 s" sqlite
  under_load
  mark start
  mv "$DATA" "$DATA.moved"
  sleep 5
  mv "$DATA.moved" "$DATA"
  mark end
  await_recovery
  finish --expect-refusal --expect-unready
}

database_deleted() {
  begin "6b database deleted, restarted" sqlite
  under_load
  rm -f "$DB" "$DB-wal" "$DB-shm"
  mark start # after the rm: no post sent from now on may be acknowledged
  sleep 4
  stop_server
  # The site key is still there: a restart must refuse to create an empty
  # database in the old one's place.
  server_command
  local status=0
  (cd "$WORK" && timeout 20 "${SERVER[@]}" >"$DIR/restart.log" 2>&1) || status=$?
  if [ "$status" = 0 ] || [ "$status" = 124 ]; then
    fail_check "a restart without --init did not refuse (status $status)"
  elif ! grep -q -- --init "$DIR/restart.log"; then
    fail_check "the refusal does not mention --init: $(tail -n 1 "$DIR/restart.log")"
  else
    echo "    restart without --init refused: $(grep -m1 -- --init "$DIR/restart.log" | cut -c1-200)..."
  fi
  [ -e "$DB" ] && fail_check "the refused restart created a database file"
  start_server --init
  mark end
  await_recovery
  finish --deleted --expect-refusal --expect-unready
}

# ---- PostgreSQL ----

psql_admin() { psql -X -q -v ON_ERROR_STOP=1 -d "$PG_URL" "$@"; }
export PGCONNECT_TIMEOUT=10

# pg_ctl as the cluster's owner (PostgreSQL refuses to run as root).
pg_ctl_as_owner() {
  local command=(pg_ctl -D "$PG_DATA" -w -l "$PG_LOG" "$@")
  if [ "$(id -u)" = 0 ] && [ "$PG_OWNER" != root ]; then
    runuser -u "$PG_OWNER" -- "${command[@]}" >/dev/null
  else
    "${command[@]}" >/dev/null
  fi
}

# PG_URL: the given cluster, or a private one like .ci/run starts.
setup_postgres() {
  if ! command -v pg_ctl >/dev/null 2>&1; then
    local pgbin
    pgbin=$(find /usr/lib/postgresql -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$pgbin" ] && export PATH="$pgbin:$PATH"
  fi
  if ! command -v psql >/dev/null 2>&1 || ! command -v pg_ctl >/dev/null 2>&1; then
    PG_SKIP="psql and pg_ctl not found (install postgresql)"
    return
  fi
  if [ -n "${KINTSUGI_FAULTS_PG_URL:-}" ]; then
    PG_URL=$KINTSUGI_FAULTS_PG_URL
  else
    PRIVATE_PG=$(mktemp -d /tmp/kintsugi-faults-pg.XXXXXX)
    PG_DATA=$PRIVATE_PG/data PG_OWNER=$(id -un)
    if [ "$(id -u)" = 0 ]; then
      PG_OWNER=postgres
      chown postgres "$PRIVATE_PG"
    fi
    PG_LOG=$PRIVATE_PG/server.log
    local port
    port=$(free_port)
    if [ "$(id -u)" = 0 ]; then
      runuser -u postgres -- initdb -A trust -U postgres -D "$PG_DATA" >/dev/null
    else
      initdb -A trust -U postgres -D "$PG_DATA" >/dev/null
    fi
    pg_ctl_as_owner -o "-p $port -k $PRIVATE_PG -c listen_addresses=127.0.0.1 -c fsync=off" start
    PG_URL=postgres://postgres@127.0.0.1:$port/postgres
  fi
  # The cluster's folder, to stop and start it (the given URL's too).
  PG_DATA=$(psql_admin -Atc 'SHOW data_directory')
  if [ ! -f "$PG_DATA/postmaster.pid" ]; then
    PG_SKIP="the cluster's data directory ($PG_DATA) is not on this machine"
    return
  fi
  PG_OWNER=$(stat -c %U "$PG_DATA")
  if [ -z "$PRIVATE_PG" ]; then
    # Restarts keep the cluster's log where it was (pg_ctl -l), else it
    # would come out on our output.
    PG_LOG=$(readlink -f "/proc/$(head -n 1 "$PG_DATA/postmaster.pid")/fd/2" 2>/dev/null || true)
    if [ ! -f "$PG_LOG" ]; then
      PG_LOG=$WORK/postgres.log
      touch "$PG_LOG"
      chown "$PG_OWNER" "$PG_LOG" 2>/dev/null || true
    fi
  fi
  # The site connects as an ordinary role, as it should in production: a
  # superuser could take the slots reserved for superusers.
  psql_admin -c "DO \$\$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kintsugi_faults') THEN CREATE ROLE kintsugi_faults LOGIN; END IF;
  END \$\$"
}

cluster_stopped() {
  begin "8 cluster stopped 5 s" postgres
  under_load
  mark start
  pg_ctl_as_owner stop -m fast || fail_check "pg_ctl stop failed"
  sleep 5
  # restart on a stopped cluster starts it with its saved options (and
  # says on stderr that it found no server running).
  pg_ctl_as_owner restart 2>"$DIR/pg_ctl.err" || fail_check "the cluster did not start: $(cat "$DIR/pg_ctl.err")"
  mark end
  await_recovery
  finish --expect-refusal --expect-unready
}

cluster_restarted() {
  begin "9 cluster restarted" postgres
  under_load
  mark start
  pg_ctl_as_owner restart -m fast || fail_check "pg_ctl restart failed"
  mark end
  await_recovery
  finish
}

# Other clients hold every connection slot while the site's own
# connections are gone (as after a restart or an idle cut): the site must
# answer 503 until a slot frees up.
connection_limit() {
  # Few slots, so filling them takes few processes.
  psql_admin -c "ALTER SYSTEM SET max_connections = 20"
  PG_MAX_LOWERED=1
  pg_ctl_as_owner restart -m fast
  begin "10 connection slots full 5 s" postgres
  SERVER_EXTRA=(KINTSUGI_DB_POOL_SIZE=4)
  under_load
  mark start
  # The site may not log in while its slots are handed to the fillers.
  psql_admin -c "ALTER ROLE kintsugi_faults NOLOGIN"
  psql_admin -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'kintsugi_faults'" >/dev/null
  local target held alive others fillers pid i
  for i in $(seq 50); do
    [ "$(psql_admin -Atc "SELECT count(*) FROM pg_stat_activity WHERE usename = 'kintsugi_faults'")" = 0 ] && break
    sleep 0.1
  done
  # Fill every slot an ordinary role may use, topping up until they are
  # all held: a filler may lose its slot to one of the site's refused
  # logins, which come and go meanwhile. A filler still starting counts as
  # held (no overfilling into the superusers' slots this script needs);
  # this query's own connection does not.
  target=$(psql_admin -Atc "SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int")
  for i in $(seq 30); do
    alive=0
    for pid in "${HELPER_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=$((alive + 1)); done
    read -r others fillers <<<"$(psql_admin -At -F ' ' -c "SELECT
      count(*) FILTER (WHERE application_name <> 'kintsugi-faults-filler') - 1,
      count(*) FILTER (WHERE application_name = 'kintsugi-faults-filler')
      FROM pg_stat_activity WHERE backend_type = 'client backend' AND usename IS DISTINCT FROM 'kintsugi_faults'")"
    held=$((others + fillers))
    [ "$held" -ge "$target" ] && break
    for _ in $(seq $((target - others - alive))); do
      PGAPPNAME=kintsugi-faults-filler psql -X -q -d "$PG_URL" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
      HELPER_PIDS+=($!)
    done
    sleep 0.2
  done
  [ "$held" -ge "$target" ] || fail_check "could not fill the connection slots ($held of $target)"
  psql_admin -c "ALTER ROLE kintsugi_faults LOGIN"
  echo "    all $target connection slots for ordinary roles held by other clients"
  sleep 5
  psql_admin -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'kintsugi-faults-filler'" >/dev/null
  for i in "${HELPER_PIDS[@]}"; do wait "$i" 2>/dev/null || true; done
  HELPER_PIDS=()
  mark end
  await_recovery
  finish --expect-refusal --expect-unready
  psql_admin -c "ALTER SYSTEM RESET max_connections"
  pg_ctl_as_owner restart -m fast
  PG_MAX_LOWERED=0
}

table_locked() {
  begin "11 comments table locked 8 s" postgres
  under_load
  PGAPPNAME=kintsugi-faults-lock psql -X -q -d "$DB" \
    -c "BEGIN; LOCK TABLE comments IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(8); COMMIT;" >/dev/null &
  local holder=$! i
  HELPER_PIDS+=("$holder")
  local held=0
  for i in $(seq 50); do
    held=$(psql -X -Atd "$DB" -c "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
      WHERE a.application_name = 'kintsugi-faults-lock' AND l.granted
      AND l.mode = 'AccessExclusiveLock' AND l.relation = 'comments'::regclass")
    [ "$held" = 1 ] && break
    sleep 0.1
  done
  [ "$held" = 1 ] || fail_check "the lock was not taken within 5 s"
  mark start
  wait "$holder" || fail_check "the lock holder failed"
  HELPER_PIDS=()
  mark end
  await_recovery
  finish --expect-refusal --max-latency 3.5
}

# ---- the run ----

kill_rounds "1 SIGKILL ×$KILL_ROUNDS under load" sqlite "$KILL_ROUNDS"
sigterm_drain
locked_database
read_only
disk_full
folder_moved
database_deleted

PG_SKIP=''
setup_postgres
if [ -n "$PG_SKIP" ]; then
  for name in "8 cluster stopped 5 s" "9 cluster restarted" "10 connection slots full 5 s" \
    "11 comments table locked 8 s" "12 SIGKILL ×$PG_KILL_ROUNDS under load"; do
    skip "$name" postgres "$PG_SKIP"
  done
else
  cluster_stopped
  cluster_restarted
  connection_limit
  table_locked
  kill_rounds "12 SIGKILL ×$PG_KILL_ROUNDS under load" postgres "$PG_KILL_ROUNDS"
fi

printf '\n== faults: %s mode, %ss, %s\n' "$([ "${FAULTS_SHORT:-0}" = 1 ] && echo short || echo full)" \
  "$(($(date +%s) - started))" "$(git rev-parse --short HEAD 2>/dev/null || echo '?')"
"${LOAD[@]}" table "$ROWS"
exit "$FAILED"
