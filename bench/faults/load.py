#!/usr/bin/env python3
"""Helpers for bench/faults.sh (Python 3 standard library only).

    load.py run BASE LOG TAG [--writers N] [--readers N] [--max-seconds S]
        Readers, writers and a /readyz probe against BASE until SIGTERM.
        Writers post comments through the real form (the article's form
        token, a unique text and X-Forwarded-For address per post, so the
        duplicate check and the per-address rate limit never refuse one).
        Every answer is one JSON line in LOG: kind (post, get, ready), t0
        and t1 (epoch seconds), status (0: connection refused or cut,
        -1: no answer within the client timeout), Retry-After, and for
        posts the marker written into the comment's text.
    load.py wait-recovery LOG SINCE TIMEOUT
        Waits until LOG holds a post answered 303 at or after SINCE.
    load.py hold-lock DB SECONDS MARKS
        Holds BEGIN EXCLUSIVE on a SQLite database for SECONDS, writing
        `start` and `end` lines (epoch seconds) to MARKS.
    load.py integrity DB
        PRAGMA integrity_check and foreign_key_check, read-only (a WAL left
        by a killed server stays for the server's own recovery).
    load.py report ...   one row of the table (see report --help)
    load.py skip ...     a SKIP row
    load.py table ROWS   the table: header and rows
    load.py pg-url URL DBNAME [USER]
        URL with another database name (and user).

Loopback only: BASE must be http://127.0.0.1:PORT.
"""
import argparse
import collections
import html
import http.client
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse

ARTICLE = "/articles/going-no-contact"
# Longer than the server's own bounds (3 s pool timeout, 5 s SQLite busy
# timeout, 10 s shutdown), so a hang shows as a timeout, not as a wait.
REQUEST_TIMEOUT = 15.0
TOKEN = re.compile(r'name="token" value="([^"]*)"')
MARKER = re.compile(r"Fault check (\S+ w\d+-\d+):")
CONN, TIMEOUT = 0, -1


def status_name(status):
    return {CONN: "conn", TIMEOUT: "timeout"}.get(status, str(status))


class Client:
    """One connection per request, as a new visitor would open, so a
    killed server never leaves a stale keep-alive socket behind."""

    def __init__(self, base, log, stop):
        url = urllib.parse.urlsplit(base)
        if url.hostname != "127.0.0.1":
            sys.exit(f"load.py: loopback only, not {base}")
        self.host, self.port = url.hostname, url.port
        self.log = log
        self.lock = threading.Lock()
        self.stop = stop

    def request(self, kind, method, path, body=None, headers=None, marker=None):
        t0 = time.time()
        status, retry_after, text = CONN, None, ""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            res = conn.getresponse()
            text = res.read().decode("utf-8", "replace")
            status, retry_after = res.status, res.getheader("Retry-After")
        except TimeoutError:
            status = TIMEOUT
        except (ConnectionError, http.client.HTTPException, OSError):
            status = CONN
        finally:
            conn.close()
        entry = {"kind": kind, "t0": t0, "t1": time.time(), "status": status, "retry_after": retry_after}
        if marker:
            entry["marker"] = marker
        with self.lock:
            self.log.write(json.dumps(entry) + "\n")
            self.log.flush()
        return status, text

    def pause(self, seconds):
        self.stop.wait(seconds)


def writer(client, tag, n):
    token, seq = None, 0
    while not client.stop.is_set():
        if token is None:
            status, text = client.request("get", "GET", ARTICLE)
            found = TOKEN.search(text) if status == 200 else None
            if not found:
                client.pause(0.1)
                continue
            token = html.unescape(found.group(1))
        seq += 1
        marker = f"{tag} w{n}-{seq}"
        # n and seq make the address unique across posts (10.n.x.y).
        address = f"10.{n % 250 + 1}.{seq // 250 % 250}.{seq % 250 + 1}"
        form = urllib.parse.urlencode({
            "name": f"Fault Writer {n}",
            "email": f"writer{n}.{seq}@faults.example",
            "body": f"Fault check {marker}: does this comment survive the fault?",
            "token": token,
        })
        status, _ = client.request(
            "post", "POST", f"{ARTICLE}/comments", body=form, marker=marker,
            headers={"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": address},
        )
        if status == 422:
            token = None  # a token the server no longer accepts: fetch a new one
        if status != 303:
            client.pause(0.05)  # no tight loop against a server that is down


