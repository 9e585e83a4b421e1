// End-to-end browser check for Kintsugi.
//
// Drives Debian's headless Chromium (through playwright-core) against a running
// Kintsugi server, runs axe-core on every page type in light and dark colour
// schemes, validates the HTML the server sent with the Nu Html Checker (vnu.jar)
// and checks the XML/text endpoints. A reader with JavaScript off also posts a
// comment (a refused form first, then one held for moderation): the server must
// accept a post 4 s after serving the form (KINTSUGI_COMMENT_MIN_SECONDS <= 4, the
// default is 3), and the test posts one comment, so run it at most once every
// 15 s against the same server (its per-address rate limit). The coach then signs
// in (with an account made beforehand by `kintsugi admin create`; one wrong password
// first, so fewer than ten runs in 15 minutes per server, or signing in waits),
// approves that comment from the moderation queue, replies to it as the coach, and
// signs out; the reader sees the comment published with the Coach replies under it.
//
//   cd tests/browser && npm ci && BASE_URL=http://127.0.0.1:8080 \
//     ADMIN_EMAIL=coach@example.com ADMIN_PASSWORD='...' npm test
//
// Environment:
//   BASE_URL         server to test (default http://127.0.0.1:8080)
//   ADMIN_EMAIL      the coach account's email (required for the coach journey)
//   ADMIN_PASSWORD   its password
//   CHROMIUM_PATH    browser binary (default /usr/bin/chromium)
//   JAVA             java binary for vnu.jar (default "java")
//
// Exit code 0 when every step passed, 1 otherwise. Artifacts (screenshots and
// the saved HTML) go to tests/browser/artifacts/.

import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = path.join(HERE, 'artifacts');
const HTML_DIR = path.join(ARTIFACTS, 'html');

const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const JAVA = process.env.JAVA || 'java';
const ADMIN_EMAIL = process.env.ADMIN_EMAIL || '';
const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD || '';
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
const ACTION_TIMEOUT_MS = 15_000;
const NAV_TIMEOUT_MS = 20_000;
const PHONE = { width: 390, height: 844 };
const SEARCH_WORD = 'contact';
const COMMENT_ARTICLE = '/articles/going-no-contact';
// The server refuses (as spam) a comment posted less than KINTSUGI_COMMENT_MIN_SECONDS
// (default 3) after the form was served: wait a little longer before each submit.
const COMMENT_WAIT_MS = 4_000;

const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const VNU_JAR = path.join(path.dirname(require.resolve('vnu-jar/package.json')), 'build', 'dist', 'vnu.jar');

const url = (p) => new URL(p, BASE_URL + '/').href;

// ---------------------------------------------------------------------------
// Tiny step runner: each step collects failure messages (soft assertions) and
// an exception inside a step becomes one more failure of that step.

const results = []; // { name, ok, failures: string[], notes: string[] }

class StepFailure extends Error {}

async function step(name, fn) {
  const failures = [];
  const notes = [];
  const t = {
    check(cond, message) {
      if (!cond) failures.push(message);
      return Boolean(cond);
    },
    // Hard assertion: stops the step.
    require(cond, message) {
      if (!cond) {
        failures.push(message);
        throw new StepFailure(message);
      }
    },
    note(message) {
      notes.push(message);
    },
  };
  process.stdout.write(`• ${name} ... `);
  try {
    await fn(t);
  } catch (err) {
    if (!(err instanceof StepFailure)) failures.push(`unexpected error: ${firstLines(err)}`);
  }
  const ok = failures.length === 0;
  results.push({ name, ok, failures, notes });
  console.log(ok ? 'ok' : 'FAILED');
  for (const f of failures) console.log(indent(`✗ ${f}`, 4));
  for (const n of notes) console.log(indent(`- ${n}`, 4));
  return ok;
}

function firstLines(err, n = 6) {
  const text = err && err.message ? err.message : String(err);
  return text.split('\n').slice(0, n).join('\n');
}

function indent(text, n) {
  const pad = ' '.repeat(n);
  return text
    .split('\n')
    .map((l) => pad + l)
    .join('\n');
}

const norm = (s) =>
  (s || '')
    .replace(/[\u2018\u2019\u02BC\u2032]/g, "'")
    .replace(/\s+/g, ' ')
    .trim();

// ---------------------------------------------------------------------------
// Helpers

async function goto(page, p) {
  const response = await page.goto(url(p), { waitUntil: 'load', timeout: NAV_TIMEOUT_MS });
  if (!response) throw new Error(`no HTTP response for ${p}`);
  return response;
}

async function runAxe(page) {
  await page.addScriptTag({ content: AXE_SOURCE });
  return page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const res = await axe.run(document, { resultTypes: ['violations'] });
    return res.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({
        target: n.target.map((t) => (Array.isArray(t) ? t.join(' >>> ') : String(t))).join(', '),
        summary: n.failureSummary || '',
      })),
    }));
  });
}

function formatViolations(violations) {
  return violations
    .map((v) => {
      let previous = null; // print a failure summary only when it differs from the node before
      const nodes = v.nodes
        .slice(0, 10)
        .map((n) => {
          const summary = n.summary && n.summary !== previous ? `\n        ${n.summary.replace(/\n/g, '\n        ')}` : '';
          previous = n.summary;
          return `      target: ${n.target}${summary}`;
        })
        .join('\n');
      const more = v.nodes.length > 10 ? `\n      ... and ${v.nodes.length - 10} more node(s)` : '';
      return `  [${v.id}] (${v.impact}) ${v.help}\n    ${v.helpUrl}\n${nodes}${more}`;
    })
    .join('\n');
}

// Watches a page for things a real visitor's browser would complain about:
// CSP violations, uncaught script errors and sub-resources that failed. With
// `ignoreAborted`, a load the browser abandoned (net::ERR_ABORTED: the page was left
// before, say, its icon arrived) is not counted: for journeys that click on briskly.
function watchPage(page, { ignoreAborted = false } = {}) {
  const problems = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    // Failed loads are reported through 'response'/'requestfailed' below with
    // their URL (and the 404 page's own document is expected to be a 404).
    if (text.startsWith('Failed to load resource')) return;
    problems.push(`console error: ${text}`);
  });
  page.on('pageerror', (err) => problems.push(`uncaught script error: ${firstLines(err, 2)}`));
  page.on('requestfailed', (req) => {
    if (isMainDocument(req)) return;
    if (ignoreAborted && req.failure()?.errorText === 'net::ERR_ABORTED') return;
    problems.push(`request failed: ${req.url()} (${req.failure()?.errorText || 'unknown'})`);
  });
  page.on('response', (res) => {
    const req = res.request();
    if (isMainDocument(req)) return;
    if (res.status() >= 400 && !isImplicitFavicon(req)) {
      problems.push(`sub-resource ${res.url()} answered ${res.status()}`);
    }
  });
  return {
    take() {
      return problems.splice(0, problems.length);
    },
  };
}

function isMainDocument(req) {
  try {
    return req.isNavigationRequest() && req.frame() === req.frame().page()?.mainFrame();
  } catch {
    return false; // e.g. service worker requests have no frame
  }
}

// Chromium may ask for /favicon.ico on its own when the page declares no icon.
function isImplicitFavicon(req) {
  return new URL(req.url()).pathname === '/favicon.ico' && req.resourceType() === 'other';
}

// ---------------------------------------------------------------------------

