#!/usr/bin/env bash
# Load benchmark: the release binary on the sample content, measured with wrk
# over loopback. Usage: bench/run.sh [seconds-per-run] [connections]
# Prints requests/second and latency for each page, and each page's figure
# as a ratio of /healthz (the cheapest possible answer from the same server).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNECTIONS=${2:-32}
THREADS=2

command -v wrk >/dev/null || apt-get install -y wrk >/dev/null || (apt-get update >/dev/null && apt-get install -y wrk >/dev/null)
cargo build --release --bin kintsugi >/dev/null

WORK=$(mktemp -d /tmp/kintsugi-bench.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
KINTSUGI_BIND="127.0.0.1:$PORT" KINTSUGI_DATA_DIR="$WORK" KINTSUGI_WATCH_CONTENT=false KINTSUGI_LOG=warn \
  ./target/release/kintsugi serve >"$WORK/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

BASE="http://127.0.0.1:$PORT"
run() { # name path [extra wrk args]
  local name=$1 path=$2; shift 2
  curl -fsS -o /dev/null "$BASE$path" "$@" 2>/dev/null || true
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "$BASE$path" >"$WORK/$name.txt"
  local rps p50 p99 bytes
  rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/$name.txt")
  p50=$(awk '$1=="50%" {print $2}' "$WORK/$name.txt")
  p99=$(awk '$1=="99%" {print $2}' "$WORK/$name.txt")
  bytes=$(curl -fsS "$BASE$path" "$@" | wc -c)
  printf '%-28s %10s req/s   p50 %8s   p99 %8s   %7s bytes\n' "$name" "$rps" "$p50" "$p99" "$bytes"
  echo "$rps" >"$WORK/$name.rps"
}

echo "Kintsugi $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, ${DURATION}s per run, $CONNECTIONS connections"
run healthz /healthz
run article /articles/going-no-contact
run article-gzip /articles/going-no-contact -H "Accept-Encoding: gzip"
run home /
run search "/search?q=contact"
run feed /feed.xml

echo
base=$(cat "$WORK/healthz.rps")
for name in article article-gzip home search feed; do
  awk -v n="$name" -v r="$(cat "$WORK/$name.rps")" -v b="$base" 'BEGIN { printf "%-28s %.2fx of /healthz\n", n, r / b }'
done
