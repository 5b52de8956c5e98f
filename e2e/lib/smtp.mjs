// Debian's aiosmtpd as the test SMTP server (scripts/setup.sh test installs
// python3-aiosmtpd): the servers under test mail through it and the specs
// read the Maildir it writes (lib/mail.mjs).

import { spawn } from 'node:child_process';
import net from 'node:net';

function alive(p) {
  return p && p.exitCode === null && p.signalCode === null;
}

/**
 * Starts Debian's aiosmtpd (scripts/setup.sh test installs python3-aiosmtpd)
 * on 127.0.0.1:`port`, storing what it receives in the Maildir `dir`, and
 * waits until it accepts connections.
 */
export async function startSmtp(port, dir) {
  const p = spawn('/usr/bin/python3', [
    '-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`, '-c', 'aiosmtpd.handlers.Mailbox', dir,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d) => { err += d; });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (!alive(p)) throw new Error(`aiosmtpd exited (${p.exitCode ?? p.signalCode}): ${err}`);
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => { c.end(); resolve(true); });
      c.once('error', () => resolve(false));
    });
    if (ok) return p;
    await new Promise((r) => setTimeout(r, 50));
  }
  p.kill('SIGKILL');
  throw new Error(`aiosmtpd did not listen on 127.0.0.1:${port} within 10 s: ${err}`);
}