async function main() {
  console.log(`Kintsugi browser check against ${BASE_URL}`);
  console.log(`chromium: ${CHROMIUM_PATH}`);

  if (!fs.existsSync(CHROMIUM_PATH)) {
    console.error(`✗ ${CHROMIUM_PATH} not found. Install Debian's chromium: apt-get install -y chromium`);
    return earlyFailure();
  }

  // Fail fast, with a clear message, when nothing listens on BASE_URL.
  try {
    await fetch(url('/'), { redirect: 'manual', signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    console.error(`✗ cannot reach the server at ${BASE_URL}: ${err.cause?.code || err.message}`);
    console.error('  Start Kintsugi first (or set BASE_URL).');
    return earlyFailure();
  }

  // Only HTML saved by this run is validated.
  fs.rmSync(HTML_DIR, { recursive: true, force: true });
  fs.mkdirSync(HTML_DIR, { recursive: true });

  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kintsugi-chromium-'));
  let context; // persistent context with bypassCSP, used for axe (needs script injection)
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      bypassCSP: true,
      viewport: { width: 1280, height: 800 },
      colorScheme: 'light',
    });
  } catch (err) {
    console.error(`✗ could not launch Chromium: ${firstLines(err)}`);
    fs.rmSync(userDataDir, { recursive: true, force: true });
    return earlyFailure();
  }

  try {
    const browser = context.browser();
    if (!browser) throw new Error('persistent context has no Browser object; cannot open extra contexts');
    // A context that honours the server's Content-Security-Policy, as a visitor's browser does.
    const strict = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
    // A context with JavaScript off: the site is server-rendered and must work without it.
    const noJs = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 800 } });
    for (const ctx of [context, strict, noJs]) {
      ctx.setDefaultTimeout(ACTION_TIMEOUT_MS);
      ctx.setDefaultNavigationTimeout(NAV_TIMEOUT_MS);
    }

    await runSteps({ browser, context, strict, noJs });
  } catch (err) {
    results.push({ name: 'browser session', ok: false, failures: [firstLines(err)], notes: [] });
    console.log(`✗ browser session aborted: ${firstLines(err)}`);
  } finally {
    await context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }

  return summary();
}

