#!/usr/bin/env bash
# Kintsugi next to nginx serving the very same bytes, in one run on one
# machine, loopback only, every run bounded in time.
#
#   bench/nginx.sh [seconds-per-run] [connections]
#   SMOKE=1 bench/nginx.sh 1 8     (CI: the same steps, growth up to 100 only)
#   SHARED=1 bench/nginx.sh        (servers and wrk share every core)
#   PERSONAL_ONLY=1 bench/nginx.sh (only the readers with a personal part
#                                  next to a stranger)
#   PROFILE=production bench/nginx.sh   (the fat-LTO build servers run;
#                                  default: release, thin LTO)
#   KINTSUGI_BIN=path/to/kintsugi bench/nginx.sh   (that binary, not built
#                                  here: e.g. an older commit's, to compare)
#
# Cores: by default the servers under test (Kintsugi with one worker, nginx
# with one worker process) run on the last core and wrk, with one thread, on
# the first. Sharing the cores makes wrk's latency figures its own: two wrk
# threads busy on a core take turns of a few milliseconds, and the requests
# of the thread waiting its turn count those milliseconds as server time,
# more so the faster the server is (p99 4-8 ms for either server, against
# under 1 ms with one wrk thread on its own core).
#
# 1. Starts Kintsugi (the $PROFILE build) on the sample content with 100
#    approved comments on one article, saves the bytes it serves (plain and
#    gzip), then starts nginx serving those files (gzip_static), one after
#    the other on the same machine.
# 2. Measures requests/s and p50/p99 at 32 connections: the article (plain
#    and gzip), home, a tag page and search against nginx with the same
#    bytes (Kintsugi and nginx alternate, three rounds each, medians kept,
#    so a noisy moment on a shared machine hits both sides); a cache
#    miss (the first request after a new comment); comment posts per
#    second through many client addresses (behind the trusted local proxy);
#    readers with a personal part (a remembered name and email, their own
#    held comment) next to a stranger, gzip, as ratios.
# 3. Prints each Kintsugi figure next to nginx's as a ratio, and how the
#    article's p50/p99 and the process's memory grow with 10..10,000
#    comments on one article and with 10..10,000 articles.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-5}
CONNECTIONS=${2:-32}
ARTICLE=/articles/going-no-contact
PROFILE=${PROFILE:-release}
if [ "${SHARED:-0}" = 1 ] || [ "$(nproc)" -lt 2 ]; then
  THREADS=2; SERVER_CPU=""; LOAD_CPU=""; NGINX_WORKERS=auto
else
  THREADS=1; LAST=$(($(nproc) - 1)); NGINX_WORKERS=1
  SERVER_CPU="taskset -c $LAST"; LOAD_CPU="taskset -c 0"
  export KINTSUGI_WORKERS=1
fi

need() { command -v "$1" >/dev/null || apt-get install -y "$2" >/dev/null || (apt-get update >/dev/null && apt-get install -y "$2" >/dev/null); }
need wrk wrk
need nginx nginx-light || need nginx nginx
if [ -n "${KINTSUGI_BIN:-}" ]; then
  BIN=$KINTSUGI_BIN
else
  cargo build --profile "$PROFILE" --bin kintsugi >/dev/null
  BIN=./target/$PROFILE/kintsugi
fi

