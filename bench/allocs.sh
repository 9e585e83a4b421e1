#!/usr/bin/env bash
# Heap allocations per request on the hot path, counted by valgrind's dhat
# (counts, unlike timings, repeat from run to run on a noisy machine).
#
#   bench/allocs.sh [requests]
#
# Starts the release binary under dhat on the sample content with 100
# approved comments on one article, fetches that article (a page-cache hit)
# the given number of times over kept-alive connections, stops the server
# and prints the allocations per request, and the call sites that allocate
# once per request.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${1:-2000}
command -v valgrind >/dev/null || apt-get install -y valgrind >/dev/null || (apt-get update >/dev/null && apt-get install -y valgrind >/dev/null)
cargo build --release --bin kintsugi >/dev/null

WORK=$(mktemp -d /tmp/kintsugi-allocs.XXXXXX)
trap 'kill "${KPID:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
KINTSUGI_BIND="127.0.0.1:$PORT" KINTSUGI_DATA_DIR="$WORK" KINTSUGI_WATCH_CONTENT=false KINTSUGI_LOG=warn \
  valgrind --tool=dhat --dhat-out-file="$WORK/dhat.json" ./target/release/kintsugi serve >"$WORK/server.log" 2>&1 &
KPID=$!
for _ in $(seq 1 600); do curl -fsS "$BASE/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
python3 - "$WORK/kintsugi.sqlite3" <<'PY'
import sqlite3, sys, datetime
db = sqlite3.connect(sys.argv[1])
now = datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M:%S')
for i in range(100):
    db.execute("INSERT INTO comments (article_slug, depth, author_name, author_email, body_markdown, body_html, status, created_at) VALUES (?,?,?,?,?,?,?,?)",
               ("going-no-contact", 0, f"Reader {i}", f"r{i}@example.com", "Seed", "<p>Seed comment?</p>\n", "approved", now))
db.commit()
PY
sleep 1.5
# The requests, over four kept-alive connections (http.client reuses them).
python3 - "$PORT" "$REQUESTS" <<'PY'
import http.client, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
conns = [http.client.HTTPConnection("127.0.0.1", port) for _ in range(4)]
for i in range(n):
    c = conns[i % 4]
    c.request("GET", "/articles/going-no-contact")
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
PY
kill -TERM "$KPID"
wait "$KPID" 2>/dev/null || true
python3 - "$WORK/dhat.json" "$REQUESTS" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1])); n = int(sys.argv[2])
ftbl, pps = d["ftbl"], d["pps"]
# Sites that allocated about once per request (the rest is start-up and
# the page renders, once a second at most).
hot = [p for p in pps if 0.9 * n <= p["tbk"] <= 1.6 * n]
print(f"{n} page-cache hits of the article with 100 comments:")
print(f"  {sum(p['tbk'] for p in hot) / n:.1f} allocations per request at {len(hot)} call sites that run about once per request")
print(f"  {sum(p['tbk'] for p in pps) / n:.1f} allocations per request counting everything (start-up, renders)")
def frame(i):
    f = re.sub(r"^0x[0-9A-F]+: ", "", ftbl[i]); return re.sub(r" \(in .*\)$", "", f)
for p in sorted(hot, key=lambda p: -p["tbk"]):
    frames = [frame(i) for i in p["fs"]]
    frames = [f for f in frames if not re.match(r"(alloc::|core::|__rust|malloc|realloc|calloc|<alloc|hashbrown|std::)", f)]
    print(f"  {p['tbk'] / n:4.2f}/req  {' <- '.join(f[:70] for f in frames[:3])}")
PY
