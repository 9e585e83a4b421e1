#!/usr/bin/env bash
# The operator's view on the real binary behind a real nginx, in about 15
# seconds after the debug build (CI runs it after `cargo test`):
#
#   bench/metrics.sh
#
# 1. Kintsugi A with KINTSUGI_METRICS=on, a token, KINTSUGI_LOG_FORMAT=json
#    and no trusted proxy; nginx in front of it on loopback, forwarding
#    X-Forwarded-For and its own X-Request-Id. Direct from loopback,
#    /metrics answers; through nginx (a proxy Kintsugi was not told about)
#    it is refused, since every visitor would otherwise look like loopback;
#    through nginx with the bearer token it answers. The text is parsed by
#    the Prometheus Python client's parser (an independent reader of the
#    format) and must hold every metric family the README lists.
# 2. Kintsugi B trusts nginx: nginx's request id comes back as
#    X-Request-Id and stands in B's JSON log line for that request.
# 3. Every line either instance logged parses as JSON.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null || apt-get install -y "$2" >/dev/null || (apt-get update >/dev/null && apt-get install -y "$2" >/dev/null); }
need nginx nginx-light || need nginx nginx
need curl curl
# Debian's python3, where Debian's packages install (not a pyenv shim).
PY=/usr/bin/python3
if ! $PY -c 'import prometheus_client.parser' 2>/dev/null; then
  apt-get install -y python3-prometheus-client >/dev/null || (apt-get update >/dev/null && apt-get install -y python3-prometheus-client >/dev/null)
fi
cargo build --bin kintsugi >/dev/null 2>&1 || cargo build --bin kintsugi
BIN=./target/debug/kintsugi

WORK=$(mktemp -d /tmp/kintsugi-metrics.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
fail() { echo "FAIL: $*"; exit 1; }
TOKEN=metrics-check-$RANDOM$RANDOM

# start NAME TRUSTED_PROXIES -> sets PORT_<NAME>
start() {
  local name=$1 port; port=$(free_port)
  mkdir -p "$WORK/$name"
  KINTSUGI_BIND="127.0.0.1:$port" KINTSUGI_DATA_DIR="$WORK/$name" KINTSUGI_CONTENT_DIR=content \
    KINTSUGI_WATCH_CONTENT=false KINTSUGI_LOG=info KINTSUGI_LOG_FORMAT=json \
    KINTSUGI_METRICS=on KINTSUGI_METRICS_TOKEN="$TOKEN" KINTSUGI_TRUSTED_PROXIES="$2" \
    $BIN serve >/dev/null 2>"$WORK/$name.log" &
  PIDS+=("$!")
  for _ in $(seq 1 200); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { cat "$WORK/$name.log"; fail "$name did not start"; }
  printf -v "PORT_$name" '%s' "$port"
}
start A ""
start B "127.0.0.1"

NGINX_A=$(free_port)
NGINX_B=$(free_port)
mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  server {
    listen 127.0.0.1:$NGINX_A;
    location / {
      proxy_pass http://127.0.0.1:$PORT_A;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Request-Id \$request_id;
    }
  }
  server {
    listen 127.0.0.1:$NGINX_B;
    location / {
      proxy_pass http://127.0.0.1:$PORT_B;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Request-Id \$request_id;
    }
  }
}
EOF
/usr/sbin/nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" &
PIDS+=("$!")
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$NGINX_A/healthz" >/dev/null 2>&1 && break; sleep 0.05; done

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

# Some traffic first: pages, a miss and a hit, a 404.
for path in / /articles/going-no-contact /articles/going-no-contact /tags /no/such/page; do
  curl -s -o /dev/null "http://127.0.0.1:$PORT_A$path"
done

