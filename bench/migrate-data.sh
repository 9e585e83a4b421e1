#!/usr/bin/env bash
# `kintsugi migrate-data` on a large site: a SQLite database with ROWS
# comments (a third of them replies, some held, spam or private), coaching
# requests with messages, mail, subscriptions and an import map is copied
# to PostgreSQL and back to a new SQLite file with the debug binary. Prints
# each copy's time and peak memory (VmHWM, from /usr/bin/time), and fails
# when a copy fails or does not match its source, when the two SQLite files
# differ in any table's row count, or when a copy's peak memory passes
# MAX_RSS_MB: the copy holds one batch of rows at a time, so its memory must
# not grow with the data.
#
#   bench/migrate-data.sh                  # ROWS=50000, a private PostgreSQL cluster
#   MIGRATE_DATA_PG_URL=postgres://postgres@127.0.0.1:5432/postgres bench/migrate-data.sh
#                                          # a server where the user may create databases
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-50000}
MAX_RSS_MB=${MAX_RSS_MB:-60}

need() { command -v "$1" >/dev/null || apt-get install -y "$2" >/dev/null || (apt-get update >/dev/null && apt-get install -y "$2" >/dev/null); }
need python3 python3
need psql postgresql-client
[ -x /usr/bin/time ] || need /usr/bin/time time

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