async function runSteps({ browser, context, strict, noJs }) {
  const page = await context.newPage();

  // 1. Home page.
  await step('home page: 200, <h1>, links to articles', async (t) => {
    const res = await goto(page, '/');
    t.check(res.status() === 200, `GET / answered ${res.status()}, expected 200`);
    t.check((await page.locator('h1').count()) >= 1, 'GET / has no <h1>');
    const n = await page.locator('main a[href^="/articles/"]').count();
    t.check(n >= 1, 'GET / has no link main a[href^="/articles/"]');
    if (n) t.note(`${n} article link(s) in <main>`);
  });

  // 2. Follow the first article link.
  await step('home page: first article link opens an article', async (t) => {
    await goto(page, '/');
    const link = page.locator('main a[href^="/articles/"]').first();
    t.require((await link.count()) === 1, 'no main a[href^="/articles/"] to click on /');
    const href = await link.getAttribute('href');
    const before = page.url();
    const navigation = page.waitForURL((u) => u.href !== before, { timeout: NAV_TIMEOUT_MS, waitUntil: 'load' });
    await link.click();
    try {
      await navigation;
    } catch {
      t.require(false, `clicking the link to ${href} did not navigate (still at ${page.url()})`);
    }
    t.check(page.url().includes('/articles/'), `after clicking ${href} the URL is ${page.url()}, expected it to contain /articles/`);
    const h1 = norm(await page.locator('h1').first().textContent().catch(() => ''));
    t.check(h1.length > 0, `article page ${page.url()} has no <h1> with text`);
    t.check((await page.locator('article').count()) >= 1, `article page ${page.url()} has no <article>`);
    t.note(`${href} → “${h1}”`);
  });

  // 3. The reference article: comparison table, headings with ids, table of contents.
  await step('article /articles/going-no-contact: table, h2 ids, table of contents', async (t) => {
    const res = await goto(page, '/articles/going-no-contact');
    t.require(res.status() === 200, `GET /articles/going-no-contact answered ${res.status()}, expected 200`);
    t.check((await page.locator('article').count()) >= 1, 'no <article> element');

    const tables = await page.locator('article table').count();
    if (t.check(tables >= 1, 'no <table> inside <article>')) {
      const headers = (await page.locator('article table th').allTextContents()).map(norm);
      for (const want of ['If you go no contact', "If you don't"]) {
        t.check(
          headers.some((h) => h.toLowerCase().includes(want.toLowerCase())),
          `no table header cell (<th>) containing “${want}”; header cells are: ${JSON.stringify(headers)}`,
        );
      }
    }

    const ids = await page.locator('article h2[id]').evaluateAll((els) => els.map((e) => e.id).filter(Boolean));
    t.check(ids.length >= 2, `expected at least 2 <h2 id="..."> inside <article>, found ${ids.length}`);

    // Table of contents: a <nav> whose in-page links point at headings of the article.
    const tocs = await page.evaluate(() =>
      [...document.querySelectorAll('nav')]
        .map((nav) => {
          const links = [...nav.querySelectorAll('a[href^="#"]')].map((a) => a.getAttribute('href'));
          const targets = links.map((h) => {
            let id = h.slice(1);
            try {
              id = decodeURIComponent(id);
            } catch {}
            const el = id ? document.getElementById(id) : null;
            return { href: h, exists: !!el, heading: !!el && /^H[1-6]$/.test(el.tagName) && !!el.closest('article') };
          });
          return { label: nav.getAttribute('aria-label') || nav.getAttribute('aria-labelledby') || '', targets };
        })
        .filter((n) => n.targets.some((x) => x.heading)),
    );
    if (t.check(tocs.length >= 1, 'no <nav> table of contents with links to #anchors of headings inside <article>')) {
      const toc = tocs[0];
      const broken = toc.targets.filter((x) => !x.exists).map((x) => x.href);
      t.check(broken.length === 0, `table of contents links point at missing ids: ${broken.join(', ')}`);
      t.note(`${ids.length} h2 with id; table of contents has ${toc.targets.length} link(s)`);
    }

    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'article.png'), fullPage: true });
    t.note('screenshot artifacts/article.png');
  });

  // 4. Search through the header form, with and without JavaScript.
  for (const [label, ctx] of [
    ['JavaScript on', context],
    ['JavaScript off', noJs],
  ]) {
    await step(`search “${SEARCH_WORD}” from the header form (${label})`, async (t) => {
      const p = await ctx.newPage();
      try {
        await goto(p, '/');
        const input = p.locator('header form[role="search"] input[name="q"]');
        if ((await input.count()) === 0) {
          const elsewhere = await p.locator('form[role="search"] input[name="q"]').count();
          t.require(
            false,
            elsewhere
              ? 'found form[role="search"] input[name="q"] but not inside <header>'
              : 'no search input: expected header form[role="search"] input[name="q"] on /',
          );
        }
        await input.first().fill(SEARCH_WORD);
        const navigation = p.waitForURL((u) => u.pathname !== '/' || u.search !== '', {
          timeout: NAV_TIMEOUT_MS,
          waitUntil: 'load',
        });
        await input.first().press('Enter');
        try {
          await navigation;
        } catch {
          t.require(false, `pressing Enter in the search box did not navigate (still at ${p.url()})`);
        }
        const u = new URL(p.url());
        t.check(
          u.pathname === '/search' && u.searchParams.get('q') === SEARCH_WORD,
          `after searching the URL is ${p.url()}, expected /search?q=${SEARCH_WORD}`,
        );
        const hits = await p.locator('main a[href^="/articles/"]').count();
        t.check(hits >= 1, 'search results have no link main a[href^="/articles/"]');
        const marks = (await p.locator('main mark').allTextContents()).map(norm);
        t.check(
          marks.some((m) => m.toLowerCase().includes(SEARCH_WORD)),
          `no <mark> highlighting “${SEARCH_WORD}” in <main> (marks found: ${JSON.stringify(marks.slice(0, 5))})`,
        );
        t.note(`${hits} result link(s), ${marks.length} <mark>`);
      } finally {
        await p.close();
      }
    });
  }

  // 5. Home page on a phone.
  await step(`home page on a phone (${PHONE.width}x${PHONE.height})`, async (t) => {
    const p = await context.newPage();
    try {
      await p.setViewportSize(PHONE);
      const res = await goto(p, '/');
      t.check(res.status() === 200, `GET / answered ${res.status()}`);
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      await p.screenshot({ path: path.join(ARTIFACTS, 'home-mobile.png'), fullPage: true });
      t.note('screenshot artifacts/home-mobile.png');
      const { scrollWidth, innerWidth } = await p.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: window.innerWidth,
      }));
      t.check(
        scrollWidth <= innerWidth + 1,
        `the page scrolls sideways on a phone: document is ${scrollWidth}px wide in a ${innerWidth}px viewport`,
      );
    } finally {
      await p.close();
    }
  });

  // 6. Every page type: status, CSP-clean in a normal browser, axe (light + dark), saved HTML.
  let firstTag = null;
  const pages = [
    { name: 'home', path: '/' },
    { name: 'home-page-1', path: '/?page=1' },
    { name: 'article-going-no-contact', path: '/articles/going-no-contact' },
    { name: 'tags', path: '/tags' },
    { name: 'tag', path: () => firstTag },
    { name: 'search-contact', path: '/search?q=contact' },
    { name: 'search-no-results', path: '/search?q=zzzzqqq' },
    { name: 'search-empty', path: '/search?q=' },
    { name: 'about', path: '/about' },
    { name: 'privacy', path: '/privacy' },
    { name: 'coaching', path: '/coaching' },
    { name: 'not-found', path: '/this-page-does-not-exist', status: 404 },
  ];
  const savedHtml = [];
  const strictPage = await strict.newPage();
  const watcher = watchPage(strictPage);

  for (const spec of pages) {
    const p = typeof spec.path === 'function' ? spec.path() : spec.path;
    const expected = spec.status || 200;
    await step(`page ${spec.name} (${p ?? 'no tag link found on /tags'}): status ${expected}, axe light+dark, CSP`, async (t) => {
      t.require(p, 'no tag link main a[href^="/tags/"] found on /tags, cannot test a tag page');

      // (a) As a visitor's browser sees it: CSP enforced, HTML saved from the response body.
      watcher.take();
      const res = await goto(strictPage, p);
      t.check(res.status() === expected, `GET ${p} answered ${res.status()}, expected ${expected}`);
      const type = res.headers()['content-type'] || '';
      t.check(/^text\/html\b/i.test(type), `GET ${p} content-type is “${type}”, expected text/html`);
      const body = await res.text();
      const file = path.join(HTML_DIR, `${spec.name}.html`);
      fs.writeFileSync(file, body);
      savedHtml.push(file);
      await strictPage.waitForLoadState('networkidle', { timeout: 5_000 }).catch(() => {});
      for (const problem of watcher.take()) t.check(false, problem);

      if (spec.name === 'tags') {
        const href =
          (await strictPage.locator('main a[href^="/tags/"]').first().getAttribute('href').catch(() => null)) ||
          (await strictPage.locator('a[href^="/tags/"]').first().getAttribute('href').catch(() => null));
        firstTag = href;
        if (href) t.note(`first tag link: ${href}`);
      }

      // (b) axe-core in light and dark colour schemes (CSP bypassed so axe can be injected).
      for (const scheme of ['light', 'dark']) {
        await page.emulateMedia({ colorScheme: scheme });
        await goto(page, p);
        const violations = await runAxe(page);
        t.check(
          violations.length === 0,
          `axe (${scheme} scheme): ${violations.length} violation(s)\n${formatViolations(violations)}`,
        );
      }
      await page.emulateMedia({ colorScheme: 'light' });
    });
  }
  await strictPage.close();

  // 6b. Commenting without JavaScript: a refused form (422), then a post held for moderation.
  const reader = await commentJourney({ browser, axePage: page, savedHtml });
  // 6c. The coach signs in, approves that comment, replies to it, signs out; the
  // reader (still in their own browser context) then sees both published.
  try {
    await coachJourney({ browser, axePage: page, savedHtml, reader });
  } finally {
    await reader.ctx.close().catch(() => {});
  }

  // 7. Nu Html Checker over every saved page.
  await step(`Nu Html Checker (vnu.jar) on ${savedHtml.length} saved page(s)`, async (t) => {
    t.require(savedHtml.length > 0, 'no HTML was saved, nothing to validate');
    t.require(fs.existsSync(VNU_JAR), `${VNU_JAR} is missing (npm ci in tests/browser)`);
    let out = '';
    try {
      out = execFileSync(JAVA, ['-jar', VNU_JAR, '--errors-only', '--format', 'json', '--stdout', ...savedHtml], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        maxBuffer: 64 * 1024 * 1024,
        timeout: 180_000,
      });
    } catch (err) {
      if (err.code === 'ENOENT') t.require(false, `“${JAVA}” not found: vnu.jar needs Java 11+ (apt-get install -y default-jre-headless)`);
      // vnu exits 1 when it found errors; the JSON report is still on stdout.
      out = (err.stdout || '').trim() || (err.stderr || '').trim();
      if (!out) t.require(false, `vnu.jar failed without output: ${firstLines(err)}`);
    }
    let report;
    try {
      report = JSON.parse(out);
    } catch {
      t.require(false, `could not parse vnu.jar output as JSON:\n${out.slice(0, 2000)}`);
    }
    const errors = (report.messages || []).filter((m) => m.type === 'error' || m.type === 'non-document-error');
    for (const m of errors) {
      const file = m.url ? path.basename(fileURLToPath(m.url)) : '?';
      const where = `${file}:${m.lastLine ?? m.firstLine ?? '?'}:${m.firstColumn ?? m.lastColumn ?? '?'}`;
      const extract = m.extract ? `\n      near: ${JSON.stringify(m.extract.trim())}` : '';
      t.check(false, `${where}: ${m.message}${extract}`);
    }
    if (errors.length === 0) t.note(`no errors in ${savedHtml.map((f) => path.basename(f)).join(', ')}`);
  });

  // 8. Feed, sitemap, robots.
  for (const [p, roots] of [
    ['/feed.xml', ['rss', 'feed']],
    ['/sitemap.xml', ['urlset', 'sitemapindex']],
    ['/robots.txt', null],
  ]) {
    await step(`${p} answers 200${roots ? ' with well-formed XML' : ''}`, async (t) => {
      const res = await page.request.get(url(p), { timeout: NAV_TIMEOUT_MS });
      t.require(res.status() === 200, `GET ${p} answered ${res.status()}, expected 200`);
      const text = await res.text();
      t.check(text.trim().length > 0, `GET ${p} has an empty body`);
      if (roots) {
        const parsed = await page.evaluate((xml) => {
          const doc = new DOMParser().parseFromString(xml, 'application/xml');
          const err = doc.getElementsByTagName('parsererror')[0];
          return { error: err ? err.textContent : null, root: doc.documentElement?.localName };
        }, text);
        if (t.check(!parsed.error, `${p} is not well-formed XML: ${norm(parsed.error).slice(0, 300)}`)) {
          t.check(roots.includes(parsed.root), `${p} root element is <${parsed.root}>, expected one of ${roots.map((r) => `<${r}>`).join(', ')}`);
        }
      }
    });
  }
}