echo "== who may read /metrics (A: nginx not a trusted proxy)"
[ "$(code "http://127.0.0.1:$PORT_A/metrics")" = 200 ] || fail "direct from loopback should be 200"
echo "direct from loopback: 200"
[ "$(code "http://127.0.0.1:$NGINX_A/metrics")" = 404 ] || fail "through an untrusted proxy without a token should be 404"
echo "through nginx, no token: 404"
[ "$(code -H "Authorization: Bearer wrong-$TOKEN" "http://127.0.0.1:$NGINX_A/metrics")" = 404 ] || fail "a wrong token should be 404"
echo "through nginx, wrong token: 404"
[ "$(code -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$NGINX_A/metrics")" = 200 ] || fail "the right token should be 200"
echo "through nginx, right token: 200"

echo "== the text, read by the Prometheus Python client's parser"
curl -fsS -D "$WORK/headers" -o "$WORK/metrics.txt" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$NGINX_A/metrics"
grep -qi '^content-type: text/plain; version=0.0.4' "$WORK/headers" || fail "content type: $(grep -i content-type "$WORK/headers")"
$PY - "$WORK/metrics.txt" <<'EOF'
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
families = {f.name: f for f in text_string_to_metric_families(text)}
expected = {
    "kintsugi_http_requests": "counter",
    "kintsugi_http_request_duration_seconds": "histogram",
    "kintsugi_page_cache_hits": "counter",
    "kintsugi_page_cache_misses": "counter",
    "kintsugi_page_cache_bytes": "gauge",
    "kintsugi_page_cache_entries": "gauge",
    "kintsugi_db_pool_connections": "gauge",
    "kintsugi_db_pool_max_connections": "gauge",
    "kintsugi_db_pool_wait_seconds": "histogram",
    "kintsugi_db_pool_timeouts": "counter",
    "kintsugi_db_writer_batch_size": "histogram",
    "kintsugi_comments_created": "counter",
    "kintsugi_coaching_requests_created": "counter",
    "kintsugi_mail_sent": "counter",
    "kintsugi_mail_failed": "counter",
    "kintsugi_mail_unsent": "gauge",
    "kintsugi_build_info": "gauge",
    "kintsugi_process_start_time_seconds": "gauge",
}
missing = [f"{n} ({t})" for n, t in expected.items() if n not in families or families[n].type != t]
if missing:
    sys.exit("missing or of another type: " + ", ".join(missing))
routes = {s.labels.get("route") for s in families["kintsugi_http_requests"].samples}
for route in ["/", "/articles/{slug}", "/tags", "unmatched", "/metrics"]:
    if route not in routes:
        sys.exit(f"no requests counted for route {route}: {sorted(routes)}")
if any("going-no-contact" in (r or "") or "/no/such" in (r or "") for r in routes):
    sys.exit(f"a path in the route labels: {sorted(routes)}")
hits = families["kintsugi_page_cache_hits"].samples[0].value
if hits < 1:
    sys.exit("the second view of the article was not a page cache hit")
samples = sum(len(f.samples) for f in families.values())
print(f"{len(families)} families, {samples} samples, routes: {', '.join(sorted(r for r in routes if r))}")
EOF

echo "== request ids (B: nginx trusted)"
curl -s -D "$WORK/b-headers" -o /dev/null "http://127.0.0.1:$NGINX_B/tags"
RID=$(awk 'tolower($1)=="x-request-id:" {print $2}' "$WORK/b-headers" | tr -d '\r')
[ "${#RID}" = 32 ] || fail "nginx's 32-digit request id should come back, got '$RID'"
echo "nginx's id came back: $RID"
curl -s -D "$WORK/a-headers" -o /dev/null "http://127.0.0.1:$NGINX_A/tags"
AID=$(awk 'tolower($1)=="x-request-id:" {print $2}' "$WORK/a-headers" | tr -d '\r')
[ "${#AID}" = 16 ] || fail "an untrusted proxy's id should be replaced by our own, got '$AID'"
echo "an untrusted proxy's id replaced: $AID"

echo "== JSON logs"
sleep 0.2
$PY - "$WORK/A.log" "$WORK/B.log" "$RID" <<'EOF'
import json, sys
a, b, rid = sys.argv[1], sys.argv[2], sys.argv[3]
count = 0
requests = []
for path in (a, b):
    for line in open(path):
        value = json.loads(line)
        count += 1
        if value.get("message") == "request":
            requests.append(value)
line = next((r for r in requests if r.get("request_id") == rid), None)
if line is None:
    sys.exit(f"no request line with nginx's id {rid}")
for key in ("timestamp", "level", "method", "path", "route", "status", "ms"):
    if key not in line:
        sys.exit(f"{key} missing from {line}")
print(f"{count} lines, all JSON; {len(requests)} request lines; nginx's id in B's log: {line['path']} {line['status']}")
EOF
echo "metrics check passed"
