// Proof against attack: every vector of xss-vectors.txt through every text field a
// reader or the coach can fill, then every page, feed and email that shows them,
// opened in headless Chromium with the Content-Security-Policy bypassed (so the
// markup itself must be clean, not merely blocked by the policy).
//
//   cd tests/browser && BASE_URL=http://127.0.0.1:8080 ADMIN_EMAIL=coach@example.com \
//     ADMIN_PASSWORD='...' OUTBOX_DIR=/path/to/data-dir/outbox node xss.mjs
//
// The server must run with the posting limits relaxed for this test, as judges.sh
// starts its own instance for it:
//   KINTSUGI_COMMENT_MIN_SECONDS=0        forms may be sent at once
//   KINTSUGI_TRUSTED_PROXIES=127.0.0.1    every post names its own address in
//                                         X-Forwarded-For, so per-address rate limits
//                                         do not throttle hundreds of posts
//   KINTSUGI_MAIL_UPDATE_DELAY_SECONDS=0  request emails are written at once
//   KINTSUGI_COACH_EMAIL=...              the coach's alert emails are written too
// and with a fresh data folder (the test fills it with hundreds of comments).
//
// What is posted (each vector, or bundles of vectors where a field holds many):
//   reader:  comment name, email and body; replies (a comment with a parent); the
//            reader's own edit of a comment; every field of the /coaching form
//            (name, email, situation, the hidden article/comment fields and the
//            choice fields, whose values are reflected when refused); status-page
//            messages; the thank-you page's "send the link again" email; search.
//   coach:   a reply to a comment, an edit of a comment, a reply to a request, a
//            private note, the moderation queue's search.
// Every held comment is then approved through the admin (bulk approve).
//
// What is opened (a fresh visitor, the reader with their cookie, the signed-in coach):
// every comment page of every article, /comments.xml and each article's
// comments.xml, /feed.xml, the moderation queue (every tab and page), every
// comment's admin page and edit form, the request inbox and every request page,
// every status page (and its withdraw/delete pages), the thank-you page, search
// results, the audit log, every page a refused form answered (422 and friends),
// and every email in OUTBOX_DIR.
//
// On every render: no dialog (alert/confirm/prompt/print), window.__xss never set,
// no element with an attribute starting with "on", no <script> but the site's own
// (/static/js/{reply,timezone}.<hash>.js and JSON-LD that parses as JSON), no URL
// attribute (href, src, action, formaction, xlink:href, poster, data, ...) with a
// scheme other than http, https or mailto (relative is fine), no srcdoc, no
// <iframe>/<frame>/<object>/<embed>/<applet>/<base>/<portal>, no <meta http-equiv>
// or <link> in the body, no <style> element or style="" attribute (the site has
// none: a strict CSP forbids them), no navigation away after load, no "1337" (no
// template evaluated {{7*191}}). Feeds must be well-formed XML whose entry titles
// and names are plain text; their escaped HTML content is loaded into a page and
// checked the same way. Emails must be text/plain (an HTML part would be rendered
// and checked) with no injected headers. No answer may be a 5xx, and input longer
// than a field allows must be refused with a 4xx HTML page.
//
// Environment:
//   BASE_URL, ADMIN_EMAIL, ADMIN_PASSWORD, OUTBOX_DIR, CHROMIUM_PATH   as for e2e.mjs
//   XSS_SHORT=1   CI mode: every vector still goes through every field that holds
//                 many (bodies, situations, messages, replies, notes), but the
//                 one-value fields (names, emails, search, refused-form reflection)
//                 get a fixed sample of vectors instead of all of them.
//   XSS_VECTORS   another corpus file (default xss-vectors.txt beside this script)
//
// Exit code 0 only with zero findings. Artifacts: artifacts/xss-findings.json (every
// finding with its page and the vectors involved) and the HTML of any page with a
// finding under artifacts/xss/.

import { chromium } from 'playwright-core';
import { parseEml } from './outbox.mjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = path.join(HERE, 'artifacts');
const FINDINGS_DIR = path.join(ARTIFACTS, 'xss');
const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const ORIGIN = new URL(BASE_URL).origin;
const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ADMIN_EMAIL = process.env.ADMIN_EMAIL || '';
const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD || '';
const OUTBOX_DIR = process.env.OUTBOX_DIR || '';
const SHORT = process.env.XSS_SHORT === '1';
const VECTORS_FILE = process.env.XSS_VECTORS || path.join(HERE, 'xss-vectors.txt');
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const NAV_TIMEOUT_MS = 30_000;
// How long a page may run after `load` for autofocus, animations and failed loads to fire.
const SETTLE_MS = 120;
// Bundles stay under the smallest many-vector field (a comment: 5,000 characters).
const BUNDLE_CHARS = 4_600;
// The one-value fields' sample in XSS_SHORT mode.
const SHORT_SAMPLE = 48;
// Field limits (src/domain): longer input must be refused.
const LIMITS = { name: 80, email: 254, body: 5_000, situation: 10_000, message: 10_000 };
// The site's own scripts (by path; the hash is the build's fingerprint).
const ALLOWED_SCRIPT = /^\/static\/js\/(reply|timezone)\.[0-9a-f]{6,}\.js$/;
const ALLOWED_SCHEMES = new Set(['http', 'https', 'mailto']);

const url = (p) => new URL(p, BASE_URL + '/').href;
const started = Date.now();
const stats = { replyClicks: 0, posts: 0, byField: {}, renders: 0, pages: 0, feeds: 0, emails: 0, refused: 0, statuses: {} };
const findings = [];
let quiet = false; // the self-test's findings are expected: not printed

function finding(kind, where, detail, vectors = []) {
  findings.push({ kind, where, detail, vectors: vectors.slice(0, 10) });
  if (quiet) return;
  const v = vectors.length ? `\n      vectors: ${vectors.slice(0, 3).map((x) => JSON.stringify(x.slice(0, 160))).join(' | ')}` : '';
  console.log(`  ✗ [${kind}] ${where}: ${detail}${v}`);
}

// ---------------------------------------------------------------------------
// The corpus.

function decodeLine(line) {
  return line
    .replace(/⟨PAD:(\d+)⟩/g, (_, n) => 'a'.repeat(Number(n)))
    .replace(/⟨NL⟩/g, '\n')
    .replace(/⟨CR⟩/g, '\r')
    .replace(/⟨TAB⟩/g, '\t')
    .replace(/⟨FF⟩/g, '\f')
    .replace(/⟨VT⟩/g, '\v')
    .replace(/⟨NUL⟩/g, '\0')
    .replace(/⟨U\+([0-9A-Fa-f]{4,6})⟩/g, (_, hex) => String.fromCodePoint(parseInt(hex, 16)));
}

function loadVectors(file) {
  const out = [];
  let category = 'uncategorised';
  for (const raw of fs.readFileSync(file, 'utf8').split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (!line.trim()) continue;
    if (line.startsWith('#')) {
      const m = /^#\s*category:\s*(.+)$/.exec(line);
      if (m) category = m[1].trim();
      continue;
    }
    out.push({ n: out.length + 1, category, source: line, text: decodeLine(line) });
  }
  return out;
}

// What the server refuses in a reader's text (src/domain/text.rs): a control character
// other than tab and line breaks, or a Unicode noncharacter.
function hasUnprintable(text) {
  for (const ch of text) {
    const c = ch.codePointAt(0);
    if ((c < 0x20 && c !== 9 && c !== 10 && c !== 13) || (c >= 0x7f && c <= 0x9f)) return true;
    if ((c >= 0xfdd0 && c <= 0xfdef) || (c & 0xfffe) === 0xfffe) return true;
  }
  return false;
}
const chars = (s) => [...s].length;