WORK=$(mktemp -d /tmp/kintsugi-nginx.XXXXXX)
# mktemp makes the folder private; nginx's workers (nobody) must read it, or
# every nginx figure would be of a 403 page.
chmod 755 "$WORK"
SIZES="10 100 1000 10000"
ROUNDS=3
if [ "${SMOKE:-0}" = 1 ]; then SIZES="10 100"; ROUNDS=1; fi
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_kintsugi DATA_DIR CONTENT_DIR -> sets KPORT, KPID; prints start-up seconds
start_kintsugi() {
  KPORT=$(free_port)
  local t0; t0=$(date +%s.%N)
  KINTSUGI_BIND="127.0.0.1:$KPORT" KINTSUGI_DATA_DIR="$1" KINTSUGI_CONTENT_DIR="$2" \
    KINTSUGI_WATCH_CONTENT=false KINTSUGI_LOG=warn KINTSUGI_TRUSTED_PROXIES=127.0.0.1 \
    KINTSUGI_COMMENT_MIN_SECONDS=0 $SERVER_CPU "$BIN" serve >"$1/server.log" 2>&1 &
  KPID=$!
  PIDS+=("$KPID")
  for _ in $(seq 1 600); do curl -fsS "http://127.0.0.1:$KPORT/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
  STARTUP=$(python3 -c "import time,sys; print(f'{time.time()-float(sys.argv[1]):.2f}')" "$t0")
}
rss_mb() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }

# bench NAME URL [wrk args] -> WORK/NAME.{rps,p50,p99}
bench() {
  local name=$1 url=$2; shift 2
  curl -fsS -o /dev/null "$url" "$@" 2>/dev/null || true
  $LOAD_CPU wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "$url" >"$WORK/$name.txt"
  # Every answer must be a success (or the 303 after a comment): an error page
  # is small and fast and would flatter whoever served it.
  if grep -q 'Non-2xx or 3xx' "$WORK/$name.txt"; then
    echo "$name: some answers were errors:" >&2; cat "$WORK/$name.txt" >&2; exit 1
  fi
  awk '/Requests\/sec/ {print $2}' "$WORK/$name.txt" >"$WORK/$name.rps"
  awk '$1=="50%" {print $2}' "$WORK/$name.txt" >"$WORK/$name.p50"
  awk '$1=="99%" {print $2}' "$WORK/$name.txt" >"$WORK/$name.p99"
  printf '  %-26s %10s req/s   p50 %8s   p99 %8s\n' "$name" "$(cat "$WORK/$name.rps")" "$(cat "$WORK/$name.p50")" "$(cat "$WORK/$name.p99")"
}
ms() { # wrk latency (e.g. 1.23ms, 456.00us, 1.2s) -> milliseconds
  python3 -c "import sys,re; v=sys.argv[1]; n=float(re.sub('[a-z]+','',v)); u=re.sub('[0-9.]+','',v); print(n*{'us':0.001,'ms':1,'s':1000}[u])" "$1"
}
ratio() { # label kintsugi-name nginx-name
  python3 - "$1" "$WORK/$2" "$WORK/$3" <<'PY'
import sys,re
def ms(v):
    n=float(re.sub('[a-z]+','',v)); u=re.sub('[0-9.]+','',v)
    return n*{'us':0.001,'ms':1,'s':1000}[u]
label,k,n=sys.argv[1:]
r=lambda p,e: open(p+e).read().strip()
print(f"  {label:<26} {float(r(k,'.rps'))/float(r(n,'.rps')):5.2f}x nginx's req/s   p99 {ms(r(k,'.p99'))/ms(r(n,'.p99')):5.2f}x nginx's")
PY
}

