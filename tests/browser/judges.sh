#!/usr/bin/env bash
# The web's judges, with one command: the end-to-end browser check (e2e.mjs:
# playwright + axe-core + the Nu Html Checker), the XSS corpus through every text
# field (xss.mjs) and Lighthouse (lighthouse.mjs) against the real server on the
# sample content, in a fresh data directory.
#
#   tests/browser/judges.sh
#
# It installs what is missing (Debian's chromium, a Java runtime; `npm ci` in
# tests/browser), builds the server (`cargo build --bin kintsugi`), makes a
# temporary data directory with the coach account (`kintsugi admin create`),
# migrates it, seeds 40 approved comments on /articles/the-first-two-weeks
# (seed_comments.py), starts `kintsugi serve` on a free port, waits for /readyz,
# runs `npm test`, then `node xss.mjs` against a second instance (its own data
# directory and port, posting limits relaxed), then `node lighthouse.mjs` (all of
# them, whatever the first gives), and stops the servers and removes the
# directories on exit. Exit code 0 only when all passed. The servers' logs are
# kept as artifacts/server.log and artifacts/xss-server.log.
#
# Environment:
#   KINTSUGI_BIN   a kintsugi binary to use instead of building one (skips cargo)
#   STEP_STARTED   the epoch second the step clock counts from (.ci/run passes its own)
#   XSS_SHORT      1 (the default here): xss.mjs sends a sample of the corpus through
#                  the one-value fields (about 2 minutes); 0: every vector through every
#                  field (about 45 minutes; see tests/browser/README.md)
# KINTSUGI_DATABASE_URL, KINTSUGI_SMTP_URL, KINTSUGI_BASE_URL and KINTSUGI_CONFIG
# are ignored: the server uses SQLite in the temporary directory, writes its mail
# to the outbox there and names its own address.
set -euo pipefail
if [ -n "${KINTSUGI_BIN:-}" ]; then KINTSUGI_BIN=$(realpath "$KINTSUGI_BIN"); fi
cd "$(dirname "$0")/../.."
started=${STEP_STARTED:-$(date +%s)}
step() { printf '\n== %s (%ss)\n' "$*" "$(( $(date +%s) - started ))"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

unset KINTSUGI_DATABASE_URL KINTSUGI_SMTP_URL KINTSUGI_BASE_URL KINTSUGI_CONFIG

cleanup() {
  if [ -n "${XSS_PID:-}" ]; then
    kill "$XSS_PID" 2>/dev/null || true
    wait "$XSS_PID" 2>/dev/null || true
  fi
  if [ -n "${XSS_DIR:-}" ]; then
    if [ -f "$XSS_DIR/server.log" ]; then
      mkdir -p tests/browser/artifacts && cp "$XSS_DIR/server.log" tests/browser/artifacts/xss-server.log || true
    fi
    rm -rf "$XSS_DIR"
  fi
  if [ -n "${SERVER_PID:-}" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ -n "${WORK_DIR:-}" ]; then
    if [ -f "$WORK_DIR/server.log" ]; then
      mkdir -p tests/browser/artifacts && cp "$WORK_DIR/server.log" tests/browser/artifacts/server.log || true
    fi
    rm -rf "$WORK_DIR"
  fi
}
trap cleanup EXIT

step "browser checks: install what is missing"
if [ ! -x /usr/bin/chromium ]; then
  apt-get install -y chromium >/dev/null || (apt-get update >/dev/null && apt-get install -y chromium >/dev/null)
fi
command -v java >/dev/null || apt-get install -y default-jre-headless >/dev/null || \
  (apt-get update >/dev/null && apt-get install -y default-jre-headless >/dev/null)
/usr/bin/chromium --version 2>/dev/null || true
# No package may fetch a browser of its own: Debian's chromium is the one used.
(cd tests/browser && PUPPETEER_SKIP_DOWNLOAD=1 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)

step "browser checks: start the real server on the sample content"
if [ -n "${KINTSUGI_BIN:-}" ]; then
  BIN=$KINTSUGI_BIN
  echo "using KINTSUGI_BIN=$BIN (no build)"
else
  cargo build --bin kintsugi
  BIN=./target/debug/kintsugi
fi
WORK_DIR=$(mktemp -d /tmp/kintsugi-judges.XXXXXX)
PORT=$(free_port)
# The coach account the browser check signs in with, made by the CLI in the same
# database before the server starts (so no first-run setup link is issued).
ADMIN_EMAIL=coach@example.com
ADMIN_PASSWORD='tide lantern orchard 42'
KINTSUGI_DATA_DIR="$WORK_DIR" KINTSUGI_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  "$BIN" admin create --email "$ADMIN_EMAIL" --name "Maya Brennan"
KINTSUGI_DATA_DIR="$WORK_DIR" "$BIN" migrate
# A busy article for Lighthouse: 40 approved comments in threads (the coach's
# replies among them), written before the server starts and caches its pages.
COACH_NAME="Maya Brennan" COACH_EMAIL="$ADMIN_EMAIL" \
  python3 tests/browser/seed_comments.py "$WORK_DIR/kintsugi.sqlite3" the-first-two-weeks 40
# The reader's request emails go out at once here (by default they wait a
# minute so that changes in a row merge; the integration tests check that).
KINTSUGI_BIND="127.0.0.1:$PORT" KINTSUGI_DATA_DIR="$WORK_DIR" KINTSUGI_WATCH_CONTENT=false \
  KINTSUGI_MAIL_UPDATE_DELAY_SECONDS=0 "$BIN" serve >"$WORK_DIR/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
  curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "the server exited:" >&2; cat "$WORK_DIR/server.log" >&2; exit 1; }
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/readyz" || { echo; tail -n 40 "$WORK_DIR/server.log" >&2; exit 1; }
echo

