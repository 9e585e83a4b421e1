#!/usr/bin/env python3
"""Three Kintsugi instances on one PostgreSQL behind one nginx (round robin).

    tests/multi/multi.py BINARY     (tests/multi/run.sh builds it and calls this)

Python 3 standard library only. Starts a private PostgreSQL cluster (initdb,
pg_ctl in a temporary folder, its own port), three instances A, B, C (own
ports and data folders, the same KINTSUGI_SECRET_KEY and database) and nginx
in front of them, then runs the reader's and the coach's journeys across
them and prints every check as `ok` or `FAIL` with its figures. Exits 1 on
any failure; every process it started is stopped on the way out.
"""
import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ARTICLE = "/articles/going-no-contact"
TOKEN = re.compile(r'name="token" value="([^"]*)"')
CSRF = re.compile(r'name="csrf" value="([^"]*)"')
COACH_EMAIL = "coach@example.com"
COACH_PASSWORD = "a long and private passphrase 42"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

failures = []
procs = []  # (name, Popen) of everything started here


def check(ok, what):
    print(f"{'ok  ' if ok else 'FAIL'}  {what}", flush=True)
    if not ok:
        failures.append(what)
    return ok


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def as_pg(args):
    """PostgreSQL refuses to run as root: use the postgres account then."""
    return (["runuser", "-u", "postgres", "--"] + args) if os.geteuid() == 0 else args


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


class Browser:
    """Keeps cookies (one jar for every instance, as one site), follows no
    redirects, one connection per request."""

    def __init__(self, ip=None):
        self.cookies = {}
        self.ip = ip

    def request(self, port, method, path, form=None, timeout=15):
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.ip:
            headers["X-Forwarded-For"] = self.ip
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            res = conn.getresponse()
            text = res.read().decode("utf-8", "replace")
            hdrs = res.getheaders()
        finally:
            conn.close()
        for k, v in hdrs:
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                value = rest.split(";", 1)[0]
                if "max-age=0" in v.lower() or value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
        return Response(res.status, hdrs, text)

    def get(self, port, path):
        return self.request(port, "GET", path)

    def post(self, port, path, form):
        return self.request(port, "POST", path, form)


def token_of(html):
    m = TOKEN.search(html)
    return m.group(1) if m else ""


