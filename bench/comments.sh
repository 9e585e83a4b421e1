#!/usr/bin/env bash
# Comment load benchmark: an article page carrying 100 approved comments,
# and comment posts per second (each from its own address, through the
# trusted local proxy, so the per-address rate limit does not dominate).
# Usage: bench/comments.sh [seconds-per-run] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNECTIONS=${2:-32}

command -v wrk >/dev/null || apt-get install -y wrk >/dev/null || (apt-get update >/dev/null && apt-get install -y wrk >/dev/null)
cargo build --release --bin kintsugi >/dev/null

WORK=$(mktemp -d /tmp/kintsugi-bench.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
KINTSUGI_BIND="127.0.0.1:$PORT" KINTSUGI_DATA_DIR="$WORK" KINTSUGI_WATCH_CONTENT=false KINTSUGI_LOG=warn \
  KINTSUGI_TRUSTED_PROXIES=127.0.0.1 KINTSUGI_COMMENT_MIN_SECONDS=0 \
  ./target/release/kintsugi serve >"$WORK/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

BASE="http://127.0.0.1:$PORT"
ARTICLE=/articles/going-no-contact
TOKEN=$(curl -fsS "$BASE$ARTICLE" | grep -o 'name="token" value="[^"]*"' | sed 's/.*value="//;s/"$//')

echo "seeding 100 comments..."
for i in $(seq 1 100); do
  curl -fsS -o /dev/null -H "X-Forwarded-For: 10.200.$((i / 250)).$((i % 250 + 1))" \
    --data-urlencode "name=Reader $i" --data-urlencode "email=reader$i@example.com" \
    --data-urlencode "body=Seed comment number $i, with *a little* Markdown and a question at the end?" \
    --data-urlencode "token=$TOKEN" "$BASE$ARTICLE/comments"
done
python3 - "$WORK/kintsugi.sqlite3" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE comments SET status = 'approved'")
db.commit()
print("approved", db.execute("SELECT count(*) FROM comments WHERE status = 'approved'").fetchone()[0], "comments")
PY

cat >"$WORK/post.lua" <<LUA
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
  local body = "name=Bench&email=b" .. n .. "%40example.com&body=Load+test+comment+" .. n .. "&token=$TOKEN"
  local headers = {}
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  headers["X-Forwarded-For"] = "10." .. (math.floor(n / 65536) % 250 + 1) .. "." .. (math.floor(n / 256) % 256) .. "." .. (n % 256)
  return wrk.format("POST", "$ARTICLE/comments", headers, body)
end
LUA

report() { # name file
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' "$2")
  p50=$(awk '$1=="50%" {print $2}' "$2")
  p99=$(awk '$1=="99%" {print $2}' "$2")
  errors=$(awk '/Non-2xx or 3xx/ {print $5}' "$2")
  printf '%-34s %10s req/s   p50 %8s   p99 %8s   non-2xx/3xx: %s\n' "$1" "$rps" "$p50" "$p99" "${errors:-0}"
}

echo "Kintsugi $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, ${DURATION}s per run, $CONNECTIONS connections"
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$BASE/healthz" >"$WORK/healthz.txt"
report "healthz" "$WORK/healthz.txt"
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$BASE$ARTICLE" >"$WORK/article.txt"
report "article with 100 comments" "$WORK/article.txt"
before=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from comments').fetchone()[0])" "$WORK/kintsugi.sqlite3")
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$WORK/post.lua" "$BASE" >"$WORK/post.txt"
report "comment posts" "$WORK/post.txt"
grep '^statuses:' "$WORK/post.txt" || true
grep -m3 -iE 'error|warn' "$WORK/server.log" || true
after=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from comments').fetchone()[0])" "$WORK/kintsugi.sqlite3")
echo "stored during the post run: $((after - before)) comments ($(( (after - before) / DURATION ))/s)"