WORK=$(mktemp -d /tmp/kintsugi-migrate.XXXXXX)
PGDIR=""
cleanup() {
  if [ -n "$PGDIR" ]; then
    as_pg pg_ctl -D "$PGDIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$PGDIR"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

cargo build --bin kintsugi >/dev/null 2>&1 || cargo build --bin kintsugi
BIN=$PWD/target/debug/kintsugi

SERVER=${MIGRATE_DATA_PG_URL:-}
if [ -z "$SERVER" ]; then
  if ! command -v initdb >/dev/null 2>&1; then
    pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$pgbin" ]; then
      need pg_ctlcluster postgresql
      pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
    export PATH="$pgbin:$PATH"
  fi
  PGDIR=$(mktemp -d /tmp/kintsugi-migrate-pg.XXXXXX)
  if [ "$(id -u)" = 0 ]; then chown postgres "$PGDIR"; fi
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  as_pg initdb -A trust -U postgres -D "$PGDIR/data" >/dev/null
  as_pg pg_ctl -D "$PGDIR/data" -l "$PGDIR/server.log" -w \
    -o "-p $port -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
  SERVER="postgres://postgres@127.0.0.1:$port/postgres"
fi
DB="kintsugi_migrate_$$"
psql -q "$SERVER" -c "CREATE DATABASE $DB" >/dev/null
PG_URL="${SERVER%/*}/$DB"
trap 'psql -q "$SERVER" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true; cleanup' EXIT

# The source: migrated by the binary, filled in one transaction (the
# comment_counts triggers run as they do for the site).
mkdir -p "$WORK/data"
KINTSUGI_DATA_DIR=$WORK/data KINTSUGI_DATABASE_URL="sqlite://$WORK/first.sqlite3" \
  "$BIN" migrate >/dev/null 2>&1
python3 - "$WORK/first.sqlite3" "$ROWS" <<'EOF'
import sqlite3, sys
path, rows = sys.argv[1], int(sys.argv[2])
db = sqlite3.connect(path)
db.execute("PRAGMA foreign_keys = ON")
now = "2026-11-30 12:00:00.123456789"
with db:
    db.execute("INSERT INTO admins (id, email, display_name, password_hash, created_at) VALUES (1, 'coach@example.com', 'Maya', 'x', ?)", (now,))
    def comments():
        for i in range(1, rows + 1):
            parent = i - 1 if i % 3 == 0 else None
            status = ("approved", "approved", "pending", "spam", "trash")[i % 5]
            yield (i, f"article-{i % 200}", parent, parent, parent, 1 if parent else 0,
                   f"Reader {i}", f"reader{i}@example.com", f"Comment {i} with *text* — ünïcödé",
                   f"<p>Comment {i}</p>", status, i % 17 == 0, i % 101 == 0, i % 50 == 0,
                   i % 7 == 0, f"ip{i}", now)
    db.executemany("""INSERT INTO comments (id, article_slug, parent_id, root_id, reply_to_id, depth,
        author_name, author_email, body_markdown, body_html, status, is_private, is_urgent, is_coach,
        notify_replies, ip_hash, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""", comments())
    db.executemany("INSERT INTO admin_audit (admin_id, admin_name, action, comment_id, detail, created_at) VALUES (1, 'Maya', 'approve', ?, '', ?)",
                   ((i, now) for i in range(1, rows // 10 + 1)))
    requests = max(rows // 50, 1)
    db.executemany("""INSERT INTO coaching_requests (id, token_hash, token_nonce, form_token_hash, name, email,
        option_slug, option_title, ended_by, together_for, ended_ago, contact_now, hope, situation, talk_via,
        consent_at, privacy_version, status, created_at, updated_at) VALUES
        (?, ?, 'n', ?, 'Robin', ?, 'written-plan', 'Plan', 'they-did', '1-3', 'month', 'none', 'not-sure',
         'A long situation text.', 'email', ?, 'v1', 'received', ?, ?)""",
        ((i, f"t{i}", f"f{i}", f"r{i}@example.com", now, now, now) for i in range(1, requests + 1)))
    db.executemany("INSERT INTO request_messages (request_id, kind, author_name, body_markdown, body_html, created_at) VALUES (?, ?, 'Robin', 'Hello', '<p>Hello</p>', ?)",
                   ((i // 3 + 1, ("reader", "coach", "note")[i % 3], now) for i in range(requests * 3)))
    db.executemany("INSERT INTO mail_outbox (recipient, subject, body, kind, created_at, attempts, next_attempt_at, sent_at) VALUES (?, 'Subject', 'Body text', 'reply', ?, ?, ?, ?)",
                   ((f"reader{i}@example.com", now, i % 3, now, now if i % 2 else None) for i in range(rows // 5)))
    db.executemany("INSERT INTO mail_subscriptions (email, confirmed_at, created_at) VALUES (?, ?, ?)",
                   ((f"sub{i}@example.com", now if i % 2 else None, now) for i in range(rows // 10)))
    db.executemany("INSERT INTO import_map (source, kind, old_id, new_id, new_key, created_at) VALUES ('https://old.example', 'comment', ?, ?, '', ?)",
                   ((i, i, now) for i in range(1, rows // 2 + 1)))
db.close()
EOF
ls -l "$WORK/first.sqlite3" | awk '{printf "source: %.1f MB, %s comments\n", $5 / 1048576, '"$ROWS"'}'

# Each copy: its table, its time and peak memory.
copy() {
  local from=$1 to=$2 name=$3
  if ! /usr/bin/time -f "%e %M" -o "$WORK/time" "$BIN" migrate-data --from "$from" --to "$to" >"$WORK/out" 2>"$WORK/err"; then
    cat "$WORK/out" "$WORK/err"
    echo "FAIL: $name"
    exit 1
  fi
  cat "$WORK/out"
  read -r secs kb <"$WORK/time"
  echo "$name: ${secs} s, peak memory $((kb / 1024)) MB"
  if [ $((kb / 1024)) -gt "$MAX_RSS_MB" ]; then
    echo "FAIL: $name used $((kb / 1024)) MB, more than MAX_RSS_MB=$MAX_RSS_MB"
    exit 1
  fi
}
copy "sqlite://$WORK/first.sqlite3" "$PG_URL" "SQLite -> PostgreSQL"
copy "$PG_URL" "sqlite://$WORK/last.sqlite3" "PostgreSQL -> SQLite"

# The two SQLite files hold the same rows per table (the copies checked
# every row's checksum; this checks the round trip end to end).
python3 - "$WORK/first.sqlite3" "$WORK/last.sqlite3" <<'EOF'
import sqlite3, sys
a, b = (sqlite3.connect(p) for p in sys.argv[1:3])
# The comment search's FTS5 table and its shadow tables (comment_search_*)
# are the index's own pages, shaped by how the rows were written: compared
# by what they find below, not by their row counts.
tables = [r[0] for r in a.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'comment_search%' AND name NOT IN ('__diesel_schema_migrations', 'rate_limit_events')")]
bad = []
import re
words = set()
for (body,) in a.execute("SELECT body_markdown FROM comments WHERE status = 'approved' AND NOT is_private ORDER BY id DESC LIMIT 40"):
    words.update(w.lower() for w in re.findall(r"[^\W_]{4,}", body))
words.add("zzznotaword")
found = 0
for w in sorted(words)[:60]:
    q = f'"{w}"'
    fa = [r[0] for r in a.execute("SELECT rowid FROM comment_search WHERE comment_search MATCH ? ORDER BY rowid", (q,))]
    fb = [r[0] for r in b.execute("SELECT rowid FROM comment_search WHERE comment_search MATCH ? ORDER BY rowid", (q,))]
    found += len(fa)
    if fa != fb:
        bad.append(f"the comment search finds {len(fa)} vs {len(fb)} comments for {w!r}")
for t in tables:
    na = a.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
    nb = b.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
    if na != nb:
        bad.append(f"{t}: {na} vs {nb}")
cols = "article_slug, public_comments, public_threads"
ca = sorted(a.execute(f"SELECT {cols} FROM comment_counts WHERE public_comments <> 0 OR public_threads <> 0"))
cb = sorted(b.execute(f"SELECT {cols} FROM comment_counts WHERE public_comments <> 0 OR public_threads <> 0"))
if ca != cb:
    bad.append("comment_counts differ")
if found == 0:
    bad.append("the comment search found nothing on either side (nothing was compared)")
if bad:
    print("FAIL: the round trip changed", "; ".join(bad))
    sys.exit(1)
print(f"round trip: {len(tables)} tables, same row counts and comment counts; the comment search finds the same {found} comments for {min(len(words), 60)} words")
EOF