// Deterministic shuffle (a small LCG), so a failing run repeats exactly.
function shuffled(list, seed) {
  const a = list.slice();
  let s = seed >>> 0 || 1;
  for (let i = a.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

// Bundles of the vectors that fit a many-vector field, each at most `max` characters,
// every vector once per pass; each pass in another order so neighbours differ (a vector
// that opens a code block swallows the next ones in its bundle, not in every bundle).
const madeMarkers = new Set(); // every bundle's marker
const seenMarkers = new Set(); // those some page showed
const usedMarkers = new Set(); // those a form stored (303)
const noteMarkers = (html) => {
  for (const m of html.matchAll(/xss [a-z-]+ bundle \d+/g)) seenMarkers.add(m[0]);
};

function bundles(vectors, max, passes, label) {
  const fit = vectors.filter((v) => chars(v.text) <= max - 80 && !hasUnprintable(v.text));
  const out = [];
  for (let pass = 0; pass < passes; pass++) {
    let cur = [];
    let len = 0;
    const flush = () => {
      if (!cur.length) return;
      const marker = `xss ${label} bundle ${out.length + 1}`;
      madeMarkers.add(marker);
      out.push({ marker, vectors: cur, text: `${marker}\n\n${cur.map((v) => v.text).join('\n\n')}\n\n${marker} end` });
      cur = [];
      len = 0;
    };
    for (const v of shuffled(fit, 7 + pass * 101)) {
      const add = chars(v.text) + 2;
      if (len + add > max - 80) flush();
      cur.push(v);
      len += add;
    }
    flush();
  }
  return out;
}

// ---------------------------------------------------------------------------
// HTTP through the browser contexts (so cookies are shared with the pages).

let ipCounter = 0;
// Each post names a new client address (the server trusts 127.0.0.1's X-Forwarded-For).
function nextIp() {
  ipCounter++;
  return `198.18.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

function encodeForm(fields) {
  const p = new URLSearchParams();
  for (const [k, v] of fields) p.append(k, v);
  return p.toString();
}

const refusedPages = []; // { where, html, at, vectors }

// POSTs a form (pairs or an object) through `ctx.request`, without following redirects.
async function post(ctx, p, fields, { field, vectors = [], expectRefusal = false } = {}) {
  const pairs = Array.isArray(fields) ? fields : Object.entries(fields);
  const res = await ctx.request.post(url(p), {
    data: encodeForm(pairs),
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': nextIp() },
    maxRedirects: 0,
    failOnStatusCode: false,
    timeout: NAV_TIMEOUT_MS,
  });
  stats.posts++;
  const status = res.status();
  if (field) {
    const f = (stats.byField[field] = stats.byField[field] || { n: 0, statuses: {} });
    f.n++;
    f.statuses[status] = (f.statuses[status] || 0) + 1;
    if (vectors.length === 1) (f.byVector = f.byVector || {})[vectors[0].n] = status;
  }
  stats.statuses[status] = (stats.statuses[status] || 0) + 1;
  if (status === 303) for (const [, v] of pairs) for (const m of String(v).matchAll(/xss [a-z-]+ bundle \d+/g)) usedMarkers.add(m[0]);
  const type = res.headers()['content-type'] || '';
  const body = status >= 300 && status < 400 ? '' : await res.text().catch(() => '');
  if (status >= 500) {
    finding('5xx', `POST ${p} (${field})`, `answered ${status}: ${body.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(0, 200)}`, vectors.map((v) => v.source));
  } else if (status === 429) {
    finding('rate-limited', `POST ${p} (${field})`, `answered 429 (is KINTSUGI_TRUSTED_PROXIES=127.0.0.1 set?)`, vectors.map((v) => v.source));
  } else if (status >= 400) {
    stats.refused++;
    if (!/^text\/html/i.test(type) || !/<html/i.test(body)) {
      finding('unfriendly-4xx', `POST ${p} (${field})`, `answered ${status} with ${type || 'no content type'}, not an HTML page: ${JSON.stringify(body.slice(0, 120))}`, vectors.map((v) => v.source));
    } else {
      // The page that says what to fix shows the refused text again: it is checked too.
      refusedPages.push({ where: `${status} answer to POST ${p} (${field})`, html: body, at: p, vectors });
    }
    if (vectors.length > 1 || !expectRefusal) {
      // Why a bundle (or a post meant to pass) was refused, for the log.
      const why = [...body.matchAll(/class="(?:field__error|form-problem)"[^>]*>([^<]*)</g)].map((m) => m[1].trim()).filter(Boolean);
      (stats.refusals = stats.refusals || []).push(`${field}: ${status} ${why.join(' / ').slice(0, 200)}`);
    }
  }
  return { status, location: res.headers()['location'] || '', body };
}

async function get(ctx, p) {
  const res = await ctx.request.get(url(p), { failOnStatusCode: false, timeout: NAV_TIMEOUT_MS, maxRedirects: 0 });
  const status = res.status();
  if (status >= 500) finding('5xx', `GET ${p}`, `answered ${status}`);
  return { status, text: await res.text().catch(() => ''), location: res.headers()['location'] || '' };
}

const attr = (html, re) => (re.exec(html) || [])[1] || '';
const formToken = (html) => attr(html, /name="token" value="([^"]*)"/);
const csrfOf = (html) => attr(html, /name="csrf" value="([^"]*)"/);

// ---------------------------------------------------------------------------
// The render checks.

// Installed in every frame before any page script: records dialogs and __xss.
const TRAP = `(() => {
  const hits = [];
  Object.defineProperty(window, '__xssHits', { value: hits, configurable: false });
  for (const name of ['alert', 'confirm', 'prompt', 'print']) {
    const orig = window[name];
    try {
      Object.defineProperty(window, name, { configurable: false, writable: false, value: function (...a) { hits.push(name + '(' + String(a[0]).slice(0, 60) + ')'); if (name !== 'print') { try { return orig.apply(this, a); } catch (e) {} } } });
    } catch (e) {}
  }
  let xss;
  Object.defineProperty(window, '__xss', { configurable: false, get() { return xss; }, set(v) { xss = v; hits.push('window.__xss = ' + String(v).slice(0, 60)); } });
})();`;

// Runs in the page: every markup problem, as strings.
function domProblems() {
  const out = [];
  const allowedScript = /^\/static\/js\/(reply|timezone)\.[0-9a-f]{6,}\.js$/;
  const okSchemes = new Set(['http', 'https', 'mailto']);
  const urlAttrs = ['href', 'src', 'action', 'formaction', 'xlink:href', 'poster', 'data', 'background', 'dynsrc', 'lowsrc', 'cite', 'ping', 'codebase', 'longdesc', 'manifest', 'icon', 'profile', 'usemap', 'classid', 'archive', 'code', 'itemtype', 'to', 'from', 'values', 'by'];
  const describe = (el) => {
    const h = el.outerHTML;
    return h.length > 160 ? h.slice(0, 160) + '…' : h;
  };
  const schemeOf = (value) => {
    // As the URL parser reads it: leading/trailing C0 controls and spaces dropped, tabs and newlines removed.
    const v = value.replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, '').replace(/[\t\n\r]/g, '');
    const m = /^([a-zA-Z][a-zA-Z0-9+.\-]*):/.exec(v);
    return m ? m[1].toLowerCase() : null;
  };
  const all = document.querySelectorAll('*');
  for (const el of all) {
    const tag = el.localName;
    for (const a of el.attributes) {
      const name = a.name.toLowerCase();
      if (name.startsWith('on')) out.push(`event handler attribute ${a.name} on ${describe(el)}`);
      if (name === 'srcdoc') out.push(`srcdoc on ${describe(el)}`);
      if (name === 'style') out.push(`style attribute on ${describe(el)}`);
      const local = name.includes(':') ? name : name;
      if (urlAttrs.includes(local) || (name.endsWith(':href'))) {
        if (['to', 'from', 'values', 'by'].includes(local) && !el.closest('svg')) continue;
        if (local === 'data' && tag !== 'object') continue;
        if (local === 'code' && tag !== 'applet' && tag !== 'embed') continue;
        if (local === 'values') {
          for (const part of a.value.split(';')) {
            const s = schemeOf(part);
            if (s && !okSchemes.has(s)) out.push(`${a.name}="${a.value.slice(0, 80)}" (scheme ${s}:) on ${describe(el)}`);
          }
          continue;
        }
        const s = schemeOf(a.value);
        if (s && !okSchemes.has(s)) out.push(`${a.name}="${a.value.slice(0, 80)}" (scheme ${s}:) on ${describe(el)}`);
      }
      if (name === 'srcset' || name === 'imagesrcset') {
        for (const part of a.value.split(',')) {
          const s = schemeOf(part.trim().split(/\s+/)[0] || '');
          if (s && !okSchemes.has(s)) out.push(`${a.name} with scheme ${s}: on ${describe(el)}`);
        }
      }
    }
    if (tag === 'script') {
      const src = el.getAttribute('src');
      if (src !== null) {
        let p = null;
        try {
          const u = new URL(src, location.href);
          if (u.origin === location.origin) p = u.pathname;
        } catch {}
        if (!p || !allowedScript.test(p)) out.push(`<script src="${src.slice(0, 80)}"> is not one of the site's own scripts`);
      } else if ((el.getAttribute('type') || '').toLowerCase() === 'application/ld+json') {
        try {
          JSON.parse(el.textContent);
        } catch (e) {
          out.push(`JSON-LD <script> does not parse as JSON (markup broke into it?): ${el.textContent.slice(0, 120)}`);
        }
      } else {
        out.push(`inline <script>: ${describe(el)}`);
      }
    }
    if (['iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'base', 'portal', 'style', 'isindex', 'bgsound'].includes(tag)) {
      out.push(`<${tag}> element: ${describe(el)}`);
    }
    if (tag === 'meta' && (el.hasAttribute('http-equiv') || el.hasAttribute('charset')) && el.closest('body')) {
      out.push(`<meta> in the body: ${describe(el)}`);
    }
    if (tag === 'meta' && /refresh/i.test(el.getAttribute('http-equiv') || '')) out.push(`<meta http-equiv=refresh>: ${describe(el)}`);
    if (tag === 'link' && el.closest('body')) out.push(`<link> in the body: ${describe(el)}`);
    if (tag === 'form') {
      const action = el.getAttribute('action');
      if (action !== null) {
        try {
          const u = new URL(action, location.href);
          if (u.origin !== location.origin) out.push(`a form posts to another site: ${describe(el)}`);
        } catch {}
      }
    }
  }
  if (document.querySelectorAll('base').length) out.push('<base> element');
  const text = document.body ? document.body.innerText || '' : '';
  if (/1337/.test(text)) out.push(`"1337" is on the page: a template evaluated {{7*191}}? …${text.slice(Math.max(0, text.indexOf('1337') - 60), text.indexOf('1337') + 20)}…`);
  return out;
}