// A reader with JavaScript off, in a fresh browser context (no cookies): first
// sends the form with a name of only spaces (an empty name cannot be sent at all:
// the browser's own `required` check stops it, JavaScript or not), then corrects it.
// Returns the reader's browser context (still open: the caller closes it) and what
// identifies the held comment, for the coach's journey that follows.
async function commentJourney({ browser, axePage, savedHtml }) {
  const ctx = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
  ctx.setDefaultTimeout(ACTION_TIMEOUT_MS);
  ctx.setDefaultNavigationTimeout(NAV_TIMEOUT_MS);
  const p = await ctx.newPage();
  const watcher = watchPage(p);
  // Unique per run (the server refuses the same text twice within an hour), letters
  // only (digit runs can look like a phone number and add a personal-details notice).
  const tag = Date.now().toString().replace(/\d/g, (d) => 'abcdefghij'[d]);
  const body = `Evenings are the hardest part of no contact for me. Does that get easier with time? (browser check ${tag})`;
  // A new email per run too: once the coach approves a comment, later comments from
  // the same email are published at once instead of being held.
  const email = `reader-${tag}@example.com`;
  const submit = async () => {
    const button = p.locator('#comment-form button[type="submit"]');
    const [response] = await Promise.all([
      p.waitForResponse((r) => r.request().method() === 'POST' && r.request().isNavigationRequest(), { timeout: NAV_TIMEOUT_MS }),
      button.click(),
    ]);
    await p.waitForLoadState('load');
    return response;
  };
  // Waits until COMMENT_WAIT_MS have passed since `since` (when the form was served).
  const waitSince = async (since) => {
    const left = COMMENT_WAIT_MS - (Date.now() - since);
    if (left > 0) await p.waitForTimeout(left);
  };
  let formServedAt = 0;
  const reader = { ctx, page: p, watcher, tag, body, name: 'Robin', commentId: null };

  try {
    await step(`comment form without JavaScript (${COMMENT_ARTICLE}): a name of only spaces → 422, error linked, text kept`, async (t) => {
      const res = await goto(p, COMMENT_ARTICLE);
      formServedAt = Date.now();
      t.require(res.status() === 200, `GET ${COMMENT_ARTICLE} answered ${res.status()}, expected 200`);
      t.require((await p.locator('form#comment-form').count()) === 1, 'no form#comment-form on the article');
      t.require((await p.locator('section.comments #comments').count()) === 1, 'no section.comments with #comments on the article');

      // The honeypot is there for bots only: off-screen, out of the tab order, hidden from assistive tech.
      const hp = p.locator('#comment-form .hp');
      if (t.check((await hp.count()) === 1, 'no .hp honeypot in the comment form')) {
        t.check((await hp.getAttribute('aria-hidden')) === 'true', '.hp has no aria-hidden="true"');
        t.check((await hp.locator('input').getAttribute('tabindex')) === '-1', 'the .hp input is not tabindex="-1"');
        const box = await hp.boundingBox();
        t.check(!box || box.x + box.width <= 0 || box.y + box.height <= 0, `the .hp honeypot is on screen at ${JSON.stringify(box)}`);
      }

      // A phone: the form fits and is comfortable (44px fields, nothing scrolls sideways).
      await p.setViewportSize(PHONE);
      const widths = await p.locator('#comment-name, #comment-email, #comment-body, #comment-form button[type="submit"]').evaluateAll((els) =>
        els.map((e) => ({ id: e.id || e.tagName, w: e.getBoundingClientRect().width, h: e.getBoundingClientRect().height })),
      ).catch(() => null); // evaluateAll may be refused with JavaScript off: then only the sideways check runs
      if (widths) {
        for (const f of widths) {
          t.check(f.h >= 44, `on a phone #${f.id} is ${Math.round(f.h)}px tall, expected at least 44px`);
          t.check(f.w >= 250, `on a phone #${f.id} is only ${Math.round(f.w)}px wide`);
        }
      }
      const sideways = await p.locator('html').boundingBox();
      t.check(!sideways || sideways.width <= PHONE.width + 1, `the article with comments is ${sideways?.width}px wide in a ${PHONE.width}px viewport`);
      await p.setViewportSize({ width: 1280, height: 800 });

      await p.locator('#comment-name').fill('   ');
      await p.locator('#comment-email').fill(email);
      await p.locator('#comment-body').fill(body);
      await waitSince(formServedAt);
      const post = await submit();
      formServedAt = Date.now(); // the answer carries a fresh form
      t.check(post.status() === 422, `POST of the form with a blank name answered ${post.status()}, expected 422`);
      const html = await post.text().catch(() => '');
      if (t.check(html.length > 0, 'could not read the body of the 422 answer')) {
        const file = path.join(HTML_DIR, 'comment-form-422.html');
        fs.writeFileSync(file, html);
        savedHtml.push(file);
      }

      const name = p.locator('#comment-name');
      t.check((await name.getAttribute('aria-invalid')) === 'true', '#comment-name has no aria-invalid="true" after the refused post');
      const describedBy = ((await name.getAttribute('aria-describedby')) || '').split(/\s+/).filter(Boolean);
      if (t.check(describedBy.length > 0, '#comment-name has no aria-describedby pointing at its error')) {
        const errors = [];
        for (const id of describedBy) {
          const el = p.locator(`#${id}`);
          if ((await el.count()) !== 1) {
            t.check(false, `#comment-name aria-describedby names #${id}, which is not on the page`);
            continue;
          }
          const sameField = (await p.locator('.field').filter({ has: p.locator('#comment-name') }).locator(`#${id}`).count()) === 1;
          const cls = (await el.getAttribute('class')) || '';
          const text = norm(await el.textContent());
          if (cls.split(/\s+/).includes('field__error')) errors.push({ id, text, sameField });
        }
        const err = errors[0];
        if (t.check(err, `none of #comment-name's aria-describedby (${describedBy.join(' ')}) is a .field__error`)) {
          t.check(err.text.length > 0, `the name error #${err.id} is empty`);
          t.check(err.sameField, `the name error #${err.id} is not in the same .field as #comment-name`);
          t.note(`name error: “${err.text}”`);
        }
      }
      t.check((await p.locator('.field--error').filter({ has: p.locator('#comment-name') }).count()) === 1, 'the name field is not marked .field--error');
      t.check((await p.locator('#comment-form .form-problem').count()) === 1, 'no .form-problem summary above the fields');
      const kept = await p.locator('#comment-body').inputValue();
      t.check(kept === body, `the textarea did not keep the typed text: ${JSON.stringify(kept.slice(0, 80))}`);
      t.check((await p.locator('#comment-email').inputValue()) === email, 'the email was not kept');
      for (const problem of watcher.take()) t.check(false, problem);

      for (const scheme of ['light', 'dark']) {
        const violations = await axeOnServedHtml(axePage, html, scheme);
        t.check(violations.length === 0, `axe on the 422 page (${scheme} scheme): ${violations.length} violation(s)\n${formatViolations(violations)}`);
      }
    });

    await step('comment form without JavaScript: corrected and posted → held for moderation, shown to its writer', async (t) => {
      t.require(formServedAt > 0, 'the refused-form step did not get as far as the 422 page');
      await p.locator('#comment-name').fill('Robin');
      t.require((await p.locator('#comment-body').inputValue()) === body, 'the textarea lost the text before the second post');
      await waitSince(formServedAt);
      const post = await submit();
      t.require(
        post.status() !== 429,
        `POST answered 429: the server's rate limit (one comment per 15 s, 3 per minute from one address) counted an earlier post; wait a minute and run again`,
      );
      t.check(post.status() === 303, `POST of the corrected form answered ${post.status()}, expected 303 (See Other)`);
      const landed = new URL(p.url());
      t.check(landed.pathname === COMMENT_ARTICLE, `after posting the browser is at ${p.url()}, expected ${COMMENT_ARTICLE}`);
      t.check(landed.searchParams.has('posted'), `after posting the URL ${p.url()} has no ?posted=`);
      const id = /^#comment-\d+$/.test(landed.hash) ? landed.hash.slice(1) : null;
      t.check(id, `after posting the URL ${p.url()} has no #comment-<id>`);
      if (id) reader.commentId = Number(id.slice('comment-'.length));

      const final = post.request().redirectedTo() ? await post.request().redirectedTo().response() : null;
      const html = final ? await final.text().catch(() => '') : '';
      if (t.check(html.length > 0, 'could not read the page the post redirected to')) {
        t.check(final.status() === 200, `the page after posting answered ${final.status()}, expected 200`);
        const file = path.join(HTML_DIR, 'comment-posted.html');
        fs.writeFileSync(file, html);
        savedHtml.push(file);
      }

      const notice = norm(await p.locator('.comments .notice').first().textContent().catch(() => ''));
      if (t.check(notice, 'no .notice in the comments section after posting')) {
        t.check(
          /waiting for the coach/i.test(notice),
          `the notice does not say the comment is “waiting for the coach”: “${notice.slice(0, 200)}”` +
            (/Thank you for writing/.test(notice) ? ' (the server did not find it: posted too fast and taken for spam? see KINTSUGI_COMMENT_MIN_SECONDS)' : ''),
        );
        t.check((await p.locator('.comments .notice').first().getAttribute('role')) === 'status', 'the .notice has no role="status"');
      }
      if (id) {
        const mine = p.locator(`.comment-list > li#${id}`);
        if (t.check((await mine.count()) === 1, `no .comment-list > li#${id} for the new comment`)) {
          const cls = ((await mine.getAttribute('class')) || '').split(/\s+/);
          t.check(cls.includes('comment--pending'), `#${id} is not marked .comment--pending (classes: ${cls.join(' ')})`);
          const text = norm(await mine.textContent());
          t.check(/awaiting moderation/i.test(text), `#${id} does not say “Awaiting moderation”`);
          t.check(text.includes(tag), `#${id} does not show the posted text`);
          t.check(text.includes('Robin'), `#${id} does not show the name Robin`);
        }
      }
      for (const problem of watcher.take()) t.check(false, problem);

      fs.mkdirSync(ARTIFACTS, { recursive: true });
      await p.locator('section.comments').screenshot({ path: path.join(ARTIFACTS, 'comments.png') });
      await p.setViewportSize(PHONE);
      await p.locator('section.comments').screenshot({ path: path.join(ARTIFACTS, 'comments-mobile.png') });
      const { width } = (await p.locator('html').boundingBox()) || { width: 0 };
      t.check(width <= PHONE.width + 1, `after posting the page is ${width}px wide in a ${PHONE.width}px viewport`);
      t.note('screenshots artifacts/comments.png, artifacts/comments-mobile.png');

      for (const scheme of ['light', 'dark']) {
        const violations = await axeOnServedHtml(axePage, html, scheme);
        t.check(violations.length === 0, `axe after posting (${scheme} scheme): ${violations.length} violation(s)\n${formatViolations(violations)}`);
      }
    });
  } catch (err) {
    await ctx.close().catch(() => {});
    throw err;
  }
  await p.setViewportSize({ width: 1280, height: 800 });
  return reader;
}

