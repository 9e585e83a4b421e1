// Reading the server's outbox: the .eml files Kintsugi writes when no SMTP
// server is set (shared by e2e.mjs and lighthouse.mjs).
import fs from 'node:fs';
import path from 'node:path';

// The mails in OUTBOX_DIR (.eml files the server writes when no SMTP server is set)
// whose file name ends with `-${kind}.eml` and whose To: names `recipient`, oldest
// first, each as { file, headers, body } with the body decoded (quoted-printable,
// base64 or plain) to text.
export function outboxMails(outboxDir, kind, recipient) {
  let names = [];
  try {
    names = fs.readdirSync(outboxDir).filter((n) => n.endsWith(`-${kind}.eml`) && !n.startsWith('.'));
  } catch (err) {
    if (err.code === 'ENOENT') return []; // nothing was written yet
    throw err;
  }
  return names
    .sort()
    .map((n) => ({ file: n, ...parseEml(fs.readFileSync(path.join(outboxDir, n), 'latin1')) }))
    .filter((m) => (m.headers.to || '').toLowerCase().includes(recipient.toLowerCase()));
}

// Waits (up to 15 s: the server's mail worker writes the file soon after the request)
// for a mail as `outboxMails` finds it, and for which `accept(mail)` holds.
export async function waitForMail(outboxDir, kind, recipient, accept = () => true) {
  const until = Date.now() + 15_000;
  for (;;) {
    const found = outboxMails(outboxDir, kind, recipient).filter(accept);
    if (found.length || Date.now() > until) return found.at(-1) || null;
    await new Promise((r) => setTimeout(r, 200));
  }
}

// A one-part text message: headers (unfolded, names in lower case) and the body
// decoded by its Content-Transfer-Encoding. `raw` holds one character per byte.
export function parseEml(raw) {
  const cut = raw.search(/\r?\n\r?\n/);
  const head = cut < 0 ? raw : raw.slice(0, cut);
  const rest = cut < 0 ? '' : raw.slice(cut).replace(/^\r?\n\r?\n/, '');
  const headers = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const encoding = (headers['content-transfer-encoding'] || '7bit').toLowerCase();
  let body;
  if (encoding === 'quoted-printable') body = decodeQuotedPrintable(rest);
  else if (encoding === 'base64') body = Buffer.from(rest.replace(/\s+/g, ''), 'base64').toString('utf8');
  else body = Buffer.from(rest, 'latin1').toString('utf8');
  return { headers, body: body.replace(/\r\n/g, '\n') };
}

// Quoted-printable (RFC 2045): "=" at the end of a line is a soft line break, "=XX"
// one byte; the bytes are UTF-8.
function decodeQuotedPrintable(text) {
  const joined = text.replace(/=\r?\n/g, '');
  const bytes = [];
  for (let i = 0; i < joined.length; i++) {
    const hex = joined.slice(i + 1, i + 3);
    if (joined[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(joined.charCodeAt(i) & 0xff);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

