#!/usr/bin/env bash
# Several Kintsugi instances on one PostgreSQL, behind one nginx
# round-robin load balancer: article reads per second and comment posts
# per second for 1, 2 and 3 instances, with PostgreSQL's own durability
# (fsync=on, synchronous_commit=on), and a check that every acknowledged
# post (303) is stored.
#
# Usage: bench/instances.sh [seconds-per-run] [connections]
#   SMOKE=1          3 s runs, 1 and 3 instances, fails on any error (CI)
#   MODES="off on"   the PostgreSQL write paths to compare in this run:
#                    KINTSUGI_DB_GROUP_COMMIT=false (one transaction per
#                    write) and =true (batched, the default)
#   INSTANCES="1 2 3"
#   DIRECT=1         also run wrk straight at the instances (no nginx), to
#                    see what nginx itself costs on a small machine
#   KINTSUGI_BIN     a binary to use instead of building one
# It uses the release profile (thin LTO; `PROFILE=production` is not wired
# here: pass KINTSUGI_BIN=target/production/kintsugi for the server build).
# Needs PostgreSQL's initdb/pg_ctl on PATH; installs wrk and nginx (Debian)
# when missing. Run as root (PostgreSQL then runs as `postgres`) or as a
# normal user.
set -euo pipefail
cd "$(dirname "$0")/.."
SMOKE=${SMOKE:-0}
if [ "$SMOKE" = 1 ]; then
  DURATION=${1:-3}
  INSTANCES=${INSTANCES:-"1 3"}
else
  DURATION=${1:-10}
  INSTANCES=${INSTANCES:-"1 2 3"}
fi
CONNECTIONS=${2:-64}
MODES=${MODES:-"off on"}
DIRECT=${DIRECT:-0}

need() { command -v "$1" >/dev/null || apt-get install -y "$2" >/dev/null || (apt-get update >/dev/null && apt-get install -y "$2" >/dev/null); }
need wrk wrk
need nginx nginx-light || need nginx nginx
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
for tool in initdb pg_ctl psql; do
  command -v $tool >/dev/null || { echo "PostgreSQL's $tool is not on PATH" >&2; exit 1; }
done

if [ -n "${KINTSUGI_BIN:-}" ]; then
  BIN=$KINTSUGI_BIN
else
  cargo build --release --bin kintsugi >/dev/null
  BIN=./target/release/kintsugi
fi

WORK=$(mktemp -d /tmp/kintsugi-instances.XXXXXX)
chmod 755 "$WORK"
PIDS=()
PGDATA_DIR="$WORK/pg"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  [ -d "$PGDATA_DIR/data" ] && as_pg pg_ctl -D "$PGDATA_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# PostgreSQL with its real durability settings.
mkdir -p "$PGDATA_DIR"
[ "$(id -u)" = 0 ] && chown postgres "$PGDATA_DIR"
PGPORT=$(free_port)
as_pg initdb -A trust -U postgres -D "$PGDATA_DIR/data" >/dev/null
as_pg pg_ctl -D "$PGDATA_DIR/data" -l "$PGDATA_DIR/log" -w -o \
  "-p $PGPORT -k $PGDATA_DIR -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on" start >/dev/null
PSQL=(psql -X -q -t -A -h 127.0.0.1 -p "$PGPORT" -U postgres)
pg_settings=$("${PSQL[@]}" -d postgres -c "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method', 'max_connections', 'commit_delay')")

SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
ARTICLE=/articles/going-no-contact

cat >"$WORK/post.lua" <<'LUA'
-- offset is a global: thread:set() writes globals of each thread's state.
local counter = 0
offset = 0
local threads = {}
s303, s422, s429, sother = 0, 0, 0, 0
function setup(thread)
  thread:set("offset", math.random(1, 1000000) * 1000)
  table.insert(threads, thread)
end
function response(status, headers, body)
  if status == 303 then s303 = s303 + 1
  elseif status == 422 then s422 = s422 + 1
  elseif status == 429 then s429 = s429 + 1
  else sother = sother + 1 end
end
function done(summary, latency, requests)
  local a, b, c, d = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("s303"); b = b + t:get("s422"); c = c + t:get("s429"); d = d + t:get("sother")
  end
  io.write(string.format("statuses: 303=%d 422=%d 429=%d other=%d\n", a, b, c, d))
end
function init(args)
  offset = tonumber(offset) or 0
end
request = function()
  counter = counter + 1
  local n = offset + counter
  local body = "name=Bench&email=b" .. n .. "%40example.com&body=Load+test+comment+" .. n .. "&token=" .. os.getenv("TOKEN")
  local headers = {}
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  headers["X-Forwarded-For"] = "10." .. (math.floor(n / 65536) % 250 + 1) .. "." .. (math.floor(n / 256) % 256) .. "." .. (n % 256)
  return wrk.format("POST", os.getenv("ARTICLE") .. "/comments", headers, body)
end
LUA

start_instances() { # mode n database
  local mode=$1 n=$2 db=$3 i port
  PORTS=()
  for i in $(seq 1 "$n"); do
    port=$(free_port)
    mkdir -p "$WORK/data-$mode-$n-$i"
    KINTSUGI_BIND="127.0.0.1:$port" KINTSUGI_DATA_DIR="$WORK/data-$mode-$n-$i" \
      KINTSUGI_DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/$db" \
      KINTSUGI_SECRET_KEY="$SECRET" KINTSUGI_WATCH_CONTENT=false KINTSUGI_LOG=warn \
      KINTSUGI_TRUSTED_PROXIES=127.0.0.1 KINTSUGI_COMMENT_MIN_SECONDS=0 \
      KINTSUGI_DB_GROUP_COMMIT=$([ "$mode" = on ] && echo true || echo false) \
      "$BIN" serve >"$WORK/server-$mode-$n-$i.log" 2>&1 &
    PIDS+=($!)
    PORTS+=("$port")
    # One at a time: the first one migrates the fresh database.
    for _ in $(seq 1 200); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { echo "instance $i did not become ready:"; tail -5 "$WORK/server-$mode-$n-$i.log"; exit 1; }
  done
}