// The coach, in a browser context of their own (JavaScript off like the reader's,
// the server's Content-Security-Policy enforced, no cookies shared with the reader):
// signs in with the account `kintsugi admin create` made before the server started,
// approves the reader's held comment from the moderation queue, replies to it from
// the comment's admin page and once more from the article page, and signs out. The
// reader's own browser context, and a visitor with no cookies at all, then see the
// comment published with the Coach replies nested under it. Every admin page the
// coach saw is saved for the Nu Html Checker and checked with axe (light and dark).
async function coachJourney({ browser, axePage, savedHtml, reader }) {
  const ctx = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
  ctx.setDefaultTimeout(ACTION_TIMEOUT_MS);
  ctx.setDefaultNavigationTimeout(NAV_TIMEOUT_MS);
  const p = await ctx.newPage();
  const watcher = watchPage(p, { ignoreAborted: true });
  // The reader's comment is found by its text; the replies carry markers of their own.
  const readerMarker = `browser check ${reader.tag}`;
  const replyMarker = `coach reply ${reader.tag}`;
  const articleReplyMarker = `coach reply from the article ${reader.tag}`;
  const replyText = `Evenings are often the hardest part at first, ${reader.name}. It does get easier: plan something small for them this week. (${replyMarker})`;
  const articleReplyText = `One more thought: write down how the evenings feel each week, so you can see them change. (${articleReplyMarker})`;
  let signedIn = false;
  let commentId = reader.commentId;

  const sessionCookie = async () => (await ctx.cookies(url('/'))).find((c) => /kintsugi_admin$/.test(c.name));

  // Clicks (through `action`) and waits for the navigation it starts: `res` is the
  // first response (a form's own answer, before any redirect), `final` the page that
  // was shown, `html` exactly what the server sent for it.
  const navigate = async (action) => {
    const isNav = (r) => r.request().isNavigationRequest() && r.frame() === p.mainFrame();
    const [res, final] = await Promise.all([
      p.waitForResponse(isNav, { timeout: NAV_TIMEOUT_MS }),
      p.waitForResponse((r) => isNav(r) && (r.status() < 300 || r.status() >= 400), { timeout: NAV_TIMEOUT_MS }),
      action(),
    ]);
    await p.waitForLoadState('load');
    return { res, final, html: await final.text().catch(() => '') };
  };

  // Saves the HTML for the Nu Html Checker and runs axe on it (light and dark).
  const checkServed = async (t, name, html, at) => {
    if (!t.check(html && html.length > 0, `could not read the HTML the server sent for ${at}`)) return;
    const file = path.join(HTML_DIR, `${name}.html`);
    fs.writeFileSync(file, html);
    savedHtml.push(file);
    for (const scheme of ['light', 'dark']) {
      const violations = await axeOnServedHtml(axePage, html, scheme, at);
      t.check(violations.length === 0, `axe on ${at} (${scheme} scheme): ${violations.length} violation(s)\n${formatViolations(violations)}`);
    }
  };
  const here = () => {
    const u = new URL(p.url());
    return u.pathname + u.search;
  };
  const text = async (locator) => norm(await locator.first().textContent().catch(() => ''));

  // The comments of the article in page order, each with its id, classes and text;
  // then checks the reader's comment is published and the given coach replies sit
  // in its thread (the items after it, before the next top-level comment).
  const checkThread = async (t, pg, who, markers) => {
    const res = await goto(pg, COMMENT_ARTICLE);
    t.require(res.status() === 200, `${who}: GET ${COMMENT_ARTICLE} answered ${res.status()}, expected 200`);
    const items = pg.locator('ol.comment-list > li');
    const list = [];
    for (let i = 0, n = await items.count(); i < n; i++) {
      const li = items.nth(i);
      list.push({
        id: await li.getAttribute('id'),
        cls: ((await li.getAttribute('class')) || '').split(/\s+/),
        text: norm(await li.textContent()),
      });
    }
    const at = list.findIndex((c) => c.id === `comment-${commentId}`);
    t.require(at >= 0, `${who}: the reader's comment #comment-${commentId} is not on ${COMMENT_ARTICLE} (${list.length} comment(s) shown)`);
    const mine = list[at];
    t.check(!mine.cls.includes('comment--pending'), `${who}: #comment-${commentId} is still marked .comment--pending (classes: ${mine.cls.join(' ')})`);
    t.check(!/awaiting moderation/i.test(mine.text), `${who}: #comment-${commentId} still says “Awaiting moderation”`);
    t.check(mine.cls.includes('comment--depth-0'), `${who}: #comment-${commentId} is not a top-level comment (classes: ${mine.cls.join(' ')})`);
    t.check(mine.text.includes(readerMarker), `${who}: #comment-${commentId} does not show the reader's text`);
    const reply = pg.locator(`li#comment-${commentId} .comment__actions a`).filter({ hasText: 'Reply' });
    t.check((await reply.count()) === 1, `${who}: the published #comment-${commentId} has no Reply link`);
    const thread = [];
    for (let i = at + 1; i < list.length && !list[i].cls.includes('comment--depth-0'); i++) thread.push(list[i]);
    for (const marker of markers) {
      const coach = thread.find((c) => c.text.includes(marker));
      if (
        !t.check(
          coach,
          `${who}: no reply containing “${marker}” nested under #comment-${commentId}; the thread after it is: ${JSON.stringify(thread.map((c) => `${c.id} ${c.cls.join('.')}`))}` +
            (list.some((c) => c.text.includes(marker)) ? ' (the reply is on the page, elsewhere)' : ''),
        )
      )
        continue;
      for (const cls of ['comment', 'comment--coach', 'comment--depth-1']) {
        t.check(coach.cls.includes(cls), `${who}: the coach's reply #${coach.id} is not .${cls} (classes: ${coach.cls.join(' ')})`);
      }
      t.check(!coach.cls.includes('comment--pending'), `${who}: the coach's reply #${coach.id} is marked .comment--pending`);
      const badge = await text(pg.locator(`li#${coach.id} .comment__meta .badge`));
      t.check(badge === 'Coach', `${who}: the coach's reply #${coach.id} has no <span class="badge">Coach</span> (found “${badge}”)`);
    }
    t.check((await pg.locator('.coach-box').count()) === 0, `${who} is shown the coach's .coach-box`);
    t.check((await pg.locator('form#comment-form #comment-body').count()) === 1, `${who} has no reader comment form`);
    return res;
  };

  try {
    await step('coach sign-in (/admin/login, JavaScript off): /admin asks to sign in, a wrong password → 401, the right one → Dashboard', async (t) => {
      t.require(
        ADMIN_EMAIL && ADMIN_PASSWORD,
        'ADMIN_EMAIL and ADMIN_PASSWORD are not set: create the coach account before starting the server ' +
          '(KINTSUGI_ADMIN_PASSWORD=... kintsugi admin create --email ... --name ..., same KINTSUGI_DATA_DIR) and pass them to npm test',
      );
      const res = await goto(p, '/admin');
      const first = res.request().redirectedFrom();
      if (t.check(first, `GET /admin without signing in was not redirected (status ${res.status()}, at ${p.url()})`)) {
        const status = (await first.response())?.status();
        t.check(status === 303, `GET /admin without signing in answered ${status}, expected 303`);
      }
      const landed = new URL(p.url());
      t.require(landed.pathname === '/admin/login', `GET /admin without signing in ended at ${p.url()}, expected /admin/login`);
      t.check(landed.searchParams.get('next') === '/admin', `the sign-in address ${p.url()} has no ?next=/admin`);
      t.check(res.status() === 200, `GET ${here()} answered ${res.status()}, expected 200`);
      t.check((await text(p.locator('h1'))) === 'Sign in', `the sign-in page's <h1> is “${await text(p.locator('h1'))}”`);
      t.check((await p.locator('.admin-nav').count()) === 0, 'the sign-in page shows the admin navigation to a visitor');
      const email = p.getByLabel('Email', { exact: true });
      const password = p.getByLabel('Password', { exact: true });
      const button = p.getByRole('button', { name: 'Sign in', exact: true });
      t.require((await email.count()) === 1, 'no field labelled “Email” on /admin/login');
      t.require((await password.count()) === 1, 'no field labelled “Password” on /admin/login');
      t.require((await button.count()) === 1, 'no “Sign in” button on /admin/login');
      t.check((await password.getAttribute('type')) === 'password', 'the Password field is not type="password"');
      t.check((await password.getAttribute('autocomplete')) === 'current-password', 'the Password field is not autocomplete="current-password"');
      t.check((await email.getAttribute('autocomplete')) === 'username', 'the Email field is not autocomplete="username"');
      await checkServed(t, 'admin-sign-in', await res.text().catch(() => ''), here());
      for (const problem of watcher.take()) t.check(false, problem);

      await email.fill(ADMIN_EMAIL);
      await password.fill(`${ADMIN_PASSWORD} but wrong`);
      const wrong = await navigate(() => button.click());
      t.check(wrong.res.status() === 401, `POST /admin/login with a wrong password answered ${wrong.res.status()}, expected 401`);
      t.check(new URL(p.url()).pathname === '/admin/login', `after a wrong password the browser is at ${p.url()}`);
      const problem = p.locator('.form-problem[role="alert"]');
      if (t.check((await problem.count()) === 1, 'no .form-problem with role="alert" after a wrong password')) {
        const said = await text(problem);
        t.check(/do not match/i.test(said), `the sign-in problem does not say the email and password do not match: “${said}”`);
        const id = await problem.getAttribute('id');
        const describedBy = ((await email.getAttribute('aria-describedby')) || '').split(/\s+/);
        t.check(id && describedBy.includes(id), `the Email field's aria-describedby (${describedBy.join(' ')}) does not name the problem #${id}`);
      }
      t.check((await email.inputValue()) === ADMIN_EMAIL, 'the email was not kept after a wrong password');
      t.check((await password.inputValue()) === '', 'the password was sent back into the form after a wrong password');
      t.check(!(await sessionCookie()), 'a wrong password set the admin session cookie');
      await checkServed(t, 'admin-sign-in-401', wrong.html, '/admin/login');

      await password.fill(ADMIN_PASSWORD);
      const ok = await navigate(() => button.click());
      t.require(
        ok.res.status() === 303,
        `POST /admin/login with ADMIN_EMAIL and ADMIN_PASSWORD answered ${ok.res.status()}, expected 303` +
          (ok.res.status() === 401 ? ' (does the account exist in this server’s database? same KINTSUGI_DATA_DIR?)' : '') +
          (ok.res.status() === 429 ? ' (too many failed sign-ins from this address: wait 15 minutes or restart with a fresh data dir)' : ''),
      );
      t.require(new URL(p.url()).pathname === '/admin', `after signing in the browser is at ${p.url()}, expected /admin`);
      signedIn = true;
      t.check(ok.final.status() === 200, `GET /admin after signing in answered ${ok.final.status()}`);
      t.check((await text(p.locator('h1'))) === 'Dashboard', `the dashboard's <h1> is “${await text(p.locator('h1'))}”`);
      const nav = p.getByRole('navigation', { name: 'Admin' });
      t.check((await nav.count()) === 1, 'no navigation labelled “Admin” on the dashboard');
      t.check((await nav.getByRole('button', { name: 'Sign out', exact: true }).count()) === 1, 'no “Sign out” button in the admin navigation');
      t.check(/Signed in as \S/.test(await text(nav)), 'the admin navigation does not say who is signed in');
      const pending = await text(p.locator('a[href="/admin/comments?tab=pending"]'));
      const n = Number((pending.match(/^(\d+) awaiting moderation/) || [])[1]);
      t.check(n >= 1, `the dashboard does not count the reader's comment as awaiting moderation: “${pending}”`);
      const cookie = await sessionCookie();
      if (t.check(cookie, 'no kintsugi_admin session cookie after signing in')) {
        t.check(cookie.httpOnly, 'the admin session cookie is not HttpOnly');
        t.check(cookie.sameSite === 'Strict', `the admin session cookie is SameSite=${cookie.sameSite}, expected Strict`);
      }
      t.note(`dashboard: “${pending}”`);
      await checkServed(t, 'admin-dashboard', ok.html, '/admin');
      for (const problem of watcher.take()) t.check(false, problem);
    });

    await step('moderation queue (/admin/comments): the reader’s comment is Pending; Approve → “1 comment approved.”', async (t) => {
      t.require(signedIn, 'the coach is not signed in (the sign-in step failed)');
      const nav = p.getByRole('navigation', { name: 'Admin' });
      let shown = await navigate(() => nav.getByRole('link', { name: /^Comments\b/ }).click());
      t.require(new URL(p.url()).pathname === '/admin/comments', `the admin navigation's Comments link led to ${p.url()}`);
      t.check(shown.final.status() === 200, `GET ${here()} answered ${shown.final.status()}`);
      t.check((await text(p.locator('h1'))) === 'Pending comments', `the queue's <h1> is “${await text(p.locator('h1'))}”, expected “Pending comments”`);
      const currentTab = await text(p.locator('nav.admin-tabs a[aria-current="page"]'));
      t.check(currentTab.startsWith('Pending'), `the queue opens on the tab “${currentTab}”, expected Pending (aria-current="page")`);
      let item = p.locator('li.admin-item').filter({ hasText: readerMarker });
      if ((await item.count()) === 0 && (await p.locator('.pagination').count()) > 0) {
        // Not on the first page (a server with many pending comments): search for it.
        t.note('the comment is not on the first page of the queue; searching for it');
        await p.getByLabel('Search by name, email or text').fill(reader.tag);
        shown = await navigate(() => p.locator('form.admin-search button[type="submit"]').click());
        item = p.locator('li.admin-item').filter({ hasText: readerMarker });
      }
      t.require(
        (await item.count()) === 1,
        `the reader's comment (“…${readerMarker}”) is not in the Pending queue at ${here()}` +
          (commentId ? '' : ' (and the reader step did not post it)'),
      );
      const itemId = (await item.getAttribute('id')) || '';
      t.require(/^comment-\d+$/.test(itemId), `the queue item has id="${itemId}", expected comment-<id>`);
      const found = Number(itemId.slice('comment-'.length));
      if (commentId) t.check(found === commentId, `the queue shows the reader's comment as #${itemId}, the reader was sent to #comment-${commentId}`);
      commentId = commentId || found;
      t.check((await text(item.locator('.comment__author'))) === reader.name, `the queue item does not name ${reader.name}`);
      t.check((await text(item.locator('.admin-item__status'))) === 'pending', `the queue item's status is “${await text(item.locator('.admin-item__status'))}”, expected pending`);
      const replyLink = item.getByRole('link', { name: 'Reply', exact: true });
      t.check(
        (await replyLink.count()) === 1 && (await replyLink.getAttribute('href')) === `/admin/comments/${commentId}#reply`,
        `the queue item has no Reply link to /admin/comments/${commentId}#reply`,
      );
      await checkServed(t, 'admin-queue', shown.html, here());

      const approve = item.getByRole('button', { name: 'Approve', exact: true });
      t.require((await approve.count()) === 1, `no “Approve” button on the queue item #${itemId}`);
      t.check((await approve.getAttribute('value')) === `approve:${commentId}`, `the Approve button's value is “${await approve.getAttribute('value')}”`);
      const done = await navigate(() => approve.click());
      t.check(done.res.status() === 303, `POST /admin/comments/bulk (Approve) answered ${done.res.status()}, expected 303`);
      t.check(new URL(p.url()).pathname === '/admin/comments', `after approving the browser is at ${p.url()}, expected the queue`);
      const notice = await text(p.locator('.notice[role="status"]'));
      t.check(notice === '1 comment approved.', `after approving the notice is “${notice}”, expected “1 comment approved.”`);
      t.check((await p.locator(`li.admin-item#comment-${commentId}`).count()) === 0, `#comment-${commentId} is still in the Pending queue after approving`);
      for (const problem of watcher.take()) t.check(false, problem);
    });

    await step('comment admin page (/admin/comments/{id}#reply): “Reply as the coach” publishes a reply with the Coach badge', async (t) => {
      t.require(signedIn && commentId, 'no signed-in coach or no comment to reply to (an earlier step failed)');
      // The approved comment, through the Approved tab and its Reply link.
      await navigate(() => p.locator('nav.admin-tabs').getByRole('link', { name: /^Approved\b/ }).click());
      const item = p.locator(`li.admin-item#comment-${commentId}`);
      let shown;
      if ((await item.count()) === 1) {
        t.check((await text(item.locator('.admin-item__status'))) === 'approved', `in the Approved tab #comment-${commentId} has the status “${await text(item.locator('.admin-item__status'))}”`);
        shown = await navigate(() => item.getByRole('link', { name: 'Reply', exact: true }).click());
      } else {
        t.check((await p.locator('.pagination').count()) > 0, `the approved #comment-${commentId} is not in the Approved tab (${here()})`);
        const res = await goto(p, `/admin/comments/${commentId}#reply`);
        shown = { final: res, html: await res.text().catch(() => '') };
      }
      const at = new URL(p.url());
      t.require(at.pathname === `/admin/comments/${commentId}`, `the Reply link led to ${p.url()}, expected /admin/comments/${commentId}#reply`);
      t.check(at.hash === '#reply', `the Reply link led to ${p.url()}, without #reply`);
      t.check(shown.final.status() === 200, `GET ${here()} answered ${shown.final.status()}`);
      t.check((await text(p.locator('h1'))) === `Comment by ${reader.name}`, `the comment page's <h1> is “${await text(p.locator('h1'))}”`);
      t.check((await text(p.locator(`#comment-${commentId} .admin-item__status`))) === 'approved', `the comment page does not show #comment-${commentId} as approved`);
      const form = p.locator('form#reply');
      t.require((await form.count()) === 1, 'no form#reply on the comment page');
      t.check((await text(form.locator('h2'))) === 'Reply as the coach', `the reply form's heading is “${await text(form.locator('h2'))}”`);
      await checkServed(t, 'admin-comment', shown.html, here());

      const box = form.getByLabel('Your reply', { exact: true });
      t.require((await box.count()) === 1, 'no field labelled “Your reply” in the reply form');
      await box.fill(replyText);
      const sent = await navigate(() => form.getByRole('button', { name: 'Publish the reply', exact: true }).click());
      t.check(sent.res.status() === 303, `POST /admin/comments/${commentId}/reply answered ${sent.res.status()}, expected 303`);
      t.check(new URL(p.url()).pathname === `/admin/comments/${commentId}`, `after replying the browser is at ${p.url()}`);
      const notice = await text(p.locator('.notice[role="status"]'));
      t.check(notice === 'Your reply is published.', `after replying the notice is “${notice}”, expected “Your reply is published.”`);
      const mine = p.locator('section.admin-replies li.admin-item').filter({ hasText: replyMarker });
      if (t.check((await mine.count()) === 1, 'the reply is not listed under “Replies” on the comment page')) {
        t.check((await text(mine.locator('.badge'))) === 'Coach', 'the reply listed on the comment page has no Coach badge');
        t.check((await text(mine.locator('.admin-item__status'))) === 'approved', `the reply's status is “${await text(mine.locator('.admin-item__status'))}”, expected approved`);
      }
      await checkServed(t, 'admin-comment-replied', sent.html, here());
      for (const problem of watcher.take()) t.check(false, problem);
    });

    await step('article page with the coach signed in: .coach-box, Reply → ?replyto={id}#comment-form “Reply to … as the coach”, published', async (t) => {
      t.require(signedIn && commentId, 'no signed-in coach or no comment to reply to (an earlier step failed)');
      const res = await goto(p, COMMENT_ARTICLE);
      t.require(res.status() === 200, `GET ${COMMENT_ARTICLE} answered ${res.status()}`);
      const box = p.locator('.coach-box');
      t.require((await box.count()) === 1, `no .coach-box on ${COMMENT_ARTICLE} for the signed-in coach`);
      t.check((await p.locator('#comment-name').count()) === 0, 'the signed-in coach is shown the reader comment form too');
      const reply = p.locator(`li#comment-${commentId} .comment__actions a`).filter({ hasText: 'Reply' });
      t.require((await reply.count()) === 1, `no Reply link under #comment-${commentId}`);
      const href = await reply.getAttribute('href');
      t.check(href === `${COMMENT_ARTICLE}?replyto=${commentId}#comment-form`, `the Reply link is “${href}”, expected ${COMMENT_ARTICLE}?replyto=${commentId}#comment-form`);
      const shown = await navigate(() => reply.click());
      const at = new URL(p.url());
      t.check(at.searchParams.get('replyto') === String(commentId) && at.hash === '#comment-form', `the Reply link led to ${p.url()}`);
      const form = box.locator('form');
      t.require((await form.count()) === 1, `no reply form in the .coach-box at ${p.url()}`);
      const heading = await text(form.locator('h3'));
      t.check(heading === `Reply to ${reader.name} as the coach`, `the coach's reply form says “${heading}”, expected “Reply to ${reader.name} as the coach”`);
      await checkServed(t, 'article-coach-reply-form', shown.html, here());

      await form.getByLabel('Your reply', { exact: true }).fill(articleReplyText);
      const sent = await navigate(() => form.getByRole('button', { name: 'Publish the reply', exact: true }).click());
      t.check(sent.res.status() === 303, `POST /admin/comments/${commentId}/reply from the article answered ${sent.res.status()}, expected 303`);
      const landed = new URL(p.url());
      t.check(landed.pathname === COMMENT_ARTICLE, `after replying from the article the browser is at ${p.url()}, expected ${COMMENT_ARTICLE}`);
      const id = /^#comment-\d+$/.test(landed.hash) ? landed.hash.slice(1) : null;
      if (t.check(id && Number(id.slice(8)) !== commentId, `after replying from the article the URL ${p.url()} does not point at the new reply (#comment-<id>)`)) {
        const li = p.locator(`li#${id}`);
        t.check((await li.count()) === 1 && (await text(li)).includes(articleReplyMarker), `#${id} is not the reply just published`);
        t.check(((await li.getAttribute('class')) || '').split(/\s+/).includes('comment--coach'), `#${id} is not marked .comment--coach`);
      }
      for (const problem of watcher.take()) t.check(false, problem);
    });

    await step('the reader’s own browser: the comment is published (no “awaiting moderation”), the Coach replies nested under it', async (t) => {
      t.require(commentId, 'no reader comment to look for (an earlier step failed)');
      reader.watcher.take();
      await checkThread(t, reader.page, 'the reader', [replyMarker, articleReplyMarker]);
      for (const problem of reader.watcher.take()) t.check(false, problem);
    });

    await step('a new visitor (no cookies, JavaScript off): the comment and the Coach replies are public', async (t) => {
      t.require(commentId, 'no reader comment to look for (an earlier step failed)');
      const visitor = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
      try {
        visitor.setDefaultTimeout(ACTION_TIMEOUT_MS);
        visitor.setDefaultNavigationTimeout(NAV_TIMEOUT_MS);
        const vp = await visitor.newPage();
        const vw = watchPage(vp);
        const res = await checkThread(t, vp, 'a new visitor', [replyMarker, articleReplyMarker]);
        for (const problem of vw.take()) t.check(false, problem);
        fs.mkdirSync(ARTIFACTS, { recursive: true });
        await vp.locator('section.comments').screenshot({ path: path.join(ARTIFACTS, 'comments-coach-reply.png') });
        t.note('screenshot artifacts/comments-coach-reply.png');
        await checkServed(t, 'article-coach-replied', await res.text().catch(() => ''), COMMENT_ARTICLE);
      } finally {
        await visitor.close().catch(() => {});
      }
    });

    await step('coach sign-out: “Sign out” → /admin/login?signed_out=1; /admin asks to sign in again', async (t) => {
      t.require(signedIn, 'the coach is not signed in (the sign-in step failed)');
      await goto(p, '/admin');
      t.require(new URL(p.url()).pathname === '/admin', `GET /admin while signed in ended at ${p.url()}`);
      const out = await navigate(() => p.getByRole('navigation', { name: 'Admin' }).getByRole('button', { name: 'Sign out', exact: true }).click());
      t.check(out.res.status() === 303, `POST /admin/logout answered ${out.res.status()}, expected 303`);
      const landed = new URL(p.url());
      t.check(landed.pathname === '/admin/login' && landed.searchParams.has('signed_out'), `after signing out the browser is at ${p.url()}, expected /admin/login?signed_out=1`);
      const notice = await text(p.locator('.notice[role="status"]'));
      t.check(/signed out/i.test(notice), `after signing out the notice is “${notice}”`);
      t.check((await p.getByLabel('Password', { exact: true }).count()) === 1, 'after signing out there is no sign-in form');
      t.check(!(await sessionCookie()), 'the admin session cookie is still set after signing out');
      const again = await goto(p, '/admin');
      t.check(new URL(p.url()).pathname === '/admin/login', `GET /admin after signing out ended at ${p.url()} (${again.status()}), expected /admin/login`);
      await goto(p, COMMENT_ARTICLE);
      t.check((await p.locator('.coach-box').count()) === 0, `${COMMENT_ARTICLE} still shows the .coach-box after signing out`);
      t.check((await p.locator('form#comment-form #comment-body').count()) === 1, `${COMMENT_ARTICLE} has no reader comment form after the coach signed out`);
      for (const problem of watcher.take()) t.check(false, problem);
    });
  } finally {
    await ctx.close().catch(() => {});
  }
}

