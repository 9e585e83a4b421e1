#!/usr/bin/env bash
# Kintsugi behind nginx with HTTPS, configured exactly as README's "Running
# it on a server" says (its `<!-- deploy:... -->` blocks, with only the ports,
# host name, certificate files and paths changed, printed below), checked
# with curl the way a browser and a misbehaving client would see it.
#
# Two Kintsugi servers (the debug binary) sit behind one nginx: "trusted"
# (KINTSUGI_TRUSTED_PROXIES=127.0.0.1, as the README says) on one TLS port,
# "untrusted" (no trusted proxies) on another. Clients speak from
# 127.0.0.2, 127.0.0.3, ... (curl --interface); nginx connects from
# 127.0.0.1. Also checks the README's environment file with `kintsugi
# config`, its unit file with `systemd-analyze verify` and its Caddyfile
# with `caddy adapt` and `caddy validate`, and runs Caddy with `tls internal` (each when the tool
# is there; nginx is installed when missing, Caddy when apt-get can).
#
# Prints one ok/FAIL line per check; exits non-zero on any FAIL.
# TLS_PROXY_KEEP=1 keeps the work folder (logs, configs) and says where.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
HOST=kintsugi.test

need() { command -v "$1" >/dev/null || apt-get install -y "$2" >/dev/null 2>&1 || (apt-get update >/dev/null 2>&1 && apt-get install -y "$2" >/dev/null 2>&1); }
export PATH="$PATH:/usr/sbin:/sbin"
need nginx nginx-light || need nginx nginx
need openssl openssl
need caddy caddy || echo "note: caddy could not be installed; its checks are skipped"
cargo build --quiet --bin kintsugi
BIN=$ROOT/target/debug/kintsugi