# seed_comments DB SLUG N: N approved comments straight into SQLite (threads
# of one question and two replies), as a busy article would have.
seed_comments() {
  python3 - "$1" "$2" "$3" <<'PY'
import sqlite3, sys, datetime
db = sqlite3.connect(sys.argv[1]); slug = sys.argv[2]; n = int(sys.argv[3])
now = datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M:%S')
body = "<p>Seed comment with <em>a little</em> Markdown and a question at the end?</p>\n"
rows = []
root = None
for i in range(n):
    rows.append(i)
cur = db.cursor()
for i in range(n):
    if i % 3 == 0:
        cur.execute("INSERT INTO comments (article_slug, depth, author_name, author_email, body_markdown, body_html, status, created_at) VALUES (?,?,?,?,?,?,?,?)",
                    (slug, 0, f"Reader {i}", f"r{i}@example.com", "Seed", body, "approved", now))
        root = cur.lastrowid
    else:
        cur.execute("INSERT INTO comments (article_slug, parent_id, root_id, reply_to_id, depth, author_name, author_email, body_markdown, body_html, status, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (slug, root, root, root, 1, f"Reader {i}", f"r{i}@example.com", "Seed", body, "approved", now))
db.commit()
PY
}

# miss BASE COUNT -> "p50 p99" in ms of the first article request after each of
# COUNT new (published) comments: a cache miss every time.
miss() {
TOKEN=$(curl -fsS "$1$ARTICLE" | grep -o 'name="token" value="[^"]*"' | sed 's/.*value="//;s/"$//')
$LOAD_CPU python3 - "$1" "$ARTICLE" "$TOKEN" "$2" <<'PY'
import sys, time, urllib.request, urllib.parse, sqlite3, statistics
base, article, token, count = sys.argv[1:]
class NoRedirect(urllib.request.HTTPErrorProcessor):
    def http_response(self, req, resp): return resp
opener = urllib.request.build_opener(NoRedirect)
times = []
for i in range(int(count)):
    # No long digit runs: they read as a phone number and hold the comment.
    # A reply in the first thread, so it stays on the first comment page.
    data = urllib.parse.urlencode({"name": "Known", "email": "r0@example.com", "body": f"Miss test {i}", "parent": "1", "token": token}).encode()
    req = urllib.request.Request(base + article + "/comments", data=data, headers={"X-Forwarded-For": f"10.99.{i // 250}.{i % 250 + 1}"})
    posted = opener.open(req)
    posted.read()
    if posted.status != 303 or "posted=" not in (posted.headers.get("location") or ""):
        sys.exit(f"posting a comment failed: {posted.status} {posted.headers.get('location')}")
    t0 = time.perf_counter()
    body = urllib.request.urlopen(base + article).read()
    times.append((time.perf_counter() - t0) * 1000)
    assert f"Miss test {i}<".encode() in body, "the new comment must be on the very next page"
times.sort()
print(f"{statistics.median(times):.2f} {times[int(len(times) * 0.99) - 1]:.2f}")
PY
}

echo "Kintsugi $(git describe --always --dirty 2>/dev/null || echo '?') (${KINTSUGI_BIN:-$PROFILE profile}) next to $(nginx -v 2>&1 | sed 's/.*: //'), $(nproc) cores, ${DURATION}s per run, $CONNECTIONS connections"
if [ -n "$SERVER_CPU" ]; then
  echo "  servers on core $LAST (one worker each), wrk on core 0 (one thread)"
else
  echo "  servers and wrk ($THREADS threads) share all cores"
fi

# ---- Kintsugi with 100 comments on the article -------------------------------
mkdir -p "$WORK/k" "$WORK/www"
start_kintsugi "$WORK/k" content
BASE="http://127.0.0.1:$KPORT"
seed_comments "$WORK/k/kintsugi.sqlite3" going-no-contact 100
sleep 1.2 # the page cache renews within a second
curl -fsS "$BASE$ARTICLE" -o "$WORK/www/article.html"
curl -fsS "$BASE/" -o "$WORK/www/index.html"
curl -fsS "$BASE/search?q=contact" -o "$WORK/www/search.html"
TAG=$(grep -o 'href="/tags/[^"]*"' "$WORK/www/index.html" | head -n 1 | sed 's/href="//;s/"$//')
curl -fsS "$BASE$TAG" -o "$WORK/www/tag.html"
grep -q 'comment--depth-1' "$WORK/www/article.html" || { echo "the seeded comments are not on the page" >&2; exit 1; }
# nginx's gzip_static file is the very gzip Kintsugi sends.
curl -fsS -H 'Accept-Encoding: gzip' "$BASE$ARTICLE" -o "$WORK/www/article.html.gz"
for f in index search tag; do gzip -6 -k "$WORK/www/$f.html"; done
printf '  article: %s bytes (%s gzipped), home %s, %s %s, search %s\n' "$(wc -c <"$WORK/www/article.html")" "$(wc -c <"$WORK/www/article.html.gz")" "$(wc -c <"$WORK/www/index.html")" "$TAG" "$(wc -c <"$WORK/www/tag.html")" "$(wc -c <"$WORK/www/search.html")"

if [ "${PERSONAL_ONLY:-0}" != 1 ]; then
# ---- nginx with the same bytes, beside Kintsugi ---------------------------------
NPORT=$(free_port)
cat >"$WORK/nginx.conf" <<CONF
worker_processes $NGINX_WORKERS;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  types { text/html html; }
  default_type text/html;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  gzip_static on;
  server {
    listen 127.0.0.1:$NPORT;
    root $WORK/www;
    location / { }
  }
}
CONF
$SERVER_CPU nginx -c "$WORK/nginx.conf" -p "$WORK"
PIDS+=("$(cat "$WORK/nginx.pid" 2>/dev/null || echo 0)")
sleep 0.3
NBASE="http://127.0.0.1:$NPORT"
# nginx must serve exactly the bytes measured above.
curl -fsS "$NBASE/article.html" | cmp -s - "$WORK/www/article.html" || { echo "nginx does not serve the saved article" >&2; exit 1; }
curl -fsS -H 'Accept-Encoding: gzip' "$NBASE/article.html" | cmp -s - "$WORK/www/article.html.gz" || { echo "nginx does not serve the saved gzip" >&2; exit 1; }