class Cluster:
    def __init__(self, work):
        self.dir = os.path.join(work, "pg")
        os.makedirs(self.dir)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def start(self):
        data = os.path.join(self.dir, "data")
        subprocess.run(as_pg(["initdb", "-A", "trust", "-U", "postgres", "-D", data]),
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run(as_pg(["pg_ctl", "-D", data, "-l", os.path.join(self.dir, "log"), "-w", "-o",
                              f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off",
                              "start"]), check=True, stdout=subprocess.DEVNULL)

    def stop(self):
        subprocess.run(as_pg(["pg_ctl", "-D", os.path.join(self.dir, "data"), "-m", "immediate", "-w", "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def sql(self, query):
        out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", self.url, "-c", query],
                             check=True, capture_output=True, text=True)
        return out.stdout.strip()


class Instance:
    def __init__(self, name, binary, work, env):
        self.name, self.binary = name, binary
        self.port = free_port()
        self.data = os.path.join(work, f"data-{name}")
        os.makedirs(self.data)
        self.log = os.path.join(work, f"{name}.log")
        self.env = dict(env, KINTSUGI_BIND=f"127.0.0.1:{self.port}", KINTSUGI_DATA_DIR=self.data)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([self.binary, "serve"], env=self.env, cwd=ROOT,
                                     stdout=open(self.log, "a"), stderr=subprocess.STDOUT)
        procs.append((self.name, self.proc))

    def wait_ready(self, seconds=30):
        end = time.time() + seconds
        while time.time() < end:
            try:
                if Browser().get(self.port, "/readyz").status == 200:
                    return True
            except OSError:
                pass
            if self.proc.poll() is not None:
                return False
            time.sleep(0.1)
        return False

    def signal(self, sig):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)

    def log_text(self):
        with open(self.log, encoding="utf-8", errors="replace") as f:
            return f.read()

    def outbox(self):
        d = os.path.join(self.data, "outbox")
        return [os.path.join(d, f) for f in os.listdir(d) if f.endswith(".eml")] if os.path.isdir(d) else []


def nginx_conf(work, port, upstreams):
    servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=0;" for p in upstreams)
    return f"""
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {work}/nginx-tmp/body;
  proxy_temp_path {work}/nginx-tmp/proxy;
  fastcgi_temp_path {work}/nginx-tmp/fastcgi;
  uwsgi_temp_path {work}/nginx-tmp/uwsgi;
  scgi_temp_path {work}/nginx-tmp/scgi;
  upstream kintsugi {{
{servers}
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://kintsugi;
      proxy_next_upstream error timeout http_502 http_503;
      proxy_next_upstream_tries 3;
      proxy_connect_timeout 1s;
      proxy_read_timeout 20s;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }}
  }}
}}
"""


def wait_for(what, test, seconds=15, step=0.05):
    end = time.time() + seconds
    while time.time() < end:
        v = test()
        if v:
            return v
        time.sleep(step)
    return None


def headers_of(path):
    """The headers of an .eml file (unfolded), as a dict of lower-case names."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    head = text.split("\r\n\r\n", 1)[0].split("\n\n", 1)[0]
    head = re.sub(r"\r?\n[ \t]+", " ", head)
    out = {}
    for line in head.splitlines():
        k, _, v = line.partition(":")
        out[k.strip().lower()] = v.strip()
    return out, text


def readable_header(value):
    import email.header
    return str(email.header.make_header(email.header.decode_header(value)))


def decoded_body(text):
    import email
    msg = email.message_from_string(text)
    payload = msg.get_payload(decode=True)
    return payload.decode("utf-8", "replace") if payload else text


def main():
    binary = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="kintsugi-multi.")
    os.chmod(work, 0o755)
    cluster = Cluster(work)
    nginx = None
    try:
        t_start = time.time()
        cluster.start()
        nginx_port = free_port()
        key = secrets.token_hex(32)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KINTSUGI_")}
        env.update({
            "KINTSUGI_DATABASE_URL": cluster.url,
            "KINTSUGI_SECRET_KEY": key,
            "KINTSUGI_BASE_URL": f"http://127.0.0.1:{nginx_port}",
            "KINTSUGI_TRUSTED_PROXIES": "127.0.0.1",
            "KINTSUGI_CONTENT_DIR": os.path.join(ROOT, "content"),
            "KINTSUGI_WATCH_CONTENT": "false",
            "KINTSUGI_COMMENT_MIN_SECONDS": "0",
            "KINTSUGI_COACH_EMAIL": COACH_EMAIL,
            "KINTSUGI_MAIL_UPDATE_DELAY_SECONDS": "0",
            "KINTSUGI_WORKERS": "1",
            "KINTSUGI_DB_POOL_SIZE": "4",
            "KINTSUGI_LOG": "info",
        })
        # The schema, the coach's account and an expired rate-limit event
        # exist before any instance starts.
        subprocess.run([binary, "migrate"], env=dict(env, KINTSUGI_DATA_DIR=os.path.join(work, "cli")),
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([binary, "admin", "create", "--email", COACH_EMAIL, "--name", "Maya Coach"],
                       env=dict(env, KINTSUGI_DATA_DIR=os.path.join(work, "cli"), KINTSUGI_ADMIN_PASSWORD=COACH_PASSWORD),
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cluster.sql("INSERT INTO rate_limit_events (bucket, key_hash, created_at) "
                    "VALUES ('multi-test', 'old', now() at time zone 'utc' - interval '2 days')")

        inst = {n: Instance(n, binary, work, env) for n in "ABC"}
        for i in inst.values():
            i.start()
        ready = all(i.wait_ready() for i in inst.values())
        if not check(ready, "three instances answer /readyz"):
            return
        os.makedirs(os.path.join(work, "nginx-tmp"))
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as f:
            f.write(nginx_conf(work, nginx_port, [i.port for i in inst.values()]))
        nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
        nginx = subprocess.Popen([nginx_bin, "-p", work, "-c", conf],
                                 stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "nginx.out"), "w"))
        procs.append(("nginx", nginx))
        check(wait_for("nginx", lambda: _status(nginx_port, "/healthz") == 200, 10) is not None,
              f"nginx balances the three on port {nginx_port}")
        A, B, C = inst["A"].port, inst["B"].port, inst["C"].port

        # --- the clean-up ran once, on one instance --------------------------------
        def lines(needle):
            return sum(i.log_text().count(needle) for i in inst.values())
        wait_for("lease logs", lambda: lines("the clean-up ran on another instance") + lines("this instance runs the clean-up") >= 3, 10)
        ran, skipped = lines("this instance runs the clean-up"), lines("the clean-up ran on another instance")
        runners = [n for n, i in inst.items() if "this instance runs the clean-up" in i.log_text()]
        check(ran == 1 and skipped == 2, f"the start-up clean-up ran on exactly one instance ({ran} ran: {runners}; {skipped} skipped)")
        check(lines("expired rows deleted") == 1, f"one 'expired rows deleted' line across the three logs ({lines('expired rows deleted')})")
        left = cluster.sql("SELECT count(*) FROM rate_limit_events WHERE bucket = 'multi-test'")
        check(left == "0", f"the expired rate-limit event was purged ({left} left)")

        # --- a reader posts through A, reads through B -----------------------------
        reader = Browser(ip="198.51.100.7")
        page = reader.get(A, ARTICLE)
        res = reader.post(A, ARTICLE + "/comments", {
            "name": "Robin", "email": "robin@example.com", "notify": "1", "remember": "1",
            "body": "Day nine without texting him. Multi-instance question.", "token": token_of(page.body)})
        location = res.header("Location") or ""
        check(res.status == 303, f"reader's comment posted through A answers 303 ({res.status} {location})")
        comment_id = cluster.sql("SELECT max(id) FROM comments WHERE author_email = 'robin@example.com'")
        split = urllib.parse.urlsplit(location)
        page_b = reader.get(B, split.path + (f"?{split.query}" if split.query else ""))
        check(page_b.status == 200 and "Multi-instance question." in page_b.body,
              "through B the reader sees their held comment (their cookie works there)")
        anon_b = Browser().get(B, ARTICLE)
        check("Multi-instance question." not in anon_b.body, "others do not see it while it is held")

        # --- per-address limit across instances ------------------------------------
        limited = Browser(ip="198.51.100.99")
        statuses = []
        for n, port in (("A", A), ("B", B), ("C", C)):
            p = limited.get(port, ARTICLE)
            r = limited.post(port, ARTICLE + "/comments", {
                "name": "Lee", "email": f"lee-{n}@example.com", "body": f"Quick note {n} from one address.",
                "token": token_of(p.body)})
            statuses.append(r.status)
        check(statuses == [303, 429, 429], f"one address posting through A, B, C is limited as one: {statuses}")

        # --- the reader confirms their subscription (link from the mail) -----------
        def confirm_link():
            for i in inst.values():
                for f in i.outbox():
                    hdrs, text = headers_of(f)
                    if "robin@example.com" in hdrs.get("to", ""):
                        m = re.search(r"/notifications/confirm/[A-Za-z0-9._~%-]+", decoded_body(text))
                        if m:
                            return m.group(0)
            return None
        link = wait_for("confirm mail", confirm_link, 15)
        if check(link is not None, "the subscription confirmation mail was sent"):
            r = reader.get(C, link)
            check(r.status in (200, 303), f"confirmed through C ({r.status})")

        # --- the coach signs in through A and works through B and C ---------------
        coach = Browser(ip="198.51.100.50")
        form = coach.get(A, "/admin/login")
        r = coach.post(A, "/admin/login", {"token": token_of(form.body), "next": "/admin",
                                          "email": COACH_EMAIL, "password": COACH_PASSWORD})
        check(r.status == 303 and bool(coach.cookies), f"coach signs in through A ({r.status})")
        queue = coach.get(B, "/admin/comments")
        check(queue.status == 200 and "Multi-instance question." in queue.body,
              f"through B, with A's session cookie, the queue shows the comment ({queue.status})")
        csrf = CSRF.search(queue.body).group(1) if CSRF.search(queue.body) else ""
        # Warm A's and C's cached article pages, then approve through B and
        # time how long A and C take to show it.
        for port in (A, C):
            Browser().get(port, ARTICLE)
        r = coach.post(B, "/admin/comments/bulk", {"csrf": csrf, "back": "/admin/comments",
                                                   "one": f"approve:{comment_id}"})
        approved = time.time()
        check(r.status == 303, f"approved through B ({r.status})")
        seen = {}
        while time.time() - approved < 3 and len(seen) < 2:
            for n, port in (("A", A), ("C", C)):
                if n not in seen and "Multi-instance question." in Browser().get(port, ARTICLE).body:
                    seen[n] = (time.time() - approved) * 1000
            time.sleep(0.005)
        delays = ", ".join(f"{n} {seen[n]:.0f} ms" for n in sorted(seen))
        slowest = max(seen.values()) if len(seen) == 2 else None
        check(slowest is not None and slowest < 2000,
              f"approved on B, visible on A and C within 2 s: {delays or 'never'}")
        print(f"      cross-instance delay (approve on B -> page on A/C): max {slowest or 0:.0f} ms", flush=True)
        item = coach.get(C, f"/admin/comments/{comment_id}")
        csrf_c = CSRF.search(item.body).group(1) if CSRF.search(item.body) else ""
        r = coach.post(C, f"/admin/comments/{comment_id}/reply", {
            "csrf": csrf_c, "back": ARTICLE, "body": "Nine days is real progress. Keep going."})
        check(r.status == 303, f"coach replies through C ({r.status})")
        check(wait_for("reply", lambda: "Nine days is real progress" in Browser().get(nginx_port, ARTICLE).body, 3) is not None,
              "the reply shows through nginx")

        # --- a coaching request (two mails: the reader's, the coach's alert) -------
        asker = Browser(ip="198.51.100.80")
        f = asker.get(nginx_port, "/coaching")
        option = re.search(r'name="option" type="radio" value="([^"]+)"', f.body)
        r = asker.post(nginx_port, "/coaching", {
            "token": token_of(f.body), "article": "", "comment": "", "name": "Kim", "email": "kim@example.com",
            "option": option.group(1) if option else "", "ended_by": "they-did",
            "together_for": "1-to-3-years", "ended_ago": "under-a-month", "contact_now": "no-contact",
            "no_contact_since": time.strftime("%Y-%m-%d", time.gmtime(time.time() - 7 * 86400)),
            "hope": "not-sure", "talk_via": "email", "time_zone": "",
            "situation": "We broke up a month ago and I keep checking her profile.", "adult": "1",
            "consent": "1", "website": ""})
        check(r.status == 303, f"coaching request sent through nginx ({r.status})")

        # --- every mail once, with three mail workers -------------------------------
        # Besides the mails above (most sent by the worker of the instance
        # that queued them, which it wakes), 90 queued at once that the
        # three workers find on their own polls and compete for.
        cluster.sql("INSERT INTO mail_outbox (recipient, subject, body, kind, created_at, attempts, next_attempt_at) "
                    "SELECT 'bulk' || n || '@example.com', 'Bulk ' || n, 'Hello ' || n, 'bulk', "
                    "now() at time zone 'utc', 0, now() at time zone 'utc' FROM generate_series(1, 90) AS n")
        drained = wait_for("mail queue", lambda: cluster.sql(
            "SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL") == "0", 20, 0.2)
        check(drained is not None, "the mail queue drained")
        sent = int(cluster.sql("SELECT count(*) FROM mail_outbox WHERE sent_at IS NOT NULL"))
        files = {}
        per = {}
        for n, i in inst.items():
            for f in i.outbox():
                mail_id = int(os.path.basename(f).split("-")[1])
                files.setdefault(mail_id, []).append(n)
                hdrs, _ = headers_of(f)
                k = (hdrs.get("to", "?"), readable_header(hdrs.get("subject", "?")))
                per[k] = per.get(k, 0) + 1
        dup = {k: v for k, v in files.items() if len(v) > 1}
        by_inst = {n: sum(1 for v in files.values() if n in v) for n in inst}
        bulk_ids = {int(x) for x in cluster.sql("SELECT string_agg(id::text, ',') FROM mail_outbox WHERE kind = 'bulk'").split(",")}
        bulk_by = {n: sum(1 for k, v in files.items() if k in bulk_ids and n in v) for n in inst}
        check(bulk_ids <= set(files) and not (bulk_ids & set(dup)),
              f"the 90 mails queued at once went out once each, split between the workers {bulk_by}")
        check(not dup and len(files) == sent,
              f"each mail sent exactly once: {sent} queued and sent, {sum(len(v) for v in files.values())} files "
              f"for {len(files)} mails, duplicates {dup or 'none'} (written by {by_inst})")
        for (to, subject), n in sorted(per.items()):
            if to.startswith("bulk"):
                continue
            print(f"      {n} x {to}: {subject}", flush=True)
        kinds = cluster.sql("SELECT string_agg(DISTINCT split_part(kind, ':', 1), ',') FROM mail_outbox")
        for want in ("confirm", "reply", "request"):
            check(any(k.startswith(want) for k in kinds.split(",")), f"a '{want}' mail was among them ({kinds})")
        check(any(COACH_EMAIL in to for to, _ in per), "the coach's alerts were among them")

        # --- stopping instances while readers and writers go on --------------------
        stop = threading.Event()
        acked, refused, write_errors, reads = [], [], [], {"ok": 0, "bad": []}
        lock = threading.Lock()

        def writer(w):
            n = 0
            while not stop.is_set():
                n += 1
                marker = f"mw{w}-{n}"
                # A new address per post: the per-address limit is not what is tested here.
                b = Browser(ip=f"10.{w + 1}.{n // 250 % 250}.{n % 250 + 1}")
                try:
                    p = b.get(nginx_port, ARTICLE)
                    r = b.post(nginx_port, ARTICLE + "/comments", {
                        "name": "Writer", "email": f"{marker}@example.com",
                        "body": f"Load note {marker} while instances stop.", "token": token_of(p.body)})
                    with lock:
                        (acked if r.status == 303 else refused).append((marker, r.status))
                except OSError as e:
                    with lock:
                        write_errors.append((marker, str(e)))

        def reader_loop():
            paths = ["/", ARTICLE, "/tags", "/coaching", "/search?q=contact"]
            n = 0
            while not stop.is_set():
                path = paths[n % len(paths)]
                n += 1
                try:
                    s = Browser().get(nginx_port, path).status
                except OSError as e:
                    s = str(e)
                with lock:
                    if s == 200:
                        reads["ok"] += 1
                    else:
                        reads["bad"].append((path, s))

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(2)] + \
                  [threading.Thread(target=reader_loop) for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(2)
        inst["B"].signal(signal.SIGTERM)
        print("      B stopped (SIGTERM)", flush=True)
        time.sleep(3)
        inst["B"].start()
        b_back = inst["B"].wait_ready()
        print(f"      B started again ({'ready' if b_back else 'NOT ready'})", flush=True)
        time.sleep(1.5)
        inst["C"].signal(signal.SIGKILL)
        print("      C killed (SIGKILL)", flush=True)
        time.sleep(3)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        markers = cluster.sql("SELECT string_agg(author_email, ',') FROM comments WHERE author_email LIKE 'mw%'")
        stored = {m.split("@")[0] for m in (markers or "").split(",") if m}
        lost = [m for m, _ in acked if m not in stored]
        check(acked and not lost,
              f"every acknowledged write is stored: {len(acked)} acknowledged (303), {len(stored)} stored, "
              f"{len(lost)} lost{': ' + ','.join(lost[:5]) if lost else ''}; "
              f"{len(refused)} not acknowledged {status_counts(refused)}, {len(write_errors)} connection errors")
        # A post in flight on the instance killed with SIGKILL gets a 502
        # (nginx does not send a POST twice); nothing else may fail.
        check(all(s in (502,) for _, s in refused) and len(refused) <= 4,
              f"only posts in flight on the killed instance failed ({len(refused)})")
        check(reads["ok"] > 0 and not reads["bad"],
              f"readers kept being served through nginx: {reads['ok']} ok, {len(reads['bad'])} failed {reads['bad'][:3]}")
        print(f"      run took {time.time() - t_start:.0f} s", flush=True)
    finally:
        if nginx and nginx.poll() is None:
            nginx.terminate()
        for name, p in procs:
            if p.poll() is None:
                p.terminate()
        for name, p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        cluster.stop()
        if failures or os.environ.get("MULTI_KEEP"):
            print(f"logs kept in {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} check(s) failed", flush=True)
        sys.exit(1)
    print("all checks passed", flush=True)


def status_counts(pairs):
    counts = {}
    for _, s in pairs:
        counts[s] = counts.get(s, 0) + 1
    return counts


def _status(port, path):
    try:
        return Browser().get(port, path).status
    except OSError:
        return None


if __name__ == "__main__":
    main()