// axe needs script injection, so it runs in the JavaScript (CSP-bypassing) context on
// exactly the HTML the no-JavaScript browser was sent, served at the page's own
// address (the article's unless `at` says otherwise) so that its stylesheets load
// from the real server. The replay needs no cookies: pages only a signed-in coach
// can fetch are checked the same way.
async function axeOnServedHtml(page, html, scheme, at = COMMENT_ARTICLE) {
  if (!html) return [{ id: 'no-html', impact: 'n/a', help: 'no HTML was captured to check', helpUrl: '', nodes: [] }];
  const replay = new URL(url(at));
  replay.hash = '';
  replay.searchParams.set('e2e-replay', '1');
  const target = replay.href;
  const handler = (route) => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html });
  const matches = (u) => u.href === target;
  await page.route(matches, handler);
  try {
    await page.emulateMedia({ colorScheme: scheme });
    await page.goto(target, { waitUntil: 'load', timeout: NAV_TIMEOUT_MS });
    return await runAxe(page);
  } finally {
    await page.unroute(matches, handler);
    await page.emulateMedia({ colorScheme: 'light' });
  }
}

function earlyFailure() {
  console.log('e2e: 0 passed, 1 failed');
  return 1;
}

function summary() {
  const passed = results.filter((r) => r.ok);
  const failed = results.filter((r) => !r.ok);
  console.log('\nSummary');
  for (const r of passed) console.log(`  ✓ ${r.name}`);
  for (const r of failed) console.log(`  ✗ ${r.name} (${r.failures.length} problem(s))`);
  console.log(`Artifacts: ${path.relative(process.cwd(), ARTIFACTS) || '.'}/ (article.png, home-mobile.png, comments.png, comments-mobile.png, comments-coach-reply.png, html/)`);
  console.log(`e2e: ${passed.length} passed, ${failed.length} failed`);
  return failed.length === 0 && results.length > 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`✗ e2e crashed: ${err && err.stack ? err.stack : err}`);
    process.exitCode = 1;
  },
);