// Pages to render in: a few per browser context, used in turn (renders run in parallel).
const CONCURRENCY = Number(process.env.XSS_CONCURRENCY || 3);
const pools = new Map(); // ctx -> [{ page, dialogs, busy }]
const waiters = [];

async function withPage(ctx, fn) {
  let pool = pools.get(ctx);
  if (!pool) pools.set(ctx, (pool = []));
  for (;;) {
    let slot = pool.find((s) => !s.busy);
    if (!slot && pool.length < CONCURRENCY) {
      slot = { page: null, dialogs: [], busy: true };
      pool.push(slot);
      slot.page = await ctx.newPage();
      slot.page.on('dialog', (d) => {
        slot.dialogs.push(`${d.type()}(${d.message().slice(0, 60)})`);
        d.dismiss().catch(() => {});
      });
      slot.page.on('popup', (p) => {
        slot.dialogs.push(`a popup window opened: ${p.url().slice(0, 100)}`);
        p.close().catch(() => {});
      });
    }
    if (slot) {
      slot.busy = true;
      try {
        return await fn(slot.page, slot);
      } finally {
        slot.busy = false;
        const next = waiters.shift();
        if (next) next();
      }
    }
    await new Promise((r) => waiters.push(r));
  }
}

// Runs the thunks, at most CONCURRENCY at a time.
async function parallel(thunks, n = CONCURRENCY) {
  let i = 0;
  const worker = async () => {
    while (i < thunks.length) await thunks[i++]();
  };
  await Promise.all(Array.from({ length: Math.min(n, thunks.length) }, worker));
}

// Which vectors a page holds (to name them in a finding): those whose text appears in it.
function vectorsIn(html, pool) {
  return pool.filter((v) => v.text.length > 6 && html.includes(v.text)).map((v) => v.source);
}

let allVectors = [];

async function inspectCurrent(page, slot, where, htmlForBlame = '', expected = '') {
  stats.renders++;
  await page.waitForTimeout(SETTLE_MS);
  let problems = [];
  let hits = [];
  try {
    problems = await page.evaluate(domProblems);
    hits = await page.evaluate(() => (window.__xssHits || []).slice());
    for (const f of page.frames()) {
      if (f === page.mainFrame()) continue;
      problems.push(`a frame was created: ${f.url().slice(0, 100)}`);
      const fh = await f.evaluate(() => (window.__xssHits || []).slice()).catch(() => []);
      hits.push(...fh.map((h) => `in a frame: ${h}`));
    }
  } catch (err) {
    problems.push(`the page could not be inspected (navigated away?): ${String(err.message).split('\n')[0]}`);
  }
  const executed = [...hits, ...slot.dialogs.splice(0)];
  const now = page.url().split('#')[0];
  if (expected && now !== expected) executed.push(`the page navigated away to ${now.slice(0, 120)} (meta refresh or script?)`);
  if (executed.length || problems.length) {
    const html = htmlForBlame || (await page.content().catch(() => ''));
    fs.mkdirSync(FINDINGS_DIR, { recursive: true });
    const file = path.join(FINDINGS_DIR, `${findings.length + 1}-${where.replace(/[^a-zA-Z0-9]+/g, '-').slice(0, 80)}.html`);
    fs.writeFileSync(file, html);
    const blame = (text) => {
      // The vectors whose text shows in the offending markup, else those in the page.
      const hitsHere = allVectors.filter((v) => v.text.length > 6 && text && v.text.includes(text.slice(0, 40))).map((v) => v.source);
      return hitsHere.length ? hitsHere : vectorsIn(html, allVectors);
    };
    for (const e of executed) finding('executed', where, `${e} (page saved as ${path.relative(HERE, file)})`, vectorsIn(html, allVectors));
    for (const p of problems.slice(0, 20)) finding('markup', where, `${p} (page saved as ${path.relative(HERE, file)})`, blame(p.replace(/^.*?</, '<')));
    if (problems.length > 20) finding('markup', where, `… and ${problems.length - 20} more problem(s)`);
  }
}

// Opens a real address and checks it; `after(page)` may act on it (and is checked again).
async function render(ctx, p, label = p, after = null) {
  return withPage(ctx, async (page, slot) => {
    let res;
    try {
      res = await page.goto(url(p), { waitUntil: 'load', timeout: NAV_TIMEOUT_MS });
    } catch (err) {
      finding('load', label, `could not be opened: ${String(err.message).split('\n')[0]}`);
      return null;
    }
    const status = res ? res.status() : 0;
    if (status >= 500) finding('5xx', `GET ${p}`, `answered ${status}`);
    stats.pages++;
    const html = res ? await res.text().catch(() => '') : '';
    noteMarkers(html);
    const at = page.url().split('#')[0];
    await inspectCurrent(page, slot, label, html, at);
    if (after) await after(page, slot, at);
    return { status, html };
  });
}

// Shows `html` at the site address `at` (so its stylesheets and scripts load from the
// server as they would) and checks it: for answers to POSTs, feed contents and emails.
async function renderHtml(ctx, html, at, label) {
  return withPage(ctx, async (page, slot) => {
    const target = new URL(url(at));
    target.hash = '';
    target.searchParams.set('xss-replay', String(stats.renders));
    const href = target.href;
    const handler = (route) => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html });
    await page.route(href, handler);
    try {
      await page.goto(href, { waitUntil: 'load', timeout: NAV_TIMEOUT_MS });
      await inspectCurrent(page, slot, label, html, href);
    } catch (err) {
      finding('load', label, `could not be shown: ${String(err.message).split('\n')[0]}`);
    } finally {
      await page.unroute(href, handler).catch(() => {});
    }
  });
}

// Every page of a paginated listing: follows links to the same path with another page number.
async function renderAllPages(ctx, start, param, label, after = null) {
  const seen = new Set();
  const queue = [start];
  let n = 0;
  while (queue.length) {
    const p = queue.shift();
    if (seen.has(p)) continue;
    seen.add(p);
    const r = await render(ctx, p, `${label} ${p}`, after);
    n++;
    if (!r) continue;
    const base = new URL(url(start));
    for (const m of r.html.matchAll(/href="([^"]+)"/g)) {
      const href = m[1].replace(/&amp;/g, '&');
      let u;
      try {
        u = new URL(href, url(p));
      } catch {
        continue;
      }
      if (u.origin !== ORIGIN || u.pathname !== base.pathname || !u.searchParams.has(param)) continue;
      u.hash = '';
      const rel = u.pathname + u.search;
      if (!seen.has(rel)) queue.push(rel);
    }
  }
  return n;
}

// ---------------------------------------------------------------------------