step "browser checks: playwright + axe-core + Nu Html Checker (npm test)"
# The server writes its emails as .eml files to the outbox (no SMTP server is set):
# the coaching journeys read the reader's private status link from there.
e2e=0
(cd tests/browser && BASE_URL="http://127.0.0.1:$PORT" ADMIN_EMAIL="$ADMIN_EMAIL" ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  OUTBOX_DIR="$WORK_DIR/outbox" npm test) || e2e=$?

step "browser checks: the XSS corpus through every text field (node xss.mjs, XSS_SHORT=${XSS_SHORT:-1})"
# A second instance on a data directory of its own (it fills it with hundreds of
# comments and requests), with the posting limits relaxed: forms may be sent at once,
# each post names its own address in X-Forwarded-For (believed from 127.0.0.1), and
# the reader's and the coach's emails are written at once.
XSS_DIR=$(mktemp -d /tmp/kintsugi-xss.XXXXXX)
XSS_PORT=$(free_port)
KINTSUGI_DATA_DIR="$XSS_DIR" KINTSUGI_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  "$BIN" admin create --email "$ADMIN_EMAIL" --name "Maya Brennan" >/dev/null
KINTSUGI_DATA_DIR="$XSS_DIR" "$BIN" migrate >/dev/null
KINTSUGI_BIND="127.0.0.1:$XSS_PORT" KINTSUGI_DATA_DIR="$XSS_DIR" KINTSUGI_WATCH_CONTENT=false \
  KINTSUGI_MAIL_UPDATE_DELAY_SECONDS=0 KINTSUGI_COMMENT_MIN_SECONDS=0 KINTSUGI_TRUSTED_PROXIES=127.0.0.1 \
  KINTSUGI_COACH_EMAIL="$ADMIN_EMAIL" "$BIN" serve >"$XSS_DIR/server.log" 2>&1 &
XSS_PID=$!
for _ in $(seq 1 300); do
  curl -fsS "http://127.0.0.1:$XSS_PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
xss=0
(cd tests/browser && XSS_SHORT="${XSS_SHORT:-1}" BASE_URL="http://127.0.0.1:$XSS_PORT" ADMIN_EMAIL="$ADMIN_EMAIL" \
  ADMIN_PASSWORD="$ADMIN_PASSWORD" OUTBOX_DIR="$XSS_DIR/outbox" node xss.mjs) || xss=$?
kill "$XSS_PID" 2>/dev/null || true
wait "$XSS_PID" 2>/dev/null || true
XSS_PID=

step "browser checks: Lighthouse (node lighthouse.mjs)"
lighthouse=0
(cd tests/browser && BASE_URL="http://127.0.0.1:$PORT" OUTBOX_DIR="$WORK_DIR/outbox" node lighthouse.mjs) || lighthouse=$?

step "browser checks: the site in German (every page type: axe, the Nu Html Checker, <html lang>)"
# The second built-in language: the same server binary and data, restarted
# with KINTSUGI_SITE_LANGUAGE=de; the journeys are not repeated.
kill "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
KINTSUGI_BIND="127.0.0.1:$PORT" KINTSUGI_DATA_DIR="$WORK_DIR" KINTSUGI_WATCH_CONTENT=false \
  KINTSUGI_SITE_LANGUAGE=de "$BIN" serve >>"$WORK_DIR/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
  curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
german=0
(cd tests/browser && BASE_URL="http://127.0.0.1:$PORT" E2E_PAGES_ONLY=1 E2E_EXPECT_LANG=de npm test) || german=$?

step "browser checks: done"
if [ "$e2e" != 0 ] || [ "$xss" != 0 ] || [ "$lighthouse" != 0 ] || [ "$german" != 0 ]; then
  echo "failed: e2e.mjs exit $e2e, xss.mjs exit $xss, lighthouse.mjs exit $lighthouse, e2e.mjs in German exit $german (the servers' logs: tests/browser/artifacts/server.log, tests/browser/artifacts/xss-server.log; XSS findings: tests/browser/artifacts/xss-findings.json)" >&2
  exit 1
fi
echo "e2e.mjs (English and German), xss.mjs and lighthouse.mjs passed"
