#!/usr/bin/env bash
# Memory soak: the release binary on a fresh data folder with the sample
# content, under a mixed load for SOAK_SECONDS (default 300), while the
# process's resident memory is sampled every 5 s.
#
#   bench/soak.sh                 # 5 minutes
#   SMOKE=1 bench/soak.sh         # 20 s, fails on any error answer (CI)
#
# The load: wrk (2 threads, SOAK_CONNECTIONS=32 connections) reading the
# home page, tag pages, articles (with ?cpage=, ?page= and tracking query
# strings), many distinct searches, the feeds and static files, as a browser
# asks for them (gzip and brotli); beside it a writer posting comments
# through the real form (a fresh token from the page each time, every post
# from its own address through the trusted local proxy, so the per-address
# limits do not refuse them) and now and then a coaching request.
#
# Prints a table of VmRSS and VmHWM over time, the plateau (the largest
# VmRSS of the last minute), requests/second and the answers by status.
# Settings and experiments pass through the environment, e.g.
# `KINTSUGI_PAGE_CACHE_MB=16 bench/soak.sh` or `MALLOC_ARENA_MAX=2 bench/soak.sh`.
# KINTSUGI_BIN=path uses that binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${SMOKE:-}" ]; then SOAK_SECONDS=${SOAK_SECONDS:-20}; fi
SECONDS_TOTAL=${SOAK_SECONDS:-300}
CONNECTIONS=${SOAK_CONNECTIONS:-32}
INTERVAL=5

command -v wrk >/dev/null || apt-get install -y wrk >/dev/null || (apt-get update >/dev/null && apt-get install -y wrk >/dev/null)
if [ -z "${KINTSUGI_BIN:-}" ]; then
  cargo build --release --bin kintsugi >/dev/null
  KINTSUGI_BIN="${CARGO_TARGET_DIR:-target}/release/kintsugi"
fi