# pair NAME KINTSUGI-URL NGINX-URL [wrk args]: both, one after the other,
# ROUNDS times, so a noisy moment on this shared machine hits both sides;
# the medians of the rounds are kept (k-NAME.*, n-NAME.*).
pair() {
  local name=$1 kurl=$2 nurl=$3; shift 3
  for r in $(seq 1 "$ROUNDS"); do
    bench "k-$name-$r" "$kurl" "$@" >/dev/null
    bench "n-$name-$r" "$nurl" "$@" >/dev/null
  done
  python3 - "$WORK" "$name" "$ROUNDS" <<'PY'
import re, statistics, sys
work, name, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
def ms(v):
    n = float(re.sub('[a-z]+', '', v)); u = re.sub('[0-9.]+', '', v)
    return n * {'us': 0.001, 'ms': 1, 's': 1000}[u]
line = []
rounds_seen = []
for side in ("k", "n"):
    read = lambda r, e: open(f"{work}/{side}-{name}-{r}.{e}").read().strip()
    rps = statistics.median(float(read(r, "rps")) for r in range(1, rounds + 1))
    out = {"rps": f"{rps:.2f}"}
    for q in ("p50", "p99"):
        out[q] = f"{statistics.median(ms(read(r, q)) for r in range(1, rounds + 1)):.2f}ms"
    for e, v in out.items():
        open(f"{work}/{side}-{name}.{e}", "w").write(v + "\n")
    line.append(f"{'Kintsugi' if side == 'k' else 'nginx'} {out['rps']:>9} req/s p50 {out['p50']:>7} p99 {out['p99']:>7}")
    rounds_seen.append(f"{'Kintsugi' if side == 'k' else 'nginx'} " + " ".join(f"{float(read(r, 'rps')) / 1000:.1f}k" for r in range(1, rounds + 1)))
print(f"  {name:<13} " + "   |   ".join(line))
if rounds > 1:
    print(f"  {'':<13} req/s by round: " + ", ".join(rounds_seen))
PY
}

echo "Kintsugi next to nginx, the same bytes (medians of $ROUNDS alternating rounds):"
pair article "$BASE$ARTICLE" "$NBASE/article.html"
pair article-gzip "$BASE$ARTICLE" "$NBASE/article.html" -H "Accept-Encoding: gzip"
pair home "$BASE/" "$NBASE/index.html"
pair tag "$BASE$TAG" "$NBASE/tag.html"
pair search "$BASE/search?q=contact" "$NBASE/search.html"
nginx -c "$WORK/nginx.conf" -p "$WORK" -s stop 2>/dev/null || true