def reader(client, n):
    paths = [ARTICLE, "/", "/articles/going-no-contact/comments.xml"]
    i = n
    while not client.stop.is_set():
        status, _ = client.request("get", "GET", paths[i % len(paths)])
        i += 1
        if status not in (200, 304):
            client.pause(0.05)


def prober(client):
    while not client.stop.is_set():
        client.request("ready", "GET", "/readyz")
        client.pause(0.25)


def cmd_run(args):
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with open(args.log, "a", encoding="utf-8") as log:
        client = Client(args.base, log, stop)
        threads = [threading.Thread(target=writer, args=(client, args.tag, n)) for n in range(args.writers)]
        threads += [threading.Thread(target=reader, args=(client, n)) for n in range(args.readers)]
        threads.append(threading.Thread(target=prober, args=(client,)))
        for t in threads:
            t.start()
        # A safety net: the load never outlives a forgotten scenario.
        stop.wait(args.max_seconds)
        stop.set()
        for t in threads:
            t.join()


def read_log(path):
    entries = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.endswith("\n"):
                entries.append(json.loads(line))
    return entries


def cmd_wait_recovery(args):
    deadline = time.time() + args.timeout
    while time.time() < deadline:
        for e in read_log(args.log):
            if e["kind"] == "post" and e["status"] == 303 and e["t1"] >= args.since:
                print(f"recovered {e['t1'] - args.since:.2f} s after the fault ended")
                return 0
        time.sleep(0.2)
    print(f"no post succeeded within {args.timeout:.0f} s after the fault ended")
    return 1


def write_mark(path, name):
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"{name} {time.time():.6f}\n")