WORK=$(mktemp -d /tmp/kintsugi-soak.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
KINTSUGI_BIND="127.0.0.1:$PORT" KINTSUGI_DATA_DIR="$WORK/data" KINTSUGI_WATCH_CONTENT=false \
  KINTSUGI_LOG=${KINTSUGI_LOG:-warn} KINTSUGI_TRUSTED_PROXIES=127.0.0.1 KINTSUGI_COMMENT_MIN_SECONDS=0 \
  "$KINTSUGI_BIN" serve >"$WORK/server.log" 2>&1 &
PID=$!
WRITER=
cleanup() {
  [ -n "$WRITER" ] && kill "$WRITER" 2>/dev/null || true
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 200); do curl -fsS "$BASE/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "$BASE/readyz" >/dev/null

# Every public address the site lists, and its static files.
curl -fsS "$BASE/sitemap.xml" | grep -o '<loc>[^<]*</loc>' | sed "s#<loc>[a-z]*://[^/]*##;s#</loc>##" >"$WORK/paths"
curl -fsS "$BASE/" | grep -oE '(href|src)="/static/[^"]*"' | sed 's/^[a-z]*="//;s/"$//' | sort -u >"$WORK/static"
grep '^/articles/' "$WORK/paths" >"$WORK/articles"
grep '^/tags/' "$WORK/paths" >"$WORK/tags" || true
lua_list() { sed 's/.*/  "&",/' "$1"; }

cat >"$WORK/mix.lua" <<LUA
local articles = {
$(lua_list "$WORK/articles")
}
local tags = {
$(lua_list "$WORK/tags")
}
local statics = {
$(lua_list "$WORK/static")
}
local words = { "contact", "no", "breakup", "sleep", "ex", "texting", "grief", "friends", "weekend",
  "healing", "morning", "anger", "closure", "letter", "dog", "work", "birthday", "phone", "social",
  "media", "alone", "rebound", "trust", "sad", "relief", "tears", "again", "plan", "coach", "week",
  "days", "why", "how", "when", "love", "miss", "him", "her", "them", "first", "after", "still" }
local encodings = { "gzip, deflate, br", "gzip, deflate, br", "gzip, deflate", "br", "" }
s2xx, s3xx, s4xx, s5xx = 0, 0, 0, 0
local threads = {}
function setup(thread)
  thread:set("seed", math.random(1, 1000000))
  table.insert(threads, thread)
end
function init(args)
  math.randomseed(tonumber(seed) or os.time())
end
local function pick(list) return list[math.random(1, #list)] end
local function search_query()
  local q = pick(words)
  local r = math.random()
  if r < 0.5 then q = q .. "+" .. pick(words) end
  if r < 0.2 then q = q .. "+" .. pick(words) end
  if math.random() < 0.4 then q = q .. "+" .. math.random(1, 100000) end
  local url = "/search?q=" .. q
  if math.random() < 0.1 then url = url .. "&page=" .. math.random(1, 2) end
  return url
end
local function article()
  local url = pick(articles)
  local r = math.random()
  if r < 0.2 then url = url .. "?cpage=1"
  elseif r < 0.35 then url = url .. "?page=" .. math.random(1, 50)
  elseif r < 0.5 then url = url .. "?utm_source=newsletter&utm_campaign=" .. math.random(1, 100000)
  elseif r < 0.55 then url = url .. "/comments.xml" end
  return url
end
request = function()
  local r = math.random()
  local path
  if r < 0.30 then path = search_query()
  elseif r < 0.65 then path = article()
  elseif r < 0.72 then path = (math.random() < 0.8) and "/" or "/?page=1"
  elseif r < 0.80 then path = (#tags > 0 and math.random() < 0.8) and pick(tags) or "/tags"
  elseif r < 0.88 then path = (math.random() < 0.5) and "/feed.xml" or "/comments.xml"
  else path = pick(statics) end
  local headers = {}
  local enc = pick(encodings)
  if enc ~= "" then headers["Accept-Encoding"] = enc end
  return wrk.format("GET", path, headers)
end
function response(status, headers, body)
  if status < 300 then s2xx = s2xx + 1
  elseif status < 400 then s3xx = s3xx + 1
  elseif status < 500 then s4xx = s4xx + 1
  else s5xx = s5xx + 1 end
end
function done(summary, latency, requests)
  local a, b, c, d = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("s2xx"); b = b + t:get("s3xx"); c = c + t:get("s4xx"); d = d + t:get("s5xx")
  end
  io.write(string.format("statuses: 2xx=%d 3xx=%d 4xx=%d 5xx=%d\n", a, b, c, d))
end
LUA

# The writer: comments through the article form, and coaching requests
# through /coaching, each from its own address. Counts go to writer.txt.
cat >"$WORK/writer.py" <<'PY'
import html.parser, random, sys, time, urllib.error, urllib.parse, urllib.request

base, articles_file, out = sys.argv[1], sys.argv[2], sys.argv[3]
articles = [line.strip() for line in open(articles_file) if line.strip()]

class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None

opener = urllib.request.build_opener(NoRedirect)

def get(path):
    with opener.open(base + path, timeout=10) as r:
        return r.read().decode()

def post(path, fields, n):
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(base + path, data=data, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Forwarded-For": f"10.{n // 65536 % 250 + 1}.{n // 256 % 256}.{n % 256}",
    })
    try:
        with opener.open(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code

class Form(html.parser.HTMLParser):
    """The fields of the form posting to `action`, filled as a reader would."""
    def __init__(self, action):
        super().__init__()
        self.action, self.inside, self.fields, self.select = action, False, {}, None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("action") == self.action and a.get("method", "").lower() == "post"
        if not self.inside or "name" not in a and tag != "option":
            return
        if tag == "input":
            kind, name = a.get("type", "text"), a["name"]
            if kind in ("radio", "checkbox"):
                self.fields.setdefault(name, a.get("value", "on"))
            elif name != "website":
                self.fields[name] = a.get("value", "")
        elif tag == "textarea":
            self.fields[a["name"]] = ""
        elif tag == "select":
            self.select = a["name"]
        elif tag == "option" and self.select and a.get("value"):
            self.fields.setdefault(self.select, a["value"])
    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        if tag == "select":
            self.select = None

counts = {}
def count(kind, status):
    key = f"{kind} {status}"
    counts[key] = counts.get(key, 0) + 1
    with open(out, "w") as f:
        f.write(" ".join(f"{k}={v}" for k, v in sorted(counts.items())) + "\n")

n = random.randrange(1, 10**6)
while True:
    n += 1
    try:
        if n % 10 == 0:
            form = Form("/coaching")
            form.feed(get("/coaching"))
            fields = form.fields
            fields.update(name=f"Soak {n}", email=f"soak{n}@example.com", no_contact_since="2026-01-15",
                          situation=f"We broke up {n % 30 + 1} weeks ago and I keep checking my phone. What now? ({n})")
            count("coaching", post("/coaching", fields, n))
        else:
            article = random.choice(articles)
            page = get(article)
            token = page.split('name="token" value="', 1)[1].split('"', 1)[0]
            count("comment", post(article + "/comments", {
                "name": f"Reader {n}", "email": f"reader{n}@example.com", "token": token,
                "body": f"Day {n % 60 + 1} of no contact. Thank you for this article, it helped me today ({n}).",
            }, n))
    except Exception as e:  # keep going; the count shows it
        count("error", type(e).__name__)
    time.sleep(0.2)
PY

echo "Kintsugi $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, ${SECONDS_TOTAL}s of mixed load, $CONNECTIONS connections" \
  "($(wc -l <"$WORK/articles") articles, $(wc -l <"$WORK/tags") tags, $(wc -l <"$WORK/static") static files)"
env | grep -E '^(KINTSUGI_[A-Z_]*CACHE[A-Z_]*|MALLOC_[A-Z_]*|KINTSUGI_DB_POOL_SIZE|KINTSUGI_WORKERS)=' | sed 's/^/setting: /' || true
python3 "$WORK/writer.py" "$BASE" "$WORK/articles" "$WORK/writer.txt" &
WRITER=$!
wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_TOTAL}s" --latency -s "$WORK/mix.lua" "$BASE" >"$WORK/wrk.txt" 2>&1 &
WRK=$!

rss() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$PID/status"; }
START=$(date +%s)
printf '%6s %12s %12s\n' "second" "VmRSS MB" "VmHWM MB"
printf '%6d %12.1f %12.1f\n' 0 "$(rss VmRSS | awk '{print $1/1024}')" "$(rss VmHWM | awk '{print $1/1024}')"
: >"$WORK/samples"
while kill -0 "$WRK" 2>/dev/null; do
  sleep "$INTERVAL"
  kill -0 "$PID" 2>/dev/null || { echo "the server stopped:"; tail -20 "$WORK/server.log"; exit 1; }
  t=$(( $(date +%s) - START ))
  r=$(rss VmRSS); h=$(rss VmHWM)
  echo "$t $r $h" >>"$WORK/samples"
  printf '%6d %12.1f %12.1f\n' "$t" "$(awk -v v="$r" 'BEGIN{print v/1024}')" "$(awk -v v="$h" 'BEGIN{print v/1024}')"
done
wait "$WRK" || true
kill "$WRITER" 2>/dev/null || true
wait "$WRITER" 2>/dev/null || true
WRITER=

last=$(tail -1 "$WORK/samples" | awk '{print $1}')
awk -v from=$((last - 60)) '$1 >= from && $2 > max { max = $2 } END { printf "plateau (max VmRSS, last minute): %.1f MB\n", max / 1024 }' "$WORK/samples"
awk '{ if ($3 > max) max = $3 } END { printf "peak (VmHWM): %.1f MB\n", max / 1024 }' "$WORK/samples"
rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")
p50=$(awk '$1=="50%" {print $2}' "$WORK/wrk.txt")
p99=$(awk '$1=="99%" {print $2}' "$WORK/wrk.txt")
echo "reads: $rps req/s   p50 $p50   p99 $p99"
grep '^statuses:' "$WORK/wrk.txt" || { cat "$WORK/wrk.txt"; exit 1; }
echo "writer: $(cat "$WORK/writer.txt" 2>/dev/null || echo nothing)"
grep -m5 -iE 'error|panic' "$WORK/server.log" || true
if [ -n "${SMOKE:-}" ]; then
  grep -q '5xx=0$' "$WORK/wrk.txt" || { echo "server errors under load"; exit 1; }
  grep -qE 'comment 303=[1-9]' "$WORK/writer.txt" || { echo "no comment was accepted"; exit 1; }
  grep -qE 'coaching 303=[1-9]' "$WORK/writer.txt" || { echo "no coaching request was accepted"; exit 1; }
fi