WORK=$(mktemp -d /tmp/kintsugi-tls.XXXXXX)
chmod 755 "$WORK"   # nginx's workers (nobody, when root) read the certificates' folder
PIDS=()
cleanup() {
  # Every process started here is in PIDS as itself (exec), not a subshell.
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "${TLS_PROXY_KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
TLS=$(free_port); TLS2=$(free_port); HTTP=$(free_port); CADDY_TLS=$(free_port)
UP1=$(free_port); UP2=$(free_port); UP3=$(free_port)
SITE=https://$HOST:$TLS
SITE2=https://$HOST:$TLS2

fails=0
ok() { echo "ok   $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
# check "what" command...: ok when the command succeeds.
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
has() { grep -qiE -- "$2" <<<"$1"; }

# A README block, by its marker.
block() {
  awk -v m="<!-- deploy:$1 -->" '$0 == m { f = 1; next } f && /^```/ { if (b) exit; b = 1; next } f && b { print }' README.md
}

# ---------------------------------------------------------------- certificates
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -keyout "$WORK/ca.key" -out "$WORK/ca.pem" -subj "/CN=Kintsugi test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$WORK/server.key" -out "$WORK/server.csr" -subj "/CN=$HOST" 2>/dev/null
printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' "$HOST" >"$WORK/server.ext"
openssl x509 -req -in "$WORK/server.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial \
  -days 2 -out "$WORK/server.pem" -extfile "$WORK/server.ext" 2>/dev/null

# ------------------------------------------------- the README's configurations
block nginx >"$WORK/readme-nginx.conf"
block env >"$WORK/readme.env"
block systemd >"$WORK/readme.service"
block caddy >"$WORK/readme.Caddyfile"
for f in readme-nginx.conf readme.env readme.service readme.Caddyfile; do
  [ -s "$WORK/$f" ] || { echo "FAIL README has no block for $f"; exit 1; }
done

# nginx: only addresses, names and files change.
sed -e "s|listen 80;|listen 127.0.0.1:$HTTP;|" \
    -e '/listen \[::\]/d' \
    -e "s|listen 443 ssl http2;|listen 127.0.0.1:$TLS ssl http2;|" \
    -e "s|server_name coach.example;|server_name $HOST;|" \
    -e "s|/etc/letsencrypt/live/coach.example/fullchain.pem|$WORK/server.pem|" \
    -e "s|/etc/letsencrypt/live/coach.example/privkey.pem|$WORK/server.key|" \
    -e "s|root /var/www/letsencrypt;|root $WORK/acme;|" \
    -e "s|return 301 https://\$host\$request_uri;|return 301 https://\$host:$TLS\$request_uri;|" \
    -e "s|proxy_pass http://127.0.0.1:8080;|proxy_pass http://127.0.0.1:$UP1;|" \
    "$WORK/readme-nginx.conf" >"$WORK/site.conf"
echo "== the README's nginx site, as run here (diff README -> test):"
diff -u "$WORK/readme-nginx.conf" "$WORK/site.conf" | tail -n +3 | grep '^[-+]' || true
if grep -qE 'coach\.example|:8080|letsencrypt|listen (80|443)' "$WORK/site.conf"; then
  echo "FAIL the README's nginx block changed shape: a substitution no longer applies"; exit 1
fi
# The same https server block again, for the server that trusts no proxy.
awk 'NR > 1 && /^server \{/ { n++ } n >= 1' "$WORK/site.conf" \
  | sed -e "s|127.0.0.1:$TLS |127.0.0.1:$TLS2 |" -e "s|127.0.0.1:$UP1;|127.0.0.1:$UP2;|" >"$WORK/site-untrusted.conf"
mkdir -p "$WORK/tmp" "$WORK/acme" && chmod 777 "$WORK/tmp"
cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
error_log $WORK/nginx-error.log warn;
pid $WORK/nginx.pid;
events { worker_connections 256; }
http {
    access_log $WORK/nginx-access.log;
    client_body_temp_path $WORK/tmp/body;
    proxy_temp_path $WORK/tmp/proxy;
    fastcgi_temp_path $WORK/tmp/fastcgi;
    uwsgi_temp_path $WORK/tmp/uwsgi;
    scgi_temp_path $WORK/tmp/scgi;
    include $WORK/site.conf;
    include $WORK/site-untrusted.conf;
}
EOF

# The environment file: the README's, with this machine's folders and ports.
sed -e "s|https://coach.example|$SITE|" \
    -e "s|127.0.0.1:8080|127.0.0.1:$UP1|" \
    -e "s|/srv/kintsugi/content|$ROOT/content|" \
    -e "s|/var/lib/kintsugi|$WORK/trusted|" \
    "$WORK/readme.env" >"$WORK/trusted.env"
echo "== the README's environment file, as run here (diff README -> test):"
diff -u "$WORK/readme.env" "$WORK/trusted.env" | tail -n +3 | grep '^[-+]' || true

# Runs a command with only an environment file's settings (and extra ones).
with_env() {
  local file=$1; shift
  env -i PATH="$PATH" HOME="$WORK" bash -c 'set -a; . "$1"; set +a; shift; exec env "$@"' _ "$file" "$@"
}
# The same, replacing the calling (sub)shell, so that $! is the program's own
# process and cleanup stops it.
exec_with_env() {
  local file=$1; shift
  exec env -i PATH="$PATH" HOME="$WORK" bash -c 'set -a; . "$1"; set +a; shift; exec env "$@"' _ "$file" "$@"
}

# -------------------------------------------------------------- kintsugi config
out=$(cd "$WORK" && with_env "$WORK/trusted.env" "$BIN" config 2>&1) && code=0 || code=$?
check "kintsugi config accepts the README's environment file (exit 0)" test "$code" = 0
has "$out" 'KINTSUGI_SMTP_URL +smtps://postmaster%40coach.example:\*\*\*@' \
  && ok "kintsugi config shows the SMTP password as ***" || fail "kintsugi config shows the SMTP password as ***: $out"
bad=$(cd "$WORK" && with_env "$WORK/trusted.env" KINTSUGI_TRUSTED_PROXIES=0.0.0.0/0 "$BIN" serve 2>&1) && code=0 || code=$?
check "kintsugi serve refuses KINTSUGI_TRUSTED_PROXIES=0.0.0.0/0" test "$code" != 0
has "$bad" 'KINTSUGI_TRUSTED_PROXIES: `0.0.0.0/0` is far too wide' \
  && ok "... saying why" || fail "... saying why: $bad"

# ---------------------------------------------------------------- the servers
start_kintsugi() { # name env-file extra-settings...
  local name=$1 file=$2; shift 2
  mkdir -p "$WORK/$name"
  (cd "$WORK" && exec_with_env "$file" KINTSUGI_WATCH_CONTENT=false KINTSUGI_COMMENT_MIN_SECONDS=0 \
      KINTSUGI_SMTP_URL= "$@" "$BIN" serve >"$WORK/$name.log" 2>&1) &
  PIDS+=($!)
}
# The test sends no mail: SMTP is left out (mail goes to the outbox folder).
start_kintsugi trusted "$WORK/trusted.env"
grep -v '^KINTSUGI_TRUSTED_PROXIES=' "$WORK/trusted.env" \
  | sed -e "s|$SITE|$SITE2|" -e "s|127.0.0.1:$UP1|127.0.0.1:$UP2|" -e "s|$WORK/trusted|$WORK/untrusted|" >"$WORK/untrusted.env"
start_kintsugi untrusted "$WORK/untrusted.env"

if ! nginx -t -p "$WORK" -c "$WORK/nginx.conf" >"$WORK/nginx-t.log" 2>&1; then
  cat "$WORK/nginx-t.log"; fail "nginx -t accepts the README's site"; exit 1
fi
ok "nginx -t accepts the README's site"
nginx -p "$WORK" -c "$WORK/nginx.conf" -g 'daemon off;' 2>>"$WORK/nginx-error.log" &
PIDS+=($!)

wait_ready() { # url
  for _ in $(seq 1 300); do curl -fsS "$1/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}
for up in "$UP1" "$UP2"; do
  wait_ready "http://127.0.0.1:$up" || { tail -20 "$WORK"/*.log; echo "FAIL a server did not start"; exit 1; }
done

# A client at one loopback address, resolving kintsugi.test to 127.0.0.1.
CURL=(curl -sS --max-time 20 --cacert "$WORK/ca.pem"
      --resolve "$HOST:$TLS:127.0.0.1" --resolve "$HOST:$TLS2:127.0.0.1" --resolve "$HOST:$HTTP:127.0.0.1")
from() { local ip=$1; shift; "${CURL[@]}" --interface "$ip" "$@"; }
for _ in $(seq 1 50); do from 127.0.0.2 -o /dev/null "$SITE/healthz" 2>/dev/null && break; sleep 0.1; done

# ------------------------------------------------------------ https, headers, links
headers=$(from 127.0.0.2 -D - -o "$WORK/home.html" "$SITE/")
check "GET / through nginx over TLS (certificate for $HOST from the test CA) answers 200" has "$headers" '^HTTP/[0-9.]+ 200'
check "Strict-Transport-Security: max-age=31536000 on every answer" has "$headers" '^strict-transport-security: max-age=31536000'
check "the canonical link is $SITE/" grep -q "<link rel=\"canonical\" href=\"$SITE/\">" "$WORK/home.html"
check "the feed link is $SITE/feed.xml" grep -q "type=\"application/atom+xml\"[^>]*href=\"$SITE/feed.xml\"" "$WORK/home.html"
feed=$(from 127.0.0.2 "$SITE/feed.xml")
check "the feed's self link and entries are https://$HOST:$TLS/..." \
  bash -c '[[ $1 == *"href=\"$2/feed.xml\""* ]] && ! grep -o "https\?://[^\"<]*" <<<"$1" | grep -v "^$2" | grep -qv "w3.org"' _ "$feed" "$SITE"
sitemap=$(from 127.0.0.2 "$SITE/sitemap.xml")
locs=$(grep -o '<loc>[^<]*' <<<"$sitemap" | sed 's/<loc>//')
check "every sitemap <loc> ($(wc -l <<<"$locs") of them) starts with $SITE/" \
  bash -c '[ -n "$1" ] && ! grep -v "^$2/" <<<"$1"' _ "$locs" "$SITE"
robots=$(from 127.0.0.2 "$SITE/robots.txt")
check "robots.txt names $SITE/sitemap.xml" has "$robots" "Sitemap: $SITE/sitemap.xml"
redirect=$(from 127.0.0.2 -o /dev/null -w '%{http_code} %{redirect_url}' "http://$HOST:$HTTP/articles/going-no-contact?x=1")
check "plain http redirects to https (got: $redirect)" test "$redirect" = "301 $SITE/articles/going-no-contact?x=1"
setup=$(grep -o 'https\?://[^ "]*/admin/setup?token=[0-9a-zA-Z]*' "$WORK/trusted.log" | head -1 || true)
check "the first-run setup link in the log starts with $SITE/admin/setup (${setup%%\?*})" \
  bash -c '[[ $1 == "$2/admin/setup?token="* ]]' _ "$setup" "$SITE"

# ---------------------------------------------------------------- comments
ARTICLE=/articles/going-no-contact
# post IP SITE [extra curl args...]: a comment from the article's own form
# (its token scraped from the page), sent with Origin $ORIGIN (default: the
# site). Prints the status; the headers are in $WORK/post.h.
post() {
  local ip=$1 site=$2; shift 2
  local token n="$RANDOM$RANDOM"
  token=$(from "$ip" "$site$ARTICLE" | grep -o 'name="token" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"$//')
  from "$ip" -o /dev/null -D "$WORK/post.h" -w '%{http_code}' -H "Origin: ${ORIGIN:-$site}" "$@" \
    --data-urlencode "name=Reader $n" --data-urlencode "email=reader$n@example.com" \
    --data-urlencode "body=Comment number $n through the proxy, from $ip." \
    --data-urlencode "token=$token" --data-urlencode "website=" --data-urlencode "remember=1" \
    "$site$ARTICLE/comments"
}
status=$(post 127.0.0.2 "$SITE")
check "a comment with the site's own Origin is accepted (303, got $status)" test "$status" = 303
cookies=$(grep -i '^set-cookie:' "$WORK/post.h" || true)
check "the reader's cookies are __Host-kintsugi_own and __Host-kintsugi_commenter" \
  bash -c 'grep -qi "^set-cookie: __Host-kintsugi_own=" <<<"$1" && grep -qi "^set-cookie: __Host-kintsugi_commenter=" <<<"$1"' _ "$cookies"
check "every cookie set is __Host-, Secure, Path=/ and has no Domain" \
  bash -c '[ -n "$1" ] && while read -r l; do [[ $l =~ ^[Ss]et-[Cc]ookie:\ __Host- ]] && [[ $l == *"; Secure"* ]] && [[ $l == *"Path=/"* ]] && [[ $l != *omain=* ]] || exit 1; done <<<"$1"' _ "$cookies"

status=$(post 127.0.0.2 "$SITE")
check "trusted proxy: a second comment from 127.0.0.2 at once is rate-limited (429, got $status)" test "$status" = 429
status=$(post 127.0.0.3 "$SITE")
check "trusted proxy: 127.0.0.3 is a different reader, not limited (303, got $status)" test "$status" = 303
status=$(post 127.0.0.2 "$SITE" -H "X-Forwarded-For: 198.51.100.77")
check "trusted proxy: 127.0.0.2 sending a forged X-Forwarded-For is still limited as 127.0.0.2 (429, got $status)" test "$status" = 429
status=$(post 127.0.0.4 "$SITE" -H "X-Forwarded-For: 127.0.0.2")
check "trusted proxy: 127.0.0.4 claiming to be the limited 127.0.0.2 is not limited (303, got $status)" test "$status" = 303

status=$(post 127.0.0.5 "$SITE2")
check "untrusted proxy: the first comment, from 127.0.0.5, is accepted (303, got $status)" test "$status" = 303
status=$(post 127.0.0.6 "$SITE2")
check "untrusted proxy: 127.0.0.6 counts as the same address (nginx's), limited (429, got $status)" test "$status" = 429
status=$(post 127.0.0.7 "$SITE2" -H "X-Forwarded-For: 203.0.113.8")
check "untrusted proxy: a forged X-Forwarded-For changes nothing (429, got $status)" test "$status" = 429

# ------------------------------------------------------------ cross-site forms
status=$(ORIGIN=https://evil.example post 127.0.0.8 "$SITE")
check "a comment form posted from https://evil.example is refused (403, got $status)" test "$status" = 403
status=$(ORIGIN=http://$HOST:$TLS post 127.0.0.9 "$SITE")
check "a comment form posted from the http:// origin of the same host is refused (403, got $status)" test "$status" = 403

EMAIL=coach@example.com PASSWORD='correct horse battery staple 42'
(cd "$WORK" && KINTSUGI_ADMIN_PASSWORD=$PASSWORD with_env "$WORK/trusted.env" KINTSUGI_ADMIN_PASSWORD="$PASSWORD" \
  "$BIN" admin create --email "$EMAIL" --name "Maya Brennan" >"$WORK/admin-create.log" 2>&1) \
  || { cat "$WORK/admin-create.log"; fail "kintsugi admin create"; }
sign_in() { # origin
  local token
  token=$(from 127.0.0.9 "$SITE/admin/login" | grep -o 'name="token" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"$//')
  from 127.0.0.9 -o /dev/null -D "$WORK/login.h" -w '%{http_code}' -H "Origin: $1" \
    --data-urlencode "email=$EMAIL" --data-urlencode "password=$PASSWORD" \
    --data-urlencode "token=$token" --data-urlencode "next=/admin" "$SITE/admin/login"
}
status=$(sign_in https://evil.example)
check "the coach's sign-in posted from https://evil.example is refused (403, got $status)" test "$status" = 403
status=$(sign_in "$SITE")
check "the coach's sign-in from the site itself succeeds (303, got $status)" test "$status" = 303
admin=$(grep -i '^set-cookie:' "$WORK/login.h" || true)
check "the coach's session cookie is __Host-kintsugi_admin, Secure, HttpOnly, SameSite=Strict" \
  bash -c 'grep -i "^set-cookie: __Host-kintsugi_admin=" <<<"$1" | grep -q "Secure" && grep -i "^set-cookie: __Host-kintsugi_admin=" <<<"$1" | grep -q "HttpOnly" && grep -i "^set-cookie: __Host-kintsugi_admin=" <<<"$1" | grep -q "SameSite=Strict"' _ "$admin"
check "every cookie set at sign-in is __Host-, Secure, Path=/ and has no Domain" \
  bash -c '[ -n "$1" ] && while read -r l; do [[ $l =~ ^[Ss]et-[Cc]ookie:\ __Host- ]] && [[ $l == *"; Secure"* ]] && [[ $l == *"Path=/"* ]] && [[ $l != *omain=* ]] || exit 1; done <<<"$1"' _ "$admin"

# --------------------------------- what a client sends straight to Kintsugi
# Kintsugi reads no X-Forwarded-Proto, X-Forwarded-Host or Host for its
# links: an untrusted client talking plain http to the upstream port (with
# a page nobody has asked for yet, so nothing comes from the cache) gets
# the same https links, HSTS and Secure cookies.
direct=$(curl -sS -D - --interface 127.0.0.2 -H "Host: evil.example" -H "X-Forwarded-Proto: http" \
  -H "X-Forwarded-Host: evil.example" -H "X-Forwarded-For: 198.51.100.1" "http://127.0.0.2:$UP1/about" 2>&1 || true)
if [ -z "$direct" ] || has "$direct" 'Failed to connect|Couldn.t connect'; then
  # Kintsugi listens on 127.0.0.1 only (as the README says): connect there from 127.0.0.1.
  direct=$(curl -sS -D - -H "Host: evil.example" -H "X-Forwarded-Proto: http" \
    -H "X-Forwarded-Host: evil.example" "http://127.0.0.1:$UP1/about")
fi
check "direct http with Host/X-Forwarded-Proto/X-Forwarded-Host forged: canonical still $SITE/about" has "$direct" "<link rel=\"canonical\" href=\"$SITE/about\">"
check "... and no link to evil.example or http://$HOST" bash -c '! grep -qE "evil\.example|http://'"$HOST"'" <<<"$1"' _ "$direct"
check "... and Strict-Transport-Security is still sent" has "$direct" '^strict-transport-security: max-age='
refused=$(curl -sS -o /dev/null -w '%{http_code}' -H "Host: $HOST:$TLS" -H "Origin: https://evil.example" -H "X-Forwarded-Proto: https" \
  --data "name=x&email=x%40example.com&body=x&token=x" "http://127.0.0.1:$UP1$ARTICLE/comments")
check "direct cross-site comment post with X-Forwarded-Proto: https is refused (403, got $refused)" test "$refused" = 403

# ----------------------------------------------------------- the unit file
if command -v systemd-analyze >/dev/null 2>&1; then
  mkdir -p "$WORK/unit"
  sed -e "s|/usr/local/bin/kintsugi|$BIN|" -e "s|/etc/kintsugi/kintsugi.env|$WORK/trusted.env|" \
    "$WORK/readme.service" >"$WORK/unit/kintsugi.service"
  if systemd-analyze verify "$WORK/unit/kintsugi.service" >"$WORK/verify.log" 2>&1 && ! grep -q 'kintsugi.service' "$WORK/verify.log"; then
    ok "systemd-analyze verify: the README's unit has no errors or warnings"
  else
    cat "$WORK/verify.log"; fail "systemd-analyze verify: the README's unit"
  fi
else
  echo "skip systemd-analyze is not installed: the unit file is not verified"
fi

# ----------------------------------------------------------------- Caddy
if command -v caddy >/dev/null 2>&1; then
  if caddy adapt --config "$WORK/readme.Caddyfile" --adapter caddyfile >"$WORK/caddy-adapt.json" 2>"$WORK/caddy-adapt.log" \
     && ! grep -qi 'warn' "$WORK/caddy-adapt.log"; then
    ok "caddy adapt: the README's Caddyfile is valid (caddy $(caddy version | cut -d' ' -f1))"
  else
    cat "$WORK/caddy-adapt.log"; fail "caddy adapt: the README's Caddyfile"
  fi
  if (cd "$WORK" && HOME=$WORK XDG_DATA_HOME=$WORK/xdg XDG_CONFIG_HOME=$WORK/xdg \
        caddy validate --config "$WORK/readme.Caddyfile" --adapter caddyfile >"$WORK/caddy-validate.log" 2>&1) \
     && grep -q 'enabling automatic HTTP->HTTPS redirects' "$WORK/caddy-validate.log"; then
    ok "caddy validate: the README's Caddyfile loads (automatic HTTPS and the http->https redirect on)"
  else
    cat "$WORK/caddy-validate.log"; fail "caddy validate: the README's Caddyfile"
  fi
  # Run it: the README's site block with its own name and port and a
  # certificate from Caddy's internal CA, before a third Kintsugi.
  sed -e "s|^coach.example {|$HOST:$CADDY_TLS {\n\ttls internal|" -e "s|127.0.0.1:8080|127.0.0.1:$UP3|" \
    "$WORK/readme.Caddyfile" >"$WORK/site.Caddyfile"
  { printf '{\n\tadmin off\n\tskip_install_trust\n\tauto_https disable_redirects\n\tstorage file_system %s\n}\n' "$WORK/caddy"; cat "$WORK/site.Caddyfile"; } >"$WORK/Caddyfile"
  echo "== the README's Caddyfile, as run here (diff README -> test, plus a global block for a private run):"
  diff -u "$WORK/readme.Caddyfile" "$WORK/site.Caddyfile" | tail -n +3 | grep '^[-+]' || true
  sed -e "s|$SITE|https://$HOST:$CADDY_TLS|" -e "s|127.0.0.1:$UP1|127.0.0.1:$UP3|" -e "s|$WORK/trusted|$WORK/caddy-site|" \
    "$WORK/trusted.env" >"$WORK/caddy-site.env"
  start_kintsugi caddy-site "$WORK/caddy-site.env"
  (cd "$WORK" && HOME=$WORK XDG_DATA_HOME=$WORK/xdg XDG_CONFIG_HOME=$WORK/xdg exec caddy run --config "$WORK/Caddyfile" --adapter caddyfile >"$WORK/caddy.log" 2>&1) &
  PIDS+=($!)
  wait_ready "http://127.0.0.1:$UP3" || fail "the Kintsugi behind Caddy started"
  root=$WORK/caddy/pki/authorities/local/root.crt
  for _ in $(seq 1 100); do [ -s "$root" ] && break; sleep 0.1; done
  CSITE=https://$HOST:$CADDY_TLS
  chead=$(curl -sS --max-time 20 --cacert "$root" --resolve "$HOST:$CADDY_TLS:127.0.0.1" --interface 127.0.0.2 \
    -D - -o "$WORK/caddy-home.html" "$CSITE/" 2>&1 || true)
  check "Caddy (tls internal): GET / answers 200 over TLS" has "$chead" '^HTTP/[0-9.]+ 200'
  check "Caddy: Strict-Transport-Security is sent" has "$chead" '^strict-transport-security: max-age=31536000'
  check "Caddy: the canonical link is $CSITE/" grep -q "<link rel=\"canonical\" href=\"$CSITE/\">" "$WORK/caddy-home.html"
  cpost() { # ip: a comment through Caddy, with a forged X-Forwarded-For
    local token n="$RANDOM$RANDOM"
    token=$(curl -sS --cacert "$root" --resolve "$HOST:$CADDY_TLS:127.0.0.1" --interface "$1" "$CSITE$ARTICLE" \
      | grep -o 'name="token" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"$//')
    curl -sS --cacert "$root" --resolve "$HOST:$CADDY_TLS:127.0.0.1" --interface "$1" -o /dev/null -D "$WORK/cpost-$1.h" \
      -w '%{http_code}' -H "Origin: $CSITE" -H "X-Forwarded-For: 198.51.100.$((n % 250))" \
      --data-urlencode "name=Reader $n" --data-urlencode "email=reader$n@example.com" \
      --data-urlencode "body=Comment number $n through Caddy." --data-urlencode "token=$token" "$CSITE$ARTICLE/comments"
  }
  s1=$(cpost 127.0.0.2); s2=$(cpost 127.0.0.2); s3=$(cpost 127.0.0.3)
  check "Caddy: per-address limit by the client's own address, forged X-Forwarded-For ignored (303 429 303, got $s1 $s2 $s3)" \
    test "$s1 $s2 $s3" = "303 429 303"
  check "Caddy: the reader's cookie is __Host-kintsugi_own; Secure" bash -c 'grep -i "^set-cookie: __Host-kintsugi_own=" "$1" | grep -q "; Secure"' _ "$WORK/cpost-127.0.0.3.h"
else
  echo "skip caddy is not installed: the Caddyfile is not checked"
fi

# ---------------------------------------------------------------- the end
for log in "$WORK"/trusted.log "$WORK"/untrusted.log; do
  if grep -qE 'panicked|ERROR' "$log"; then
    grep -E 'panicked|ERROR' "$log" | head -5; fail "no error in $(basename "$log")"
  fi
done
if [ "$fails" -gt 0 ]; then
  echo "tls-proxy: $fails check(s) FAILED (TLS_PROXY_KEEP=1 keeps the logs)"
  exit 1
fi
echo "tls-proxy: every check passed"
