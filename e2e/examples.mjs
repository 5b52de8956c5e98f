#!/usr/bin/env node
// The examples' e2e runner: each app under examples/ is started the way its
// README says, a "Greeting GPT" is registered in its database with the
// `keyhouse` command, and examples/<name>.spec.mjs connects it in Chromium.
//
//   node e2e/examples.mjs [NAME...]     (default: every example built)
//
// For each example: a temporary directory (SQLite database, master key),
// two loopback ports (the app's and the GPT's callback), `keyhouse clients
// create` on the app's database, the app's binary with DATABASE_URL,
// KEYHOUSE_KEY_FILE, KEYHOUSE_ISSUER, KEYHOUSE_BIND and KEYHOUSE_SMTP_URL
// (one aiosmtpd for the run, its Maildir given to the specs), a wait for its
// discovery document, then `node --test` on the example's spec. The app's
// log goes to e2e/test-results/examples/<name>.log.
//
// Environment: KEYHOUSE_BIN (default <repo>/target/debug/keyhouse),
// CARGO_TARGET_DIR, E2E_CHROMIUM (default /usr/bin/chromium).

import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSmtp } from './lib/smtp.mjs';

const E2E_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(E2E_DIR, '..');
const RESULTS_DIR = path.join(E2E_DIR, 'test-results', 'examples');
const TARGET = process.env.CARGO_TARGET_DIR ? path.resolve(REPO_ROOT, process.env.CARGO_TARGET_DIR) : path.join(REPO_ROOT, 'target');
const KEYHOUSE = path.resolve(process.env.KEYHOUSE_BIN || path.join(TARGET, 'debug', 'keyhouse'));
const READY_TIMEOUT_MS = 30_000;

/** Each example: its binary, and what its spec needs to know. */
const EXAMPLES = {
  'own-login': { bin: 'own-login', env: { OWN_LOGIN_DIST: path.join(REPO_ROOT, 'examples', 'own-login', 'dist') } },
  'csr-trunk': { bin: 'csr-trunk', env: { CSR_TRUNK_DIST: path.join(REPO_ROOT, 'examples', 'csr-trunk', 'dist') } },
  'ssr-hydrate': {
    bin: 'ssr-hydrate',
    env: {
      LEPTOS_SITE_ROOT: path.join(REPO_ROOT, 'examples', 'ssr-hydrate', 'target', 'site'),
      LEPTOS_OUTPUT_NAME: 'ssr_hydrate',
    },
  },
  islands: {
    bin: 'islands',
    env: {
      LEPTOS_SITE_ROOT: path.join(REPO_ROOT, 'examples', 'islands', 'target', 'site'),
      LEPTOS_OUTPUT_NAME: 'islands',
    },
  },
};

function log(msg) {
  process.stderr.write(`e2e-examples: ${msg}\n`);
}

function listenEphemeral() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

async function reservePorts(n) {
  const servers = [];
  for (let i = 0; i < n; i++) servers.push(await listenEphemeral());
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(() => r()))));
  return ports;
}

function run(bin, args, env, { stdio = ['ignore', 'pipe', 'pipe'], cwd = E2E_DIR } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { env, stdio, cwd });
    let out = '';
    let err = '';
    p.stdout?.on('data', (d) => { out += d; });
    p.stderr?.on('data', (d) => { err += d; });
    p.on('error', (e) => reject(new Error(`cannot run ${bin}: ${e.message}`)));
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${path.basename(bin)} ${args.join(' ')} exited ${code}\n${err}${out}`))));
  });
}

function tail(file, lines = 40) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function waitReady(baseUrl, child) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the app exited (${child.exitCode ?? child.signalCode}) before it was ready`);
    try {
      const res = await fetch(`${baseUrl}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = e.cause?.code ?? e.message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${baseUrl} did not serve its discovery document within ${READY_TIMEOUT_MS / 1000} s (last: ${last})`);
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await new Promise((r) => child.once('exit', r));
  clearTimeout(timer);
}

