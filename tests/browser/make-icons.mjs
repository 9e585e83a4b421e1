// Draws the site's PNG icons, favicon.ico and the default share image from
// the same bowl as static/favicon.svg, in Debian's headless Chromium, into
// static/icons/. Run it after changing the icon, and commit what it makes:
//
//   cd tests/browser && npm ci && node make-icons.mjs
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.join(HERE, '..', '..', 'static', 'icons');
const BOWL = `<path d="M4.5 11.5h23c0 7.2-4.6 12-11.5 12s-11.5-4.8-11.5-12z" fill="#f3ece1"/><rect x="12.5" y="23" width="7" height="2.5" rx="1" fill="#f3ece1"/><path d="M13.7 12.4l2.8 3.3-2.2 3.3 3.2 4.3" fill="none" stroke="#d9a94a" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/><path d="M16.5 15.7l4.5-1.2" fill="none" stroke="#d9a94a" stroke-width="1.6" stroke-linecap="round"/>`;
// Full-bleed squares: phones round the corners themselves (and a maskable
// icon keeps its drawing inside the middle 80%).
const square = (size, pad = 0) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="${-pad} ${-pad} ${32 + 2 * pad} ${32 + 2 * pad}"><rect x="${-pad}" y="${-pad}" width="${32 + 2 * pad}" height="${32 + 2 * pad}" fill="#1f3a3d"/>${BOWL}</svg>`;
const rounded = (size) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#1f3a3d"/><rect x=".75" y=".75" width="30.5" height="30.5" rx="6.4" fill="none" stroke="#f3ece1" stroke-opacity=".55" stroke-width="1.5"/>${BOWL}</svg>`;
// The share image: warm paper, the bowl large, a gold seam across.
const share = `<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="630" viewBox="0 0 1200 630"><rect width="1200" height="630" fill="#faf7f2"/><path d="M0 470 C 300 430, 520 520, 760 470 S 1100 430, 1200 455" fill="none" stroke="#b0832f" stroke-width="6" stroke-linecap="round" opacity=".55"/><g transform="translate(440 155) scale(10)"><rect width="32" height="32" rx="7" fill="#1f3a3d"/>${BOWL}</g></svg>`;

const shots = [
  { file: 'apple-touch-icon.png', svg: square(180, 3), size: [180, 180] },
  { file: 'icon-192.png', svg: square(192, 3), size: [192, 192] },
  { file: 'icon-512.png', svg: square(512, 3), size: [512, 512] },
  { file: 'icon-maskable-512.png', svg: square(512, 8), size: [512, 512] },
  { file: 'favicon-32.png', svg: rounded(32), size: [32, 32], transparent: true },
  { file: 'favicon-16.png', svg: rounded(16), size: [16, 16], transparent: true },
  { file: 'share.png', svg: share, size: [1200, 630] },
];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kintsugi-icons-'));
const browser = await chromium.launchPersistentContext(dir, {
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  fs.mkdirSync(OUT, { recursive: true });
  for (const s of shots) {
    const page = await browser.newPage({ viewport: { width: s.size[0], height: s.size[1] } });
    await page.setContent(`<!doctype html><html><body style="margin:0;background:transparent">${s.svg}</body></html>`);
    await page.locator('svg').screenshot({ path: path.join(OUT, s.file), omitBackground: Boolean(s.transparent) });
    await page.close();
  }
} finally {
  await browser.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

// favicon.ico: an ICO directory holding the two PNGs as they are (every
// browser since 2007 reads PNG inside ICO).
const pngs = ['favicon-16.png', 'favicon-32.png'].map((f) => fs.readFileSync(path.join(OUT, f)));
const header = Buffer.alloc(6 + 16 * pngs.length);
header.writeUInt16LE(0, 0);
header.writeUInt16LE(1, 2);
header.writeUInt16LE(pngs.length, 4);
let offset = header.length;
pngs.forEach((png, i) => {
  const size = png.readUInt32BE(16);
  const at = 6 + 16 * i;
  header.writeUInt8(size >= 256 ? 0 : size, at);
  header.writeUInt8(size >= 256 ? 0 : size, at + 1);
  header.writeUInt8(0, at + 2);
  header.writeUInt8(0, at + 3);
  header.writeUInt16LE(1, at + 4);
  header.writeUInt16LE(32, at + 6);
  header.writeUInt32LE(png.length, at + 8);
  header.writeUInt32LE(offset, at + 12);
  offset += png.length;
});
fs.writeFileSync(path.join(OUT, 'favicon.ico'), Buffer.concat([header, ...pngs]));
for (const f of ['favicon-16.png', 'favicon-32.png']) fs.rmSync(path.join(OUT, f));
console.log(`icons written to ${OUT}`);