echo "Ratios (Kintsugi / nginx):"
ratio "article, 100 comments" k-article n-article
ratio "article, gzip" k-article-gzip n-article-gzip
ratio "home" k-home n-home
ratio "tag page" k-tag n-tag
ratio "search" k-search n-search

echo "Kintsugi only:"
bench k-article-br "$BASE$ARTICLE" -H "Accept-Encoding: br"

fi

# Readers with a personal part, next to a stranger (gzip, one run each, one
# after the other): a remembered name and email, and their own held comment
# (a first comment waits for the coach) with their name remembered too.
REMEMBER=$(python3 -c 'print("Robin\nrobin@example.com".encode().hex())')
TOKEN=$(curl -fsS "$BASE$ARTICLE" | grep -o 'name="token" value="[^"]*"' | sed 's/.*value="//;s/"$//')
OWN=$(curl -fsS -o /dev/null -D - -H 'X-Forwarded-For: 10.98.0.1' \
  --data-urlencode name=Robin --data-urlencode email=robin@example.com \
  --data-urlencode 'body=A held question from the bench, waiting for the coach.' \
  --data-urlencode remember=1 --data-urlencode "token=$TOKEN" "$BASE$ARTICLE/comments" |
  tr -d '\r' | grep -i '^set-cookie: kintsugi_own=' | sed 's/^[^=]*=//;s/;.*//')
[ -n "$OWN" ] || { echo "posting the held comment gave no own-comments cookie" >&2; exit 1; }
sleep 1.2
PAGE=$(curl -fsS --compressed -H "Cookie: kintsugi_commenter=$REMEMBER" "$BASE$ARTICLE")
grep -q 'value="robin@example.com"' <<<"$PAGE" || { echo "the remembered reader's page lacks their email" >&2; exit 1; }
PAGE=$(curl -fsS --compressed -H "Cookie: kintsugi_own=$OWN; kintsugi_commenter=$REMEMBER" "$BASE$ARTICLE")
grep -q 'A held question from the bench' <<<"$PAGE" || { echo "the writer's page lacks their held comment" >&2; exit 1; }
# Alternating rounds (stranger, remembered, held), medians kept, so a noisy
# moment on a shared machine hits all three.
for r in $(seq 1 "$ROUNDS"); do
  bench "k-stranger-gzip-$r" "$BASE$ARTICLE" -H "Accept-Encoding: gzip" >/dev/null
  bench "k-remembered-gzip-$r" "$BASE$ARTICLE" -H "Accept-Encoding: gzip" -H "Cookie: kintsugi_commenter=$REMEMBER" >/dev/null
  bench "k-held-gzip-$r" "$BASE$ARTICLE" -H "Accept-Encoding: gzip" -H "Cookie: kintsugi_own=$OWN; kintsugi_commenter=$REMEMBER" >/dev/null
done
python3 - "$WORK" "$ROUNDS" <<'PY'
import statistics, sys
w, rounds = sys.argv[1], int(sys.argv[2])
rps = {}
for name in ("stranger", "remembered", "held"):
    runs = [float(open(f"{w}/k-{name}-gzip-{r}.rps").read()) for r in range(1, rounds + 1)]
    rps[name] = statistics.median(runs)
    print(f"  {name + ' (gzip)':<26} {rps[name]:10.2f} req/s   (rounds: {', '.join(f'{x / 1000:.1f}k' for x in runs)})")
s = rps["stranger"]
print(f"  personal / stranger: remembered {rps['remembered'] / s:.2f}x, own held comment {rps['held'] / s:.2f}x")
PY

[ "${PERSONAL_ONLY:-0}" = 1 ] && exit 0