async function runExample(name) {
  const ex = EXAMPLES[name];
  const bin = path.join(TARGET, 'debug', ex.bin);
  const tmp = mkdtempSync(path.join(os.tmpdir(), `keyhouse-example-${name}-`));
  const logFile = path.join(RESULTS_DIR, `${name}.log`);
  const [port, gptPort] = await reservePorts(2);
  const baseUrl = `http://127.0.0.1:${port}`;
  const redirectUri = `http://127.0.0.1:${gptPort}/callback`;
  const env = {
    ...process.env,
    ...ex.env,
    DATABASE_URL: `sqlite://${path.join(tmp, 'app.db')}?mode=rwc`,
    KEYHOUSE_KEY_FILE: path.join(tmp, 'app.key'),
    KEYHOUSE_ISSUER: baseUrl,
    KEYHOUSE_BIND: `127.0.0.1:${port}`,
    KEYHOUSE_SMTP_URL: smtpUrl,
    RUST_LOG: process.env.RUST_LOG || 'info',
  };
  delete env.KEYHOUSE_MASTER_KEY;
  let child = null;
  try {
    // The operator registers the GPT with the keyhouse command, on the app's database.
    const out = await run(KEYHOUSE, [
      'clients', 'create', '--name', 'Greeting GPT', '--type', 'third_party',
      '--redirect-uri', redirectUri, '--description', 'A custom GPT that greets you by name', '--json',
    ], env);
    const gpt = JSON.parse(out.trim().split('\n').filter((l) => l.startsWith('{')).pop());
    const fd = openSync(logFile, 'a');
    child = spawn(bin, [], { env, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    await waitReady(baseUrl, child);
    log(`${name} ready at ${baseUrl}`);
    await run(process.execPath, [
      '--test', '--test-concurrency=1', '--test-reporter=spec', '--test-timeout=120000',
      path.join('examples', `${name}.spec.mjs`),
    ], {
      ...process.env,
      E2E_BASE_URL: baseUrl,
      E2E_GPT_NAME: 'Greeting GPT',
      E2E_GPT_CLIENT_ID: gpt.client_id,
      E2E_GPT_CLIENT_SECRET: gpt.client_secret,
      E2E_GPT_PORT: String(gptPort),
      E2E_GPT_REDIRECT_URI: redirectUri,
      E2E_RESULTS_DIR: RESULTS_DIR,
      E2E_SCREENSHOT_DIR: path.join(RESULTS_DIR, 'screenshots'),
      E2E_EXAMPLE: name,
      E2E_MAILDIR: maildir,
      PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1',
    }, { stdio: ['ignore', 'inherit', 'inherit'] });
    return true;
  } catch (e) {
    log(`${name}: ${e.message}\n--- last lines of ${logFile} ---\n${tail(logFile)}\n---`);
    return false;
  } finally {
    if (child) await stop(child);
    rmSync(tmp, { recursive: true, force: true });
  }
}

rmSync(RESULTS_DIR, { recursive: true, force: true });
mkdirSync(path.join(RESULTS_DIR, 'screenshots'), { recursive: true });
const asked = process.argv.slice(2);
const names = asked.length ? asked : Object.keys(EXAMPLES);
// One SMTP server for the run: the examples mail sign-up codes through it.
const mailTmp = mkdtempSync(path.join(os.tmpdir(), 'keyhouse-examples-mail-'));
const maildir = path.join(mailTmp, 'maildir');
const [smtpPort] = await reservePorts(1);
const smtpUrl = `smtp://127.0.0.1:${smtpPort}`;
const smtp = await startSmtp(smtpPort, maildir);
let failed = 0;
for (const name of names) {
  if (!EXAMPLES[name]) {
    log(`no example ${name} (known: ${Object.keys(EXAMPLES).join(', ')})`);
    process.exit(2);
  }
  if (!existsSync(path.join(TARGET, 'debug', EXAMPLES[name].bin))) {
    log(`${name}: not built (cargo build -p keyhouse-example-${name}); failing`);
    failed++;
    continue;
  }
  if (!(await runExample(name))) failed++;
}
smtp.kill('SIGTERM');
rmSync(mailTmp, { recursive: true, force: true });
log(failed ? `${failed} example(s) failed` : `all ${names.length} example(s) passed`);
process.exit(failed ? 1 : 0);