start_nginx() {
  [ -f "$WORK/nginx.pid" ] && { kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true; sleep 0.3; }
  LB_PORT=$(free_port)
  local servers="" port
  for port in "${PORTS[@]}"; do servers="$servers    server 127.0.0.1:$port;"$'\n'; done
  mkdir -p "$WORK/nginx"
  cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  upstream kintsugi {
$servers    keepalive 128;
  }
  server {
    listen 127.0.0.1:$LB_PORT;
    location / {
      proxy_pass http://kintsugi;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$http_x_forwarded_for;
      proxy_buffering on;
    }
  }
}
CONF
  "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf"
  for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$LB_PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
}

stop_instances() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}

stored() { "${PSQL[@]}" -d "$1" -c "SELECT count(*) FROM comments"; }
rps() { awk '/Requests\/sec/ {printf "%d", $2}' "$1"; }
errors() { awk '/Non-2xx or 3xx/ {n+=$5} /Socket errors/ {n+=1} END {print n+0}' "$1"; }

FAILED=0
ROWS=()
declare -A BASE_READS BASE_POSTS
echo "Kintsugi $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, ${DURATION}s per run, $CONNECTIONS connections, wrk 1 thread through nginx (1 worker) round-robin"
echo "PostgreSQL: $pg_settings"
HEADER="group commit  instances   reads/s  growth   posts/s  growth   (posts acknowledged by a 303 after commit; stored = rows added)"
echo "$HEADER"
for mode in $MODES; do
  for n in $INSTANCES; do
    db="bench_${mode}_$n"
    "${PSQL[@]}" -d postgres -c "CREATE DATABASE $db" >/dev/null
    start_instances "$mode" "$n" "$db"
    start_nginx
    BASE="http://127.0.0.1:$LB_PORT"
    TOKEN=$(curl -fsS "$BASE$ARTICLE" | grep -o 'name="token" value="[^"]*"' | sed 's/.*value="//;s/"$//')
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -H 'Accept-Encoding: gzip' "$BASE$ARTICLE" >"$WORK/read-$mode-$n.txt"
    reads=$(rps "$WORK/read-$mode-$n.txt")
    read_errors=$(errors "$WORK/read-$mode-$n.txt")
    before=$(stored "$db")
    TOKEN=$TOKEN ARTICLE=$ARTICLE wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -s "$WORK/post.lua" "$BASE" >"$WORK/post-$mode-$n.txt"
    sleep 0.5
    after=$(stored "$db")
    acked=$(sed -n 's/^statuses: 303=\([0-9]*\).*/\1/p' "$WORK/post-$mode-$n.txt")
    statuses=$(sed -n 's/^statuses: //p' "$WORK/post-$mode-$n.txt")
    posts=$(( acked / DURATION ))
    kept=$(( after - before ))
    # A post whose answer was still on its way when wrk stopped is stored
    # but not counted: at most one per connection.
    check=ok
    if [ "$kept" -lt "$acked" ]; then check="LOST $((acked - kept))"; FAILED=1;
    elif [ "$((kept - acked))" -gt "$CONNECTIONS" ]; then check="UNACKED $((kept - acked))"; FAILED=1; fi
    case "$statuses" in *"422=0 429=0 other=0"*) ;; *) check="$check; not all 303"; FAILED=1 ;; esac
    [ "$read_errors" = 0 ] || { check="$check; read errors $read_errors"; FAILED=1; }
    [ "$acked" -gt 0 ] || { check="$check; nothing posted"; FAILED=1; }
    [ -z "${BASE_READS[$mode]:-}" ] && { BASE_READS[$mode]=$reads; BASE_POSTS[$mode]=$posts; }
    growth_r=$(awk -v a="$reads" -v b="${BASE_READS[$mode]}" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
    growth_p=$(awk -v a="$posts" -v b="${BASE_POSTS[$mode]}" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
    direct=""
    if [ "$DIRECT" = 1 ]; then
      # The same read load spread straight over the instances (one wrk
      # each, connections shared out), without nginx.
      total=0
      wrks=()
      for port in "${PORTS[@]}"; do
        wrk -t1 -c"$(( CONNECTIONS / n ))" -d"${DURATION}s" -H 'Accept-Encoding: gzip' "http://127.0.0.1:$port$ARTICLE" >"$WORK/direct-$mode-$n-$port.txt" &
        wrks+=($!)
      done
      for pid in "${wrks[@]}"; do wait "$pid"; done
      for port in "${PORTS[@]}"; do total=$(( total + $(rps "$WORK/direct-$mode-$n-$port.txt") )); done
      direct=" direct reads/s $total"
    fi
    row=$(printf '%-12s %9s %9s %7s %9s %7s   acked %6s stored %6s  %s%s' "$mode" "$n" "$reads" "x$growth_r" "$posts" "x$growth_p" "$acked" "$kept" "$check" "$direct")
    echo "$row"
    ROWS+=("$row")
    if [ "$check" != ok ]; then
      echo "  statuses: $statuses"
      grep -h -m3 -iE 'error|warn' "$WORK"/server-"$mode"-"$n"-*.log || true
    fi
    stop_instances
  done
done
echo
echo "$HEADER"
printf '%s\n' "${ROWS[@]}"
if [ "$FAILED" = 1 ]; then
  echo "FAIL: see the rows above" >&2
  exit 1
fi