async function main() {
  console.log(`Kintsugi XSS check against ${BASE_URL}${SHORT ? ' (XSS_SHORT: one-value fields get a sample)' : ''}`);
  if (!fs.existsSync(CHROMIUM_PATH)) {
    console.error(`✗ ${CHROMIUM_PATH} not found (apt-get install -y chromium)`);
    return 1;
  }
  if (!ADMIN_EMAIL || !ADMIN_PASSWORD || !OUTBOX_DIR) {
    console.error('✗ ADMIN_EMAIL, ADMIN_PASSWORD and OUTBOX_DIR are required (see the top of xss.mjs)');
    return 1;
  }
  try {
    await fetch(url('/readyz'), { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    console.error(`✗ cannot reach the server at ${BASE_URL}: ${err.cause?.code || err.message}`);
    return 1;
  }
  fs.rmSync(FINDINGS_DIR, { recursive: true, force: true });

  const vectors = loadVectors(VECTORS_FILE);
  allVectors = vectors;
  const categories = [...new Set(vectors.map((v) => v.category))];
  console.log(`corpus: ${vectors.length} vectors in ${categories.length} categories (${path.relative(process.cwd(), VECTORS_FILE) || VECTORS_FILE})`);
  // The one-value fields' vectors: all, or an evenly spread sample (every category kept).
  const sample = SHORT ? vectors.filter((_, i) => i % Math.ceil(vectors.length / SHORT_SAMPLE) === 0) : vectors;

  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kintsugi-xss-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    bypassCSP: true,
    viewport: { width: 1280, height: 800 },
  });
  const browser = context.browser();
  const newCtx = async () => {
    const c = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 800 } });
    await c.addInitScript(TRAP);
    c.setDefaultTimeout(NAV_TIMEOUT_MS);
    // Only the server under test is reached; anything else fails at once (and fires onerror).
    await c.route((u) => !u.href.startsWith(ORIGIN) && !u.href.startsWith('about:') && !u.href.startsWith('data:'), (r) => r.abort());
    return c;
  };
  try {
    const reader = await newCtx(); // posts comments and requests; keeps the own-comments cookie
    const visitor = await newCtx(); // no cookies
    const coach = await newCtx(); // signed in
    await run({ vectors, sample, reader, visitor, coach, newCtx });
  } catch (err) {
    finding('crash', 'xss.mjs', err && err.stack ? err.stack.split('\n').slice(0, 6).join(' | ') : String(err));
  } finally {
    await context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
  return summary(vectors);
}

// The harness must see what it looks for: a page with raw payloads is shown first and
// every kind of problem must be reported (those findings are then set aside).
async function selfTest(ctx) {
  const before = findings.length;
  const canary = '<!doctype html><html><head><title>canary</title></head><body>' +
    '<img src=x onerror=alert(1)><svg><animate onbegin="window.__xss=1" attributeName=x dur=1s></animate></svg>' +
    '<a href="java\tscript:alert(1)">x</a><iframe srcdoc="<p>x</p>"></iframe><script>confirm(1)</script></body></html>';
  quiet = true;
  await renderHtml(ctx, canary, '/xss-self-test', 'self-test');
  quiet = false;
  const seen = findings.splice(before);
  fs.rmSync(FINDINGS_DIR, { recursive: true, force: true });
  const want = ['alert(', 'window.__xss', 'confirm(', 'onerror', 'javascript', '<iframe>', 'srcdoc', 'inline <script>'];
  const missing = want.filter((w) => !seen.some((f) => f.detail.includes(w)));
  if (missing.length) finding('harness', 'self-test', `the checks did not see ${missing.join(', ')} on a page with raw payloads`);
  else console.log(`self-test: the checks see raw payloads (${seen.length} problems on the canary page)`);
}

