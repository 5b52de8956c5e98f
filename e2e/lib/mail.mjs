// The mail the server sent during the run: run.mjs starts aiosmtpd, which
// stores each message it receives as one file of a Maildir (config.maildir).
// Messages are read raw and their quoted-printable text decoded: enough to
// find a recipient, a subject and a link, with no MIME library.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { config } from './env.mjs';

/** Decodes quoted-printable (RFC 2045 §6.7): soft breaks, then =XX bytes. */
function decodeQuotedPrintable(s) {
  const bytes = s
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

function header(raw, name) {
  const m = raw.match(new RegExp(`^${name}:[ \\t]*(.*(?:\\r?\\n[ \\t].*)*)`, 'im'));
  return m ? m[1].replace(/\r?\n[ \t]+/g, ' ').trim() : '';
}

/** Every message so far, oldest first: `{ to, subject, body }` (body decoded). */
export function messages() {
  const dir = config.maildir;
  if (!dir) throw new Error('e2e: no maildir in the config (run the suite through run.mjs)');
  const files = [];
  for (const sub of ['new', 'cur']) {
    let names = [];
    try {
      names = readdirSync(path.join(dir, sub));
    } catch {
      continue;
    }
    for (const n of names) {
      const f = path.join(dir, sub, n);
      files.push({ f, t: statSync(f).mtimeMs });
    }
  }
  files.sort((a, b) => a.t - b.t);
  return files.map(({ f }) => {
    const raw = readFileSync(f, 'utf8');
    return { to: header(raw, 'To'), subject: header(raw, 'Subject'), body: decodeQuotedPrintable(raw) };
  });
}

/** Waits (up to 10 s) for the `n`th message to `to` (from 1). */
export async function waitForMail(to, n = 1) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const mine = messages().filter((m) => m.to.includes(to));
    if (mine.length >= n) return mine[n - 1];
    if (Date.now() > deadline) {
      throw new Error(`no message #${n} to ${to} within 10 s (have: ${JSON.stringify(messages().map((m) => [m.to, m.subject]))})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The first http(s) link in `mail` whose text contains `needle`. */
export function linkIn(mail, needle) {
  const links = mail.body.match(/https?:\/\/[^\s"<>]+/g) ?? [];
  const link = links.find((l) => l.includes(needle));
  if (!link) throw new Error(`no link containing ${needle} in: ${mail.body}`);
  return link;
}

/** The six-digit code of a sign-up or sign-in message (a line of its own). */
export function codeIn(mail) {
  const m = mail.body.match(/^[ \t]*(\d{6})[ \t]*\r?$/m);
  if (!m) throw new Error(`no code in: ${mail.body}`);
  return m[1];
}