def cmd_hold_lock(args):
    db = sqlite3.connect(args.db, timeout=10, isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    write_mark(args.marks, "start")
    time.sleep(args.seconds)
    db.execute("ROLLBACK")
    write_mark(args.marks, "end")
    db.close()


def integrity_problems(path):
    db = sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=ro", uri=True, timeout=10)
    try:
        problems = [row[0] for row in db.execute("PRAGMA integrity_check") if row[0] != "ok"]
        problems += [f"foreign key: {row}" for row in db.execute("PRAGMA foreign_key_check")]
    finally:
        db.close()
    return problems


def cmd_integrity(args):
    problems = integrity_problems(args.db)
    print("ok" if not problems else "integrity: " + "; ".join(problems[:5]))
    return 1 if problems else 0


def stored_markers(db, tag):
    """The markers of the comments stored in `db` (a SQLite path or a
    postgres:// URL)."""
    pattern = f"Fault check {tag} %"
    if db.startswith(("postgres://", "postgresql://")):
        out = subprocess.run(
            ["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db, "-c",
             f"SELECT body_markdown FROM comments WHERE body_markdown LIKE '{pattern}'"],
            check=True, capture_output=True, text=True, timeout=30,
        ).stdout.splitlines()
    else:
        conn = sqlite3.connect(f"file:{urllib.parse.quote(db)}?mode=ro", uri=True, timeout=10)
        try:
            out = [r[0] for r in conn.execute("SELECT body_markdown FROM comments WHERE body_markdown LIKE ?", (pattern,))]
        finally:
            conn.close()
    return {m.group(1) for m in map(MARKER.match, out) if m}


def read_marks(path):
    """(start, end) windows in order (end None while open) and the SIGTERM
    times."""
    windows, terms = [], []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                name, at = line.split()
                if name == "start":
                    windows.append([float(at), None])
                elif name == "end":
                    windows[-1][1] = float(at)
                elif name == "term":
                    terms.append(float(at))
    return windows, terms


def codes(entries):
    counted = collections.Counter(e["status"] for e in entries)
    return " ".join(f"{status_name(s)}×{n}" for s, n in counted.most_common()) or "-"


COLUMNS = [("scenario", 34), ("backend", 8), ("acked", 6), ("stored", 6), ("lost", 4),
           ("posts during fault", 30), ("/readyz during fault", 22), ("500s", 4),
           ("max s", 6), ("recover s", 9), ("result", 6)]


def row(values):
    return "  ".join(str(v).ljust(w) for v, (_, w) in zip(values, COLUMNS)).rstrip()


def cmd_report(args):
    entries = read_log(args.log)
    windows, terms = read_marks(args.marks)
    last = max((e["t1"] for e in entries), default=time.time())

    def during(e):
        """Sent or answered while a fault lasted."""
        return any(e["t0"] <= (end or last) and e["t1"] >= start for start, end in windows)

    posts = [e for e in entries if e["kind"] == "post"]
    fault_posts = [e for e in posts if during(e)]
    fault_ready = [e for e in entries if e["kind"] == "ready" and during(e)]
    why = []

    acked = {e["marker"] for e in posts if e["status"] == 303}
    stored, lost = "-", set()
    if args.deleted:
        # The file was deleted on purpose, so what it held is gone; lost are
        # the posts sent after that and still acknowledged (into that file).
        lost = {e["marker"] for e in posts if e["status"] == 303
                and any(start <= e["t0"] <= (end or last) for start, end in windows)}
        if lost:
            why.append(f"{len(lost)} posts acknowledged after the database was deleted")
    else:
        found = stored_markers(args.db, args.tag)
        stored = len(found)
        lost = acked - found
        if lost:
            why.append(f"{len(lost)} acknowledged comments not stored, e.g. {sorted(lost)[:3]}")
        if not args.db.startswith("postgres") and os.path.exists(args.db):
            problems = integrity_problems(args.db)
            if problems:
                why.append("integrity_check: " + "; ".join(problems[:3]))

    bad = [e for e in entries if e["status"] >= 500 and e["status"] != 503]
    if bad:
        why.append(f"server errors: {codes(bad)}")
    hung = [e for e in entries if e["status"] == TIMEOUT]
    if hung:
        why.append(f"{len(hung)} requests unanswered after {REQUEST_TIMEOUT:.0f} s")
    no_retry = [e for e in entries if e["kind"] != "ready" and e["status"] == 503 and not e["retry_after"]]
    if no_retry:
        why.append(f"{len(no_retry)} 503 answers without Retry-After")
    odd = [e for e in posts if e["status"] not in (303, 503, CONN, TIMEOUT) and e["status"] < 500]
    if odd:
        why.append(f"posts answered neither 303 nor 503: {codes(odd)}")
    if args.expect_refusal and not [e for e in fault_posts if e["status"] != 303]:
        why.append("the fault was not seen: every post during it was acknowledged")
    if args.expect_unready and not [e for e in fault_ready if e["status"] != 200]:
        why.append("/readyz said 200 throughout the fault")

    answered = [e for e in fault_posts if e["status"] != CONN]
    max_latency = max((e["t1"] - e["t0"] for e in answered), default=None)
    if max_latency is not None and max_latency > args.max_latency:
        why.append(f"a post during the fault took {max_latency:.1f} s (bound {args.max_latency} s)")

    recoveries = []
    for start, end in windows:
        if end is None:
            continue
        first = min((e["t1"] for e in posts if e["status"] == 303 and e["t1"] >= end), default=None)
        if first is None or first - end > args.recover_within:
            why.append(f"no post succeeded within {args.recover_within:.0f} s after the fault at {start:.1f} ended")
        else:
            recoveries.append(first - end)

    for term in terms:
        # Sent before the SIGTERM, but cut instead of answered.
        dropped = [e for e in entries if e["t0"] < term - 0.02 and e["t1"] > term and e["status"] in (CONN, TIMEOUT)]
        if dropped:
            why.append(f"{len(dropped)} requests in flight at SIGTERM were cut, not answered")

    if args.checks and os.path.exists(args.checks):
        with open(args.checks, encoding="utf-8") as f:
            why += [line.strip()[5:] for line in f if line.startswith("FAIL ")]

    result = "FAIL" if why else "PASS"
    values = [args.scenario, args.backend, len(acked), stored, len(lost), codes(fault_posts),
              codes(fault_ready), len([e for e in bad if e["status"] == 500]),
              "-" if max_latency is None else f"{max_latency:.2f}",
              f"{max(recoveries):.2f}" if recoveries else "-", result]
    line = row(values)
    with open(args.rows, "a", encoding="utf-8") as f:
        f.write(line + "\n")
        for reason in why:
            f.write(f"    {args.scenario}: {reason}\n")
    print(line)
    for reason in why:
        print(f"    {reason}")
    return 1 if why else 0


def cmd_skip(args):
    line = row([args.scenario, args.backend, "-", "-", "-", "-", "-", "-", "-", "-", "SKIP"])
    with open(args.rows, "a", encoding="utf-8") as f:
        f.write(line + "\n" + f"    {args.scenario}: {args.why}\n")
    print(line)
    print(f"    {args.why}")


def cmd_table(args):
    print(row([name for name, _ in COLUMNS]))
    print(row(["-" * w for _, w in COLUMNS]))
    with open(args.rows, encoding="utf-8") as f:
        sys.stdout.write(f.read())


def cmd_pg_url(args):
    url = urllib.parse.urlsplit(args.url)
    netloc = url.netloc
    if args.user:
        netloc = f"{args.user}@{url.hostname}" + (f":{url.port}" if url.port else "")
    print(urllib.parse.urlunsplit((url.scheme, netloc, "/" + args.dbname, url.query, "")))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run")
    p.add_argument("base")
    p.add_argument("log")
    p.add_argument("tag")
    p.add_argument("--writers", type=int, default=4)
    p.add_argument("--readers", type=int, default=2)
    p.add_argument("--max-seconds", type=float, default=600)
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("wait-recovery")
    p.add_argument("log")
    p.add_argument("since", type=float)
    p.add_argument("timeout", type=float)
    p.set_defaults(func=cmd_wait_recovery)
    p = sub.add_parser("hold-lock")
    p.add_argument("db")
    p.add_argument("seconds", type=float)
    p.add_argument("marks")
    p.set_defaults(func=cmd_hold_lock)
    p = sub.add_parser("integrity")
    p.add_argument("db")
    p.set_defaults(func=cmd_integrity)
    p = sub.add_parser("report", help="one row: fails on a 5xx other than 503, a lost acknowledged "
                       "comment, a hang, no recovery, a failed check")
    p.add_argument("--log", required=True)
    p.add_argument("--marks", required=True, help="lines `start T`, `end T`, `term T` (epoch seconds)")
    p.add_argument("--scenario", required=True)
    p.add_argument("--backend", required=True)
    p.add_argument("--db", required=True, help="SQLite path or postgres:// URL")
    p.add_argument("--tag", required=True)
    p.add_argument("--rows", required=True, help="file the row is appended to")
    p.add_argument("--max-latency", type=float, default=10.0, help="bound on a post's answer during the fault")
    p.add_argument("--recover-within", type=float, default=20.0)
    p.add_argument("--expect-refusal", action="store_true", help="some post during the fault must be refused")
    p.add_argument("--expect-unready", action="store_true", help="/readyz must fail during the fault")
    p.add_argument("--deleted", action="store_true", help="the database was deleted: count posts acknowledged after")
    p.add_argument("--checks", help="file of `FAIL reason` lines from the script's own checks")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("skip")
    p.add_argument("--scenario", required=True)
    p.add_argument("--backend", required=True)
    p.add_argument("--why", required=True)
    p.add_argument("--rows", required=True)
    p.set_defaults(func=cmd_skip)
    p = sub.add_parser("table")
    p.add_argument("rows")
    p.set_defaults(func=cmd_table)
    p = sub.add_parser("pg-url")
    p.add_argument("url")
    p.add_argument("dbname")
    p.add_argument("user", nargs="?")
    p.set_defaults(func=cmd_pg_url)
    args = parser.parse_args()
    sys.exit(args.func(args) or 0)


if __name__ == "__main__":
    main()