async function run({ vectors, sample, reader, visitor, coach, newCtx }) {
  await selfTest(visitor);
  // Articles (from the sitemap).
  const sitemap = await get(visitor, '/sitemap.xml');
  const slugs = [...new Set([...sitemap.text.matchAll(/\/articles\/([a-z0-9-]+)</g)].map((m) => m[1]))];
  if (!slugs.length) throw new Error('no /articles/{slug} in /sitemap.xml');
  console.log(`articles: ${slugs.length}`);

  // ---- 1. Comments: names one per comment, bodies in bundles, a third of them replies.
  const t1 = Date.now();
  const bodyBundles = bundles(vectors, BUNDLE_CHARS, SHORT ? 1 : 2, 'comment');
  const names = sample.filter((v) => chars(v.text.trim()) <= LIMITS.name && !hasUnprintable(v.text) && v.text.trim());
  const badNames = sample.filter((v) => !names.includes(v));
  const count = Math.max(names.length, bodyBundles.length);
  const posted = []; // { id, slug, vectors }
  const lastOn = {}; // slug -> ids posted there
  const tokenFor = async (ctx, slug) => formToken((await get(ctx, `/articles/${slug}`)).text);
  // The coach signs in first: replies can only answer published comments, so the
  // top-level comments are approved before the replies are posted.
  const login = await get(coach, '/admin/login');
  const signIn = await post(coach, '/admin/login', { token: formToken(login.text), next: '/admin', email: ADMIN_EMAIL, password: ADMIN_PASSWORD }, { field: 'admin sign-in' });
  if (signIn.status !== 303) throw new Error(`signing in as ${ADMIN_EMAIL} answered ${signIn.status}`);
  const csrf = csrfOf((await get(coach, '/admin')).text);
  let approvedPosts = 0;
  const approveAll = async (ids) => {
    for (let i = 0; i < ids.length; i += 100) {
      const chunk = ids.slice(i, i + 100);
      const pairs = [['csrf', csrf], ['back', '/admin/comments'], ['action', 'approve'], ...chunk.map((id) => ['ids', String(id)])];
      let r = await post(coach, '/admin/comments/bulk', pairs, { field: 'admin bulk approve' });
      if (r.status === 200) {
        // Urgent ones among them: the page asks first (it lists them: checked too).
        await renderHtml(coach, r.body, '/admin/comments/bulk', 'approve-urgent confirmation page');
        r = await post(coach, '/admin/comments/bulk', [...pairs, ['confirmed', '1']], { field: 'admin bulk approve (confirmed)' });
      }
      if (r.status === 303) approvedPosts++;
      else finding('post', 'bulk approve', `answered ${r.status}`);
    }
  };
  const postComment = async (i, parent) => {
    const slug = slugs[i % slugs.length];
    const nameV = names[i % names.length];
    const bundle = bodyBundles[i % bodyBundles.length];
    const body = i < bodyBundles.length ? bundle.text : `${bundle.text}\n\n(again ${i})`;
    const fields = {
      name: i < names.length ? nameV.text : `Reader ${i}`,
      email: `xss-c${i}@example.com`,
      body,
      token: await tokenFor(reader, slug),
      website: '',
      ...(parent ? { parent: String(parent) } : {}),
      ...(i % 7 === 0 ? { notify: '1' } : {}),
    };
    let r = await post(reader, `/articles/${slug}/comments`, fields, { field: parent ? 'reply name+body' : 'comment name+body', vectors: [nameV, ...bundle.vectors] });
    if (r.status === 422 && i < names.length) {
      // The name was refused (that page is checked): the body goes again under a plain name.
      r = await post(reader, `/articles/${slug}/comments`, { ...fields, name: `Reader ${i}`, token: await tokenFor(reader, slug) }, { field: parent ? 'reply body' : 'comment body', vectors: bundle.vectors });
    }
    const id = Number((/#comment-(\d+)/.exec(r.location) || [])[1]);
    if (r.status === 303 && id) {
      posted.push({ id, slug, parent, vectors: [nameV, ...bundle.vectors] });
      if (!parent) (lastOn[slug] = lastOn[slug] || []).push(id);
    } else {
      finding('post', `comment ${i} on ${slug}${parent ? ` (a reply to #${parent})` : ''}`, `answered ${r.status}, expected 303`);
    }
  };
  // Two thirds top-level comments, then (once those are approved) a third replies.
  for (let i = 0; i < count; i++) if (i % 3 !== 2) await postComment(i, null);
  // The moderation queue as the coach first sees it: every page of Pending, Urgent, Private.
  await parallel(['pending', 'urgent', 'private'].map((tab) => () => renderAllPages(coach, `/admin/comments?tab=${tab}`, 'page', `queue (${tab})`)));
  await approveAll(posted.map((c) => c.id));
  for (let i = 0; i < count; i++) {
    if (i % 3 !== 2) continue;
    const earlier = lastOn[slugs[i % slugs.length]] || [];
    await postComment(i, earlier.length ? earlier[i % earlier.length] : null);
  }
  // Names the server must refuse (too long, control characters), and one-vector bodies
  // that cannot share a bundle (over-length, unprintable).
  const loneBodies = vectors.filter((v) => chars(v.text) > BUNDLE_CHARS - 80 || hasUnprintable(v.text));
  for (const v of badNames) {
    await post(reader, `/articles/${slugs[0]}/comments`, { name: v.text, email: 'xss-bad@example.com', body: `name test ${v.n}`, token: await tokenFor(reader, slugs[0]) }, { field: 'comment name (refused)', vectors: [v], expectRefusal: true });
  }
  for (const v of loneBodies) {
    const r = await post(reader, `/articles/${slugs[1 % slugs.length]}/comments`, { name: 'Lone', email: 'xss-lone@example.com', body: v.text, token: await tokenFor(reader, slugs[1 % slugs.length]) }, { field: 'comment body (alone)', vectors: [v], expectRefusal: true });
    const id = Number((/#comment-(\d+)/.exec(r.location) || [])[1]);
    if (r.status === 303 && id) posted.push({ id, slug: slugs[1 % slugs.length], vectors: [v] });
    if (chars(v.text.replace(/\r\n/g, '\n').trim()) > LIMITS.body && r.status < 400) finding('over-length', `comment body of ${chars(v.text)} characters`, `answered ${r.status}, expected a 4xx refusal`, [v.source]);
  }
  // Every field of the comment form at once, with a vector that is no email: the
  // refused form (422) shows name, email and text again, and is checked.
  for (const v of sample) {
    await post(reader, `/articles/${slugs[2 % slugs.length]}/comments`, { name: v.text, email: v.text, body: v.text, parent: v.text, token: await tokenFor(reader, slugs[2 % slugs.length]) }, { field: 'comment form reflected (422)', vectors: [v], expectRefusal: true });
  }
  // A few private questions ("ask privately": only the coach sees them).
  for (let i = 0; i < Math.min(4, bodyBundles.length); i++) {
    const r = await post(reader, `/articles/${slugs[3 % slugs.length]}/comments`, { name: names[i].text, email: `xss-p${i}@example.com`, body: `${bodyBundles[i].text}\n\n(private ${i})`, private: '1', token: await tokenFor(reader, slugs[3 % slugs.length]) }, { field: 'private question', vectors: bodyBundles[i].vectors });
    const id = Number((/#comment-(\d+)/.exec(r.location) || [])[1]);
    if (id) posted.push({ id, slug: slugs[3 % slugs.length], vectors: bodyBundles[i].vectors, private: true });
  }
  // The reader changes their own comments (within the 15 minutes, with their cookie).
  const editBundles = bundles(vectors, BUNDLE_CHARS, 1, 'reader-edit');
  const ownEdited = [];
  const own = posted.filter((c) => !c.private).slice(-editBundles.length * 2);
  for (let i = 0; i < editBundles.length && i < own.length; i++) {
    const c = own[own.length - 1 - i];
    const form = await get(reader, `/comments/${c.id}/edit`);
    if (form.status !== 200) {
      finding('post', `reader edit of #${c.id}`, `GET /comments/${c.id}/edit answered ${form.status} (the reader's cookie holds only recent comments?)`);
      continue;
    }
    const r = await post(reader, `/comments/${c.id}/edit`, { body: editBundles[i].text }, { field: "reader's edit", vectors: editBundles[i].vectors });
    if (r.status === 303) ownEdited.push(c.id);
  }
  console.log(`comments: ${posted.length} stored (${count} posted with names and bundles, ${badNames.length} refused names, ${loneBodies.length} lone bodies, ${sample.length} reflected forms, ${ownEdited.length} edited by the reader) in ${secs(t1)}`);

  // ---- 2. Coaching requests: a name, a situation bundle and the hidden article per request.
  const t2 = Date.now();
  const situationBundles = bundles(vectors, BUNDLE_CHARS * 2, 1, 'situation');
  const messageBundles = bundles(vectors, BUNDLE_CHARS * 2, 1, 'message');
  const requests = []; // { n, email, vectors }
  // Messages the server must refuse (over-length, unprintable) each go to a request of their own
  // (a request takes one message per 15 s).
  const refusedMessages = vectors.filter((x) => chars(x.text) > LIMITS.message || hasUnprintable(x.text));
  const requestCount = Math.max(situationBundles.length, messageBundles.length + refusedMessages.length + 1, SHORT ? 12 : names.length);
  const coachingToken = async () => formToken((await get(reader, '/coaching')).text);
  const choices = { option: 'written-plan', ended_by: 'they-did', together_for: '1-to-3-years', ended_ago: 'under-a-month', contact_now: 'occasional', hope: 'not-sure', talk_via: 'email', time_zone: '', adult: '1', consent: '1', website: '', no_contact_since: '', comment: '' };
  // The hidden article field is stored when it is short, printable text (a NUL in any field
  // makes the whole form a 400: those vectors are in the refused-form posts below).
  const articleVectors = sample.filter((v) => !hasUnprintable(v.text) && chars(v.text.trim()) <= 200 && v.text.trim());
  for (let i = 0; i < requestCount; i++) {
    const nameV = names[i % names.length];
    const articleV = articleVectors[i % articleVectors.length];
    const bundle = situationBundles[i % situationBundles.length];
    const email = `xss-r${i}@example.com`;
    const fields = {
      ...choices,
      token: await coachingToken(),
      name: nameV.text,
      email,
      situation: i < situationBundles.length ? bundle.text : `${bundle.text}\n\n(again ${i})`,
      article: articleV.text,
      comment: posted.length ? String(posted[i % posted.length].id) : '',
    };
    let r = await post(reader, '/coaching', fields, { field: 'coaching name+situation+article', vectors: [nameV, articleV, ...bundle.vectors] });
    if (r.status === 422) r = await post(reader, '/coaching', { ...fields, name: `Reader ${i}`, token: await coachingToken() }, { field: 'coaching situation+article', vectors: [articleV, ...bundle.vectors] });
    if (r.status === 303) requests.push({ n: i, email, vectors: [nameV, articleV, ...bundle.vectors] });
    else finding('post', `coaching request ${i}`, `answered ${r.status}, expected 303`);
  }
  // Every field of the form holding one vector: refused (422), everything shown again.
  for (const v of sample) {
    const all = Object.fromEntries(Object.keys(choices).map((k) => [k, v.text]));
    await post(reader, '/coaching', { ...all, website: '', token: await coachingToken(), name: v.text, email: v.text, situation: v.text, article: v.text, comment: v.text }, { field: 'coaching form reflected (422)', vectors: [v], expectRefusal: true });
  }
  // Over-length situations.
  for (const v of vectors.filter((x) => chars(x.text) > LIMITS.situation)) {
    const r = await post(reader, '/coaching', { ...choices, token: await coachingToken(), name: 'Long', email: 'xss-long@example.com', situation: v.text }, { field: 'coaching situation (over-length)', vectors: [v], expectRefusal: true });
    if (r.status < 400) finding('over-length', `coaching situation of ${chars(v.text)} characters`, `answered ${r.status}, expected a 4xx refusal`, [v.source]);
  }
  // The thank-you page, and its "send the link again" with a vector for an email.
  await render(reader, '/coaching/thanks', 'thank-you page');
  const thanks = await get(reader, '/coaching/thanks');
  for (const v of sample.slice(0, SHORT ? 12 : sample.length)) {
    const tok = attr(thanks.text, /name="form_token" value="([^"]*)"/);
    await post(reader, '/coaching/resend', { form_token: tok, email: v.text }, { field: 'resend-link email', vectors: [v], expectRefusal: true });
  }
  console.log(`coaching requests: ${requests.length} stored, ${sample.length} reflected forms, in ${secs(t2)}`);

  // ---- 3. Status pages (the private link from the reader's email) and their messages.
  const t3 = Date.now();
  const statusPaths = [];
  const until = Date.now() + 20_000;
  for (const r of requests) {
    let link = null;
    while (!link) {
      link = statusLinkFor(r.email);
      if (link || Date.now() > until) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    if (!link) {
      finding('mail', `request ${r.n}`, `no request-received mail to ${r.email} in ${OUTBOX_DIR}`);
      continue;
    }
    r.status = link;
    statusPaths.push(link);
  }
  let messages = 0;
  const withLink = requests.filter((r) => r.status);
  // Each request's page takes one message: first the bundles, then (all vectors mode)
  // single vectors; the last requests take the messages that must be refused.
  const singles = SHORT ? [] : sample;
  const open = Math.max(0, withLink.length - refusedMessages.length - 1); // one left for the over-length check
  for (let i = 0; i < open && i < messageBundles.length + singles.length; i++) {
    const r = withLink[i];
    const pageHtml = (await get(reader, r.status)).text;
    const tok = attr(pageHtml, /name="form_token" value="([^"]*)"/);
    const one = i >= messageBundles.length ? singles[i - messageBundles.length] : null;
    const text = one ? one.text : messageBundles[i].text;
    const vs = one ? [one] : messageBundles[i].vectors;
    const res = await post(reader, `${r.status}/messages`, { form_token: tok, body: text }, { field: 'status-page message', vectors: vs });
    r.messaged = true;
    if (res.status === 303) messages++;
  }
  refusedMessages.forEach((v, k) => {
    const r = withLink[withLink.length - 1 - k];
    if (r) r.refuse = v;
  });
  for (const r of withLink.filter((x) => x.refuse)) {
    const v = r.refuse;
    const tok = attr((await get(reader, r.status)).text, /name="form_token" value="([^"]*)"/);
    const res = await post(reader, `${r.status}/messages`, { form_token: tok, body: v.text }, { field: 'status-page message (refused)', vectors: [v], expectRefusal: true });
    if (chars(v.text) > LIMITS.message && res.status < 400) finding('over-length', `status-page message of ${chars(v.text)} characters`, `answered ${res.status}, expected a 4xx refusal`, [v.source]);
  }
  console.log(`status pages: ${statusPaths.length}, messages: ${messages}, in ${secs(t3)}`);

  // ---- 4. The coach: signs in, approves every held comment, replies, edits, answers requests.
  const t4 = Date.now();
  // Every comment still held (the replies, the lone ones) is approved too.
  await approveAll(posted.filter((c) => !c.private).map((c) => c.id));
  // Coach replies (bundles) to comments, an edit or two, as the coach.
  const replyBundles = bundles(vectors, BUNDLE_CHARS, 1, 'coach-reply');
  const replied = [];
  const public_ = posted.filter((c) => !c.private);
  for (let i = 0; i < replyBundles.length; i++) {
    const c = public_[(i * 7) % public_.length];
    const r = await post(coach, `/admin/comments/${c.id}/reply`, { csrf, back: `/admin/comments/${c.id}`, body: replyBundles[i].text }, { field: 'coach reply to a comment', vectors: replyBundles[i].vectors });
    if (r.status === 303) replied.push(c.id);
  }
  const adminEditBundles = bundles(vectors, BUNDLE_CHARS, 1, 'coach-edit');
  for (let i = 0; i < adminEditBundles.length; i++) {
    const c = posted[(i * 5 + 3) % posted.length];
    await post(coach, `/admin/comments/${c.id}/edit`, { csrf, body: adminEditBundles[i].text }, { field: "coach's edit of a comment", vectors: adminEditBundles[i].vectors });
  }
  // Refused coach forms (over-length and unprintable) show the text again.
  for (const v of vectors.filter((x) => chars(x.text) > BUNDLE_CHARS || hasUnprintable(x.text))) {
    await post(coach, `/admin/comments/${posted[0].id}/reply`, { csrf, back: `/admin/comments/${posted[0].id}`, body: v.text }, { field: 'coach reply (refused?)', vectors: [v], expectRefusal: true });
  }
  // Requests: the inbox lists them; each gets a reply and a note (bundles), the status changes.
  const requestIds = [];
  for (const p of await collect(coach, '/admin/requests', /href="\/admin\/requests\/(\d+)"/g)) requestIds.push(Number(p));
  const noteBundles = bundles(vectors, BUNDLE_CHARS * 2, 1, 'note');
  const answerBundles = bundles(vectors, BUNDLE_CHARS * 2, 1, 'request-reply');
  for (let i = 0; i < requestIds.length; i++) {
    const id = requestIds[i];
    if (i < answerBundles.length) await post(coach, `/admin/requests/${id}/reply`, { csrf, body: answerBundles[i].text }, { field: 'coach reply to a request', vectors: answerBundles[i].vectors });
    if (i < noteBundles.length) await post(coach, `/admin/requests/${id}/notes`, { csrf, body: noteBundles[i].text }, { field: 'request note', vectors: noteBundles[i].vectors });
    if (i < 3) await post(coach, `/admin/requests/${id}/status`, { csrf, status: 'plan-ready' }, { field: 'request status' });
  }
  for (const v of sample.slice(0, 8)) {
    await post(coach, `/admin/requests/${requestIds[0]}/status`, { csrf, status: v.text }, { field: 'request status (reflected)', vectors: [v], expectRefusal: true });
  }
  console.log(`coach: ${approvedPosts} bulk approvals, ${replied.length} replies, ${adminEditBundles.length} edits, ${requestIds.length} requests answered/noted, in ${secs(t4)}`);

  // ---- 4b. Every field one character over its limit, with a payload: a friendly 4xx.
  const over = (max) => `<img src=x onerror=alert(1)>${'a'.repeat(max + 1 - 28)}`;
  const overField = async (ctx, p, fields, field, expect = true) => {
    const r = await post(ctx, p, fields, { field: `${field} (one over the limit)`, vectors: [{ n: 0, source: `<img src=x onerror=alert(1)>⟨PAD:…⟩ (${field})`, text: '' }], expectRefusal: true });
    if (expect && (r.status < 400 || r.status >= 500)) finding('over-length', field, `one character over the limit answered ${r.status}, expected a 4xx refusal`);
  };
  const slug0 = slugs[0];
  await overField(reader, `/articles/${slug0}/comments`, { name: over(LIMITS.name), email: 'xss-o@example.com', body: 'over-length name', token: await tokenFor(reader, slug0) }, 'comment name');
  await overField(reader, `/articles/${slug0}/comments`, { name: 'Over', email: `${'a'.repeat(64)}@${'b'.repeat(LIMITS.email - 64 - 5)}.example`, body: 'over-length email', token: await tokenFor(reader, slug0) }, 'comment email');
  await overField(reader, `/articles/${slug0}/comments`, { name: 'Over', email: 'xss-o@example.com', body: over(LIMITS.body), token: await tokenFor(reader, slug0) }, 'comment body');
  await overField(reader, '/coaching', { ...choices, token: await coachingToken(), name: over(LIMITS.name), email: 'xss-o@example.com', situation: 'over-length name' }, 'coaching name');
  await overField(reader, '/coaching', { ...choices, token: await coachingToken(), name: 'Over', email: 'xss-o@example.com', situation: over(LIMITS.situation) }, 'coaching situation');
  const freeRequest = withLink.find((r) => !r.refuse && !r.messaged);
  if (freeRequest) {
    const tok = attr((await get(reader, freeRequest.status)).text, /name="form_token" value="([^"]*)"/);
    await overField(reader, `${freeRequest.status}/messages`, { form_token: tok, body: over(LIMITS.message) }, 'status-page message');
  }
  if (posted.length) await overField(coach, `/admin/comments/${posted.find((c) => !c.private).id}/reply`, { csrf, back: '/admin/comments', body: over(LIMITS.body) }, 'coach reply to a comment');
  if (posted.length) await overField(coach, `/admin/comments/${posted.find((c) => !c.private).id}/edit`, { csrf, body: over(LIMITS.body) }, "coach's edit of a comment");
  if (requestIds.length) {
    await overField(coach, `/admin/requests/${requestIds[0]}/reply`, { csrf, body: over(LIMITS.message) }, 'coach reply to a request');
    await overField(coach, `/admin/requests/${requestIds[0]}/notes`, { csrf, body: over(LIMITS.message) }, 'request note');
  }
  if (ownEdited.length) await overField(reader, `/comments/${ownEdited[0]}/edit`, { body: over(LIMITS.body) }, "reader's edit");

  // ---- 4c. Redirect targets a form carries (the admin's `back`, the sign-in's `next`) must
  // stay on this site: an open redirect to javascript: or another host is a finding.
  const offsite = ['//xss.invalid/', 'https://xss.invalid/', '/\\xss.invalid/', '\\\\xss.invalid', '/\t/xss.invalid/', '///xss.invalid/', 'javascript:alert(1)', ' javascript:alert(1)', 'data:text/html,<script>alert(1)</script>', 'http:xss.invalid', '/%2F/xss.invalid', '/admin/../\\xss.invalid'];
  const checkLocation = (where, target, r) => {
    if (r.status < 300 || r.status >= 400) return;
    let u;
    try {
      u = new URL(r.location, url('/admin/comments'));
    } catch {
      return finding('redirect', where, `Location ${JSON.stringify(r.location)} does not parse`, [target]);
    }
    if (u.origin !== ORIGIN) finding('redirect', where, `redirects to ${u.href} (from ${JSON.stringify(target)})`, [target]);
  };
  for (const target of offsite) {
    const r = await post(coach, '/admin/comments/bulk', { csrf, back: target, action: 'approve' }, { field: 'admin back (redirect target)', vectors: [{ n: 0, source: target, text: target }] });
    checkLocation('POST /admin/comments/bulk back=', target, r);
  }
  for (const target of offsite.slice(0, SHORT ? 4 : offsite.length)) {
    const fresh = await newCtx(); // signed out: a signed-in browser is sent on from the form
    const form = await get(fresh, `/admin/login?next=${encodeURIComponent(target)}`);
    const r = await post(fresh, '/admin/login', { token: formToken(form.text), next: target, email: ADMIN_EMAIL, password: ADMIN_PASSWORD }, { field: 'sign-in next (redirect target)', vectors: [{ n: 0, source: target, text: target }] });
    checkLocation('POST /admin/login next=', target, r);
    if (r.status !== 303) finding('post', `sign-in with next=${JSON.stringify(target)}`, `answered ${r.status}, expected 303`);
    await fresh.close();
  }
  const signer = await newCtx();
  // A vector for the sign-in email: the 401 page shows it again.
  for (const v of sample.slice(0, 8)) {
    const form = await get(signer, '/admin/login');
    await post(signer, '/admin/login', { token: formToken(form.text), next: '/admin', email: v.text, password: 'not the password' }, { field: 'sign-in email (refused)', vectors: [v], expectRefusal: true });
  }
  await signer.close();

  // ---- 5. Every page that shows them (in parallel: CONCURRENCY pages per browser context).
  const t5 = Date.now();
  const jobs = [];
  // Public article pages with every comment page, as a visitor (who also presses Reply
  // on comments: reply.js quotes the comment into the form), the reader and the coach.
  for (const slug of slugs) {
    jobs.push(() => renderAllPages(visitor, `/articles/${slug}`, 'cpage', 'article (visitor)', pressReplies));
    jobs.push(() => renderAllPages(coach, `/articles/${slug}`, 'cpage', 'article (coach)'));
  }
  for (const slug of slugs.slice(0, SHORT ? 2 : slugs.length)) jobs.push(() => renderAllPages(reader, `/articles/${slug}`, 'cpage', 'article (reader)'));
  // The reader's own edit forms.
  for (const id of ownEdited.slice(0, 4)) jobs.push(() => render(reader, `/comments/${id}/edit`, 'reader edit form'));
  // Query parameters pages show again (a fixed sample of the corpus in both modes).
  const paramSample = vectors.filter((_, i) => i % Math.ceil(vectors.length / (SHORT ? 8 : 48)) === 0);
  for (const v of paramSample) {
    const q = encodeURIComponent(v.text.slice(0, 300));
    jobs.push(() => render(visitor, `/coaching?article=${q}&option=${q}&comment=${q}`, `/coaching with vector ${v.n} in its query`));
    jobs.push(() => render(visitor, `/articles/${slugs[0]}?replyto=${q}&cpage=${q}`, `article with vector ${v.n} in replyto/cpage`));
    jobs.push(() => render(visitor, `/articles/${q}`, `404 for vector ${v.n} as an article`));
    jobs.push(() => render(visitor, `/search?q=x&page=${q}`, `search page=${v.n}`));
    jobs.push(() => render(visitor, `/admin/login?next=${q}`, `sign-in page with next=vector ${v.n}`));
    jobs.push(() => render(coach, `/admin/comments?tab=${q}&q=${q}`, `queue with tab=vector ${v.n}`));
    jobs.push(() => render(coach, `/admin/requests?status=${q}&option=${q}`, `inbox filtered by vector ${v.n}`));
  }
  // Home and search (each sample vector as the query).
  jobs.push(() => render(visitor, '/', 'home'));
  for (const v of sample) jobs.push(() => render(visitor, `/search?q=${encodeURIComponent(v.text.slice(0, 500))}`, `search for vector ${v.n}`));
  // Admin: dashboard, every tab and page of the queue, every comment page and a few edit
  // forms, the inbox and every request, the audit log, a queue search per sample vector.
  jobs.push(() => render(coach, '/admin', 'admin dashboard'));
  for (const tab of ['approved', 'all', 'unanswered', 'private', 'urgent', 'spam', 'trash']) jobs.push(() => renderAllPages(coach, `/admin/comments?tab=${tab}`, 'page', `queue (${tab})`));
  const commentPages = SHORT ? posted.filter((_, i) => i % 2 === 0) : posted;
  for (const c of commentPages) jobs.push(() => render(coach, `/admin/comments/${c.id}`, `admin comment #${c.id}`));
  for (const c of posted.slice(0, 6)) jobs.push(() => render(coach, `/admin/comments/${c.id}/edit`, `admin edit form #${c.id}`));
  for (const v of sample) jobs.push(() => render(coach, `/admin/comments?tab=all&q=${encodeURIComponent(v.text.slice(0, 200))}`, `queue search for vector ${v.n}`));
  jobs.push(() => renderAllPages(coach, '/admin/requests', 'page', 'request inbox'));
  for (const id of requestIds) jobs.push(() => render(coach, `/admin/requests/${id}`, `admin request #${id}`));
  jobs.push(() => renderAllPages(coach, '/admin/audit', 'page', 'audit log'));
  // Status pages, and the withdraw/delete pages of a few.
  for (const p of statusPaths) jobs.push(() => render(visitor, p, `status page ${p.slice(0, 20)}…`));
  for (const p of statusPaths.slice(0, 3)) {
    jobs.push(() => render(visitor, `${p}/withdraw`, 'withdraw page'));
    jobs.push(() => render(visitor, `${p}/delete`, 'delete page'));
  }
  // The pages refused forms answered with.
  for (const r of refusedPages) jobs.push(() => renderHtml(r.at.startsWith('/admin') ? coach : visitor, r.html, r.at, r.where));
  const ticker = setInterval(() => console.log(`  … ${stats.renders} renders so far (${secs(started)})`), 60_000);
  await parallel(jobs, CONCURRENCY * 3);
  clearInterval(ticker);
  console.log(`pages: ${stats.pages} opened, ${refusedPages.length} refused-form answers shown, ${stats.replyClicks} Reply buttons pressed, in ${secs(t5)}`);

  // ---- 6. Feeds.
  const t6 = Date.now();
  let inFeeds = new Set();
  for (const p of ['/comments.xml', ...slugs.map((s) => `/articles/${s}/comments.xml`), '/feed.xml']) {
    const r = await get(visitor, p);
    if (r.status !== 200) {
      finding('feed', p, `answered ${r.status}`);
      continue;
    }
    stats.feeds++;
    const parsed = await withPage(visitor, (page) => page.evaluate((xml) => {
      const doc = new DOMParser().parseFromString(xml, 'application/xml');
      const err = doc.getElementsByTagName('parsererror')[0];
      if (err) return { error: err.textContent.slice(0, 300) };
      const entries = [...doc.getElementsByTagName('entry'), ...doc.getElementsByTagName('item')];
      const structural = [];
      for (const e of entries) {
        for (const tag of ['title', 'name', 'id', 'published', 'updated']) {
          for (const el of e.getElementsByTagName(tag)) {
            if (el.children.length) structural.push(`<${tag}> has element children: ${el.innerHTML.slice(0, 100)}`);
          }
        }
        for (const el of e.getElementsByTagName('link')) {
          const href = el.getAttribute('href') || '';
          if (!/^https?:\/\//.test(href)) structural.push(`<link href="${href.slice(0, 80)}">`);
        }
      }
      return {
        structural,
        contents: entries.map((e) => {
          const c = e.getElementsByTagName('content')[0] || e.getElementsByTagName('summary')[0] || e.getElementsByTagName('description')[0];
          const type = c ? c.getAttribute('type') || 'text' : 'text';
          return { type, text: c ? c.textContent : '', title: (e.getElementsByTagName('title')[0] || {}).textContent || '', link: (e.getElementsByTagName('link')[0] || { getAttribute: () => '' }).getAttribute('href') };
        }),
      };
    }, r.text));
    if (parsed.error) {
      finding('feed', p, `not well-formed XML: ${parsed.error}`, vectorsIn(r.text, allVectors));
      continue;
    }
    for (const s of parsed.structural) finding('feed', p, s);
    noteMarkers(parsed.contents.map((c) => c.text).join('\n'));
    for (const c of parsed.contents) for (const m of String(c.link || '').matchAll(/#comment-(\d+)/g)) inFeeds.add(Number(m[1]));
    // The entries' HTML as a feed reader shows it, in one page per feed.
    const html = `<!doctype html><html><head><title>feed</title></head><body>${parsed.contents
      .map((c, i) => `<article id="entry-${i}"><h2></h2>${c.type === 'html' || c.type === 'xhtml' ? c.text : escapeHtml(c.text)}</article>`)
      .join('\n')}</body></html>`;
    await renderHtml(visitor, html, '/feed-check', `feed ${p} (${parsed.contents.length} entries, content as HTML)`);
  }
  const notInFeeds = posted.filter((c) => !c.private && !inFeeds.has(c.id)).length;
  console.log(`feeds: ${stats.feeds} parsed and rendered (${inFeeds.size} comments in them; ${notInFeeds} older ones fall outside the 50-entry feeds), in ${secs(t6)}`);

  // Every bundle must have been on some page (else its vectors proved nothing).
  const unseen = [...madeMarkers].filter((m) => !seenMarkers.has(m));
  const lost = unseen.filter((m) => usedMarkers.has(m));
  const unstored = [...madeMarkers].filter((m) => !usedMarkers.has(m));
  if (unstored.length) finding('coverage', 'bundles', `${unstored.length} bundle(s) were never stored by any form: ${unstored.slice(0, 8).join(', ')}`);
  if (lost.length) finding('coverage', 'bundles', `${lost.length} stored bundle(s) were on no page opened: ${lost.slice(0, 8).join(', ')}`);
  console.log(`coverage: ${usedMarkers.size - lost.length} of ${usedMarkers.size} stored bundles seen on the pages opened`);

  // ---- 7. Emails.
  const t7 = Date.now();
  await new Promise((r) => setTimeout(r, 1500)); // the mail worker's last writes
  const files = fs.existsSync(OUTBOX_DIR) ? fs.readdirSync(OUTBOX_DIR).filter((n) => n.endsWith('.eml')).sort() : [];
  const knownHeaders = new Set(['from', 'to', 'subject', 'date', 'message-id', 'mime-version', 'content-type', 'content-transfer-encoding', 'list-unsubscribe', 'list-unsubscribe-post', 'reply-to', 'auto-submitted', 'x-auto-response-suppress', 'precedence', 'list-id', 'references', 'in-reply-to']);
  for (const n of files) {
    const raw = fs.readFileSync(path.join(OUTBOX_DIR, n), 'latin1');
    stats.emails++;
    const head = raw.slice(0, Math.max(0, raw.search(/\r?\n\r?\n/)));
    const names = head
      .replace(/\r?\n[ \t]+/g, ' ')
      .split(/\r?\n/)
      .map((l) => l.slice(0, l.indexOf(':')).trim().toLowerCase())
      .filter(Boolean);
    const counts = {};
    for (const h of names) counts[h] = (counts[h] || 0) + 1;
    for (const [h, c] of Object.entries(counts)) {
      if (!knownHeaders.has(h)) finding('email', n, `unexpected header "${h}" (injected?)`, vectorsIn(raw, allVectors));
      if (c > 1 && h !== 'received') finding('email', n, `header "${h}" appears ${c} times (injected?)`);
    }
    const mail = parseEml(raw);
    const type = (mail.headers['content-type'] || 'text/plain').toLowerCase();
    if (type.startsWith('text/plain')) continue; // plain text: shown as text by every mail program
    if (type.startsWith('text/html')) {
      await renderHtml(visitor, mail.body, '/mail-check', `email ${n} (HTML)`);
    } else if (type.startsWith('multipart/')) {
      const boundary = (/boundary="?([^";]+)"?/i.exec(mail.headers['content-type']) || [])[1];
      for (const part of boundary ? raw.split(`--${boundary}`).slice(1, -1) : []) {
        const pm = parseEml(part.replace(/^\r?\n/, ''));
        const pt = (pm.headers['content-type'] || 'text/plain').toLowerCase();
        if (pt.startsWith('text/html')) await renderHtml(visitor, pm.body, '/mail-check', `email ${n} (HTML part)`);
        else if (!pt.startsWith('text/plain')) finding('email', n, `a part of type ${pt}`);
      }
    } else {
      finding('email', n, `content type ${type}, expected text/plain`);
    }
  }
  console.log(`emails: ${stats.emails} read from the outbox, in ${secs(t7)}`);
}

// On an article page with JavaScript: presses the first few Reply buttons (reply.js moves
// the form under the comment and quotes it) and checks the page after each.
async function pressReplies(page, slot, at) {
  const replies = page.locator('.comment__reply');
  const n = Math.min(await replies.count().catch(() => 0), 4);
  for (let i = 0; i < n; i++) {
    const link = replies.nth(i);
    try {
      await link.click({ timeout: 3_000 });
    } catch {
      continue;
    }
    stats.replyClicks++;
    await inspectCurrent(page, slot, `${at} after pressing Reply ${i + 1}`, '', '');
  }
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

// Every value `re` captures on every page of a paginated admin listing.
async function collect(ctx, start, re) {
  const out = new Set();
  const seen = new Set();
  const queue = [start];
  while (queue.length) {
    const p = queue.shift();
    if (seen.has(p)) continue;
    seen.add(p);
    const r = await get(ctx, p);
    for (const m of r.text.matchAll(re)) out.add(m[1]);
    for (const m of r.text.matchAll(/href="([^"]*[?&](?:amp;)?page=\d+[^"]*)"/g)) {
      const u = new URL(m[1].replace(/&amp;/g, '&'), url(p));
      if (u.pathname === new URL(url(start)).pathname) queue.push(u.pathname + u.search);
    }
  }
  return [...out];
}

// The private status link in the newest request-received mail to `email`.
function statusLinkFor(email) {
  let names = [];
  try {
    names = fs.readdirSync(OUTBOX_DIR).filter((n) => n.endsWith('-request-received.eml'));
  } catch {
    return null;
  }
  for (const n of names.sort().reverse()) {
    const m = parseEml(fs.readFileSync(path.join(OUTBOX_DIR, n), 'latin1'));
    if (!(m.headers.to || '').toLowerCase().includes(email.toLowerCase())) continue;
    const link = /https?:\/\/\S+?(\/requests\/[0-9a-f]{64})(?![0-9a-zA-Z])/.exec(m.body);
    if (link) return link[1];
  }
  return null;
}

const secs = (t) => `${((Date.now() - t) / 1000).toFixed(1)} s`;

function summary(vectors) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  fs.writeFileSync(path.join(ARTIFACTS, 'xss-findings.json'), JSON.stringify({ stats, findings }, null, 2));
  console.log('\nSummary');
  console.log(`  vectors:  ${vectors.length} (${SHORT ? `XSS_SHORT: a sample through the one-value fields` : 'all of them through every field'})`);
  console.log(`  fields:   ${Object.keys(stats.byField).length} (posts, then answers by status):`);
  for (const [k, v] of Object.entries(stats.byField)) console.log(`    ${k}: ${v.n} (${Object.entries(v.statuses).map(([c, m]) => `${c} ×${m}`).join(', ')})`);
  console.log(`  posts:    ${stats.posts} (statuses ${Object.entries(stats.statuses).map(([k, v]) => `${k}: ${v}`).join(', ')})`);
  console.log(`  opened:   ${stats.pages} pages, ${stats.feeds} feeds, ${stats.emails} emails; ${stats.renders} renders in Chromium`);
  console.log(`  runtime:  ${((Date.now() - started) / 1000).toFixed(0)} s`);
  console.log(`  findings: ${findings.length}${findings.length ? ' (artifacts/xss-findings.json, pages in artifacts/xss/)' : ''}`);
  return findings.length === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`✗ xss.mjs crashed: ${err && err.stack ? err.stack : err}`);
    process.exitCode = 1;
  },
);