# A cache miss: the first request after a new (published) comment.
miss "$BASE" 60 >"$WORK/miss.txt"
read -r MISS_P50 MISS_P99 <"$WORK/miss.txt"
printf '  %-26s %10s         p50 %6.2fms   p99 %6.2fms  (sequential, each after a new comment)\n' "cache miss" "" "$MISS_P50" "$MISS_P99"

# Comment posts through many addresses.
cat >"$WORK/post.lua" <<LUA
local counter = 0
offset = 0
function setup(thread) thread:set("offset", math.random(1, 1000000) * 1000) end
function init(args) offset = tonumber(offset) or 0 end
request = function()
  counter = counter + 1
  local n = offset + counter
  local headers = {}
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  headers["X-Forwarded-For"] = "10." .. (math.floor(n / 65536) % 250 + 1) .. "." .. (math.floor(n / 256) % 256) .. "." .. (n % 256)
  return wrk.format("POST", "$ARTICLE/comments", headers, "name=Bench&email=b" .. n .. "%40example.com&body=Load+test+" .. n .. "&token=$TOKEN")
end
LUA
before=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from comments').fetchone()[0])" "$WORK/k/kintsugi.sqlite3")
bench k-posts "$BASE" -s "$WORK/post.lua"
after=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from comments').fetchone()[0])" "$WORK/k/kintsugi.sqlite3")
echo "  stored during the post run: $((after - before)) comments ($(( (after - before) / DURATION ))/s, SQLite, synchronous=FULL)"
kill "$KPID" 2>/dev/null || true

# ---- How cost grows ------------------------------------------------------------
echo "Growth: comments on one article (p50 / p99 of the article page, a cache miss, process memory):"
for n in $SIZES; do
  mkdir -p "$WORK/g$n"
  start_kintsugi "$WORK/g$n" content
  seed_comments "$WORK/g$n/kintsugi.sqlite3" going-no-contact "$n"
  sleep 1.2
  bench "g$n" "http://127.0.0.1:$KPORT$ARTICLE" >/dev/null
  miss "http://127.0.0.1:$KPORT" 20 >"$WORK/gmiss$n.txt"
  read -r GMISS _ <"$WORK/gmiss$n.txt"
  printf '  %6s comments   %10s req/s   p50 %8s   p99 %8s   miss p50 %6.2fms   RSS %4s MB\n' "$n" "$(cat "$WORK/g$n.rps")" "$(cat "$WORK/g$n.p50")" "$(cat "$WORK/g$n.p99")" "$GMISS" "$(rss_mb "$KPID")"
  kill "$KPID" 2>/dev/null || true
done
echo "Growth: articles (start-up, home page, process memory):"
for n in $SIZES; do
  mkdir -p "$WORK/a$n/content/articles" "$WORK/a$n/data"
  python3 - "$WORK/a$n/content/articles" "$n" <<'PY'
import sys, os
d, n = sys.argv[1], int(sys.argv[2])
para = "Breakups rearrange the days. Small routines, kind words and time help more than any grand gesture. " * 6
for i in range(n):
    with open(os.path.join(d, f"article-{i}.md"), "w") as f:
        f.write(f'+++\ntitle = "Article number {i}"\ndate = 2025-{i % 12 + 1:02d}-{i % 28 + 1:02d}\ntags = ["tag {i % 20}", "healing"]\n+++\n\n{para}\n\n## A section\n\n{para}\n\n## Another\n\n- one\n- two\n')
PY
  start_kintsugi "$WORK/a$n/data" "$WORK/a$n/content"
  bench "a$n" "http://127.0.0.1:$KPORT/" >/dev/null
  printf '  %6s articles   start-up %5ss   home %10s req/s   p99 %8s   RSS %4s MB\n' "$n" "$STARTUP" "$(cat "$WORK/a$n.rps")" "$(cat "$WORK/a$n.p99")" "$(rss_mb "$KPID")"
  kill "$KPID" 2>/dev/null || true
done
