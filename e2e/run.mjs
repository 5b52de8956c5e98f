#!/usr/bin/env node
// The e2e runner. From any directory:
//
//   node e2e/run.mjs [--bench] [--keep] [SPEC_FILTER...]
//
// 1. makes a temporary directory (SQLite database + master-key file),
// 2. reserves two loopback ports: the server's and the simulated GPT's callback,
// 3. `keyhouse migrate`, then registers the "Notes GPT" client (third_party,
//    confidential, redirect http://127.0.0.1:<gptport>/callback), the B2B
//    fixtures of lib/b2b.mjs (organizations acme and globex, their members),
//    and the operator (`keyhouse users create --admin`, ADMIN below),
// 4. starts `keyhouse serve` (stdout+stderr -> e2e/test-results/server.log) and
//    waits for GET /health/ready (30 s),
// 5. runs `node --test --test-concurrency=1` on specs/*.spec.mjs (only those whose
//    file name contains one of SPEC_FILTER, when given), or measure.mjs with --bench,
// 6. stops the server (SIGTERM, SIGKILL after 5 s) whatever happened, and exits
//    with the specs' status (non-zero on any failure).
//
// Environment: KEYHOUSE_BIN (default <repo>/target/debug/keyhouse),
// KEYHOUSE_STATIC_DIR (default <repo>/dist), E2E_CHROMIUM (default /usr/bin/chromium),
// E2E_MEASURE_RUNS (for --bench), RUST_LOG (default info).

import { execFileSync, spawn } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { b2bAccounts, defaultB2B } from './lib/b2b.mjs';
import { startSmtp } from './lib/smtp.mjs';

const E2E_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(E2E_DIR, '..');
const RESULTS_DIR = path.join(E2E_DIR, 'test-results');
const SCREENSHOT_DIR = path.join(RESULTS_DIR, 'screenshots');
const SERVER_LOG = path.join(RESULTS_DIR, 'server.log');
const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;

const GPT = {
  name: 'Notes GPT',
  type: 'third_party',
  description: 'A custom GPT that reads your notes',
};

// The operator (a user with the admin flag: /admin and the admin API). The
// same defaults are in lib/env.mjs, for specs run by hand.
const ADMIN = {
  email: 'admin@example.test',
  password: 'correct horse battery staple',
  name: 'Ops Admin',
};

// ---------------------------------------------------------------------------

const argv = process.argv.slice(2);
const opts = { bench: false, keep: false, filters: [] };
for (const a of argv) {
  if (a === '--bench') opts.bench = true;
  else if (a === '--keep') opts.keep = true;
  else if (a === '-h' || a === '--help') {
    console.log('usage: node e2e/run.mjs [--bench] [--keep] [SPEC_FILTER...]\n' +
      '  --bench   run measure.mjs (time to an interactive consent screen, bundle sizes) instead of the specs\n' +
      '  --keep    keep the temporary directory (database, key, config) afterwards\n' +
      '  SPEC_FILTER  run only spec files whose name contains it (e.g. 02 or connect-gpt)');
    process.exit(0);
  } else if (a.startsWith('-')) {
    fail(`unknown option ${a} (see --help)`);
  } else opts.filters.push(a);
}

function log(msg) {
  process.stderr.write(`e2e: ${msg}\n`);
}

function fail(msg) {
  log(`error: ${msg}`);
  process.exit(2);
}

// ---------------------------------------------------------------------------
// State shared with the clean-up path

/** @type {import('node:child_process').ChildProcess | null} */
let server = null;
/** The run's SMTP server (aiosmtpd): the server mails through it, specs read its Maildir. */
let smtp = null;
/** @type {import('node:child_process').ChildProcess | null} */
let child = null;
let tmpDir = null;
let cleaningUp = null;

function alive(p) {
  return p && p.exitCode === null && p.signalCode === null;
}

function exited(p) {
  return new Promise((resolve) => {
    if (!alive(p)) resolve();
    else p.once('exit', () => resolve());
  });
}

async function stopServer() {
  if (!alive(server)) return;
  log('stopping the server (SIGTERM)');
  server.kill('SIGTERM');
  let timer;
  const timedOut = await Promise.race([
    exited(server).then(() => false),
    new Promise((r) => { timer = setTimeout(() => r(true), STOP_GRACE_MS); }),
  ]);
  clearTimeout(timer);
  if (timedOut && alive(server)) {
    log(`the server did not stop within ${STOP_GRACE_MS / 1000} s: SIGKILL`);
    server.kill('SIGKILL');
    await exited(server);
  }
}

function cleanup(ok) {
  cleaningUp ??= (async () => {
    await stopServer();
    if (alive(smtp)) {
      smtp.kill('SIGTERM');
      await exited(smtp);
    }
    if (tmpDir) {
      if (ok && !opts.keep) rmSync(tmpDir, { recursive: true, force: true });
      else log(`kept the temporary directory ${tmpDir}`);
    }
  })();
  return cleaningUp;
}

// Last resort if the runner dies without going through cleanup().
process.on('exit', () => {
  if (alive(server)) server.kill('SIGKILL');
  if (alive(smtp)) smtp.kill('SIGKILL');
});

for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
  process.on(sig, () => {
    log(`${sig}: stopping`);
    if (alive(child)) child.kill(sig);
    cleanup(false).finally(() => process.exit(code));
  });
}

// ---------------------------------------------------------------------------
// Helpers

function listenEphemeral() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

/** Reserves `n` distinct free loopback ports (all bound at once, then released). */
async function reservePorts(n) {
  const servers = [];
  for (let i = 0; i < n; i++) servers.push(await listenEphemeral());
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(() => r()))));
  return ports;
}

function tail(file, lines = 40) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Runs a keyhouse CLI command to completion; returns its stdout. */
/**
 * Runs the CLI; `input`, when given, is written to its standard input (how
 * passwords reach `--password-file -`: never as an argument, which every
 * user of the machine can read in the process list).
 */
function keyhouse(bin, env, args, input) {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { env, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    if (input !== undefined) p.stdin.end(`${input}\n`);
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('error', (e) => reject(new Error(`cannot run ${bin}: ${e.message}`)));
    p.on('close', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`keyhouse ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${err}${out}`));
    });
  });
}

function lastJsonLine(out, what) {
  const line = out.trim().split('\n').filter((l) => l.trim().startsWith('{')).pop();
  if (!line) throw new Error(`${what}: expected one JSON line on stdout, got:\n${out}`);
  return JSON.parse(line);
}

/**
 * The B2B fixtures (lib/b2b.mjs): `keyhouse orgs create` for each organization,
 * then `keyhouse members create` for each account and organization it belongs to.
 * @returns {Promise<import('./lib/b2b.mjs').B2BConfig>} the fixtures, with organization ids
 */
async function createB2BFixtures(bin, env) {
  const b2b = defaultB2B();
  for (const org of Object.values(b2b.organizations)) {
    const created = lastJsonLine(
      await keyhouse(bin, env, ['orgs', 'create', '--name', org.name, '--slug', org.slug, '--json']),
      'orgs create',
    );
    if (!created.organization_id || created.slug !== org.slug) {
      throw new Error(`orgs create --json for ${org.slug} printed ${JSON.stringify(created)}`);
    }
    org.organizationId = created.organization_id;
  }
  for (const account of b2bAccounts(b2b)) {
    for (const [slug, role] of Object.entries(account.roles)) {
      await keyhouse(bin, env, [
        'members', 'create',
        '--org', slug,
        '--email', account.email,
        '--password-file', '-',
        '--role', role,
      ], account.password);
    }
  }
  const summary = Object.values(b2b.organizations).map((o) => `${o.slug}=${o.organizationId}`).join(', ');
  const members = b2bAccounts(b2b)
    .map((a) => `${a.email} (${Object.entries(a.roles).map(([slug, role]) => `${role} in ${slug}`).join(', ')})`)
    .join(', ');
  log(`created organizations ${summary}; members ${members}`);
  return b2b;
}

/**
 * The operator: `keyhouse users create --admin`.
 * @returns {Promise<{email: string, password: string, name: string, userId: string}>}
 */
async function createAdmin(bin, env) {
  const out = await keyhouse(bin, env, [
    'users', 'create', '--admin',
    '--email', ADMIN.email,
    '--password-file', '-',
    '--name', ADMIN.name,
  ], ADMIN.password);
  const created = lastJsonLine(out, 'users create');
  if (created.is_admin !== true || !created.user_id) {
    throw new Error(`users create --admin should print {"user_id", "is_admin": true}, got ${JSON.stringify(created)}`);
  }
  const userId = created.user_id;
  log(`created the operator ${ADMIN.email} (${userId})`);
  return { ...ADMIN, userId };
}

/**
 * A CA made for this run and a certificate it signs for `agent.test` and
 * `login.umbrella.test`: the MCP spec serves a client metadata document over
 * https on loopback with them, the single sign-on spec runs a company's
 * OpenID Provider, and the server trusts the CA through its test-only options
 * (`--insecure-test-only-*`, never used in production). Debian's openssl.
 * @returns {{host: string, ssoHost: string, ca: string, cert: string, key: string}}
 */
function makeTestCa(dir) {
  const f = (name) => path.join(dir, name);
  const openssl = (args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2',
    '-subj', '/CN=Keyhouse e2e test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  openssl(['req', ...ec, '-keyout', f('agent.key'), '-out', f('agent.csr'), '-subj', '/CN=agent.test']);
  writeFileSync(f('agent.ext'), 'subjectAltName=DNS:agent.test,DNS:login.umbrella.test\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  openssl(['x509', '-req', '-in', f('agent.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'),
    '-CAcreateserial', '-out', f('agent.pem'), '-days', '2', '-extfile', f('agent.ext')]);
  return { host: 'agent.test', ssoHost: 'login.umbrella.test', ca: f('ca.pem'), cert: f('agent.pem'), key: f('agent.key') };
}

async function waitReady(baseUrl) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (!alive(server)) {
      throw new Error(`the server exited (${server.signalCode ?? `exit ${server.exitCode}`}) before it was ready`);
    }
    try {
      const res = await fetch(`${baseUrl}/health/ready`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = e.cause?.code ?? e.message;
    }
    await new Promise((r) => setTimeout(r, 100)); // polling interval
  }
  throw new Error(`GET ${baseUrl}/health/ready did not answer 200 within ${READY_TIMEOUT_MS / 1000} s (last: ${last})`);
}

function specFiles() {
  const dir = path.join(E2E_DIR, 'specs');
  // Node 20's `node --test <dir>` does not pick up *.spec.mjs, so the files are named explicitly.
  const all = readdirSync(dir).filter((f) => f.endsWith('.spec.mjs')).sort();
  const chosen = opts.filters.length ? all.filter((f) => opts.filters.some((x) => f.includes(x))) : all;
  if (chosen.length === 0) fail(`no spec file in ${dir} matches ${opts.filters.join(', ') || '*.spec.mjs'}`);
  return chosen.map((f) => path.join('specs', f));
}

function runNode(args, env) {
  return new Promise((resolve) => {
    child = spawn(process.execPath, args, { cwd: E2E_DIR, env, stdio: 'inherit' });
    child.on('error', (e) => {
      log(`cannot start node: ${e.message}`);
      resolve(1);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)));
  });
}

// ---------------------------------------------------------------------------

async function main() {
  const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(REPO_ROOT, process.env.CARGO_TARGET_DIR) : path.join(REPO_ROOT, 'target');
  const bin = path.resolve(process.env.KEYHOUSE_BIN || path.join(targetDir, 'debug', 'keyhouse'));
  const distDir = path.resolve(process.env.KEYHOUSE_STATIC_DIR || path.join(REPO_ROOT, 'dist'));
  const chromiumPath = process.env.E2E_CHROMIUM || '/usr/bin/chromium';

  try {
    accessSync(bin, constants.X_OK);
  } catch {
    fail(`no keyhouse binary at ${bin}: build it (cargo build -p keyhouse) or set KEYHOUSE_BIN`);
  }
  if (!existsSync(path.join(distDir, 'index.html'))) {
    fail(`no ${path.join(distDir, 'index.html')}: build the app (trunk build) or set KEYHOUSE_STATIC_DIR`);
  }
  if (!existsSync(chromiumPath)) {
    fail(`no chromium at ${chromiumPath}: apt-get install chromium (scripts/setup.sh test) or set E2E_CHROMIUM`);
  }
  if (!existsSync(path.join(E2E_DIR, 'node_modules', 'playwright-core', 'package.json'))) {
    fail(`playwright-core is not installed: run (cd ${E2E_DIR} && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci)`);
  }
  const specs = opts.bench ? [] : specFiles();

  rmSync(RESULTS_DIR, { recursive: true, force: true });
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  tmpDir = mkdtempSync(path.join(os.tmpdir(), 'keyhouse-e2e-'));

  const [serverPort, gptPort, smtpPort] = await reservePorts(3);
  const baseUrl = `http://127.0.0.1:${serverPort}`;
  const gptRedirectUri = `http://127.0.0.1:${gptPort}/callback`;

  const khEnv = {
    ...process.env,
    DATABASE_URL: `sqlite://${path.join(tmpDir, 'e2e.db')}?mode=rwc`,
    KEYHOUSE_KEY_FILE: path.join(tmpDir, 'e2e.key'),
    KEYHOUSE_ISSUER: baseUrl,
    KEYHOUSE_STATIC_DIR: distDir,
    KEYHOUSE_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
    KEYHOUSE_MAIL_FROM: 'Notes <no-reply@notes.test>',
    RUST_LOG: process.env.RUST_LOG || 'info',
  };
  delete khEnv.KEYHOUSE_MASTER_KEY; // the key file in tmpDir, always
  delete khEnv.KEYHOUSE_BIND;

  log(`binary ${bin}`);
  log(`static files ${distDir}`);
  log(`temporary directory ${tmpDir}`);

  await keyhouse(bin, khEnv, ['migrate']);
  const gpt = lastJsonLine(
    await keyhouse(bin, khEnv, [
      'clients', 'create',
      '--name', GPT.name,
      '--type', GPT.type,
      '--redirect-uri', gptRedirectUri,
      '--description', GPT.description,
      '--json',
    ]),
    'clients create',
  );
  if (!gpt.client_id || !gpt.client_secret) {
    throw new Error(`clients create --json printed no client_id/client_secret: ${JSON.stringify(gpt)}`);
  }
  log(`registered "${GPT.name}" as ${gpt.client_id} (redirect ${gptRedirectUri})`);
  const b2b = await createB2BFixtures(bin, khEnv);
  const admin = await createAdmin(bin, khEnv);

  const agents = makeTestCa(tmpDir);
  const maildir = path.join(tmpDir, 'maildir');
  smtp = await startSmtp(smtpPort, maildir);
  log(`SMTP server (aiosmtpd) on 127.0.0.1:${smtpPort}, mail in ${maildir}`);
  const logFd = openSync(SERVER_LOG, 'a');
  // Every spec signs up its own users, all from 127.0.0.1: the per-IP
  // sign-up limit (10 an hour) is off for the suite; the Rust tests cover it.
  // The test-only options let the server fetch the MCP spec's metadata
  // document from agent.test and the single sign-on spec's provider from
  // login.umbrella.test, both on loopback, signed by this run's CA.
  server = spawn(bin, [
    'serve', '--bind', `127.0.0.1:${serverPort}`, '--signups-per-ip-per-hour', '0',
    '--insecure-test-only-loopback-metadata',
    '--insecure-test-only-metadata-ca', agents.ca,
    '--insecure-test-only-resolve', `${agents.host}=127.0.0.1`,
    // The single sign-on spec's company provider, on loopback too.
    '--insecure-test-only-resolve', `${agents.ssoHost}=127.0.0.1`,
    // The hostile-client spec's logo host: a private address, which the
    // fetcher refuses before any packet (and no DNS query leaves the machine).
    '--insecure-test-only-resolve', 'logos.invalid=10.255.255.1',
  ], {
    env: khEnv,
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  server.on('error', (e) => log(`server process error: ${e.message}`));
  try {
    await waitReady(baseUrl);
  } catch (e) {
    log(`${e.message}\n--- last lines of ${SERVER_LOG} ---\n${tail(SERVER_LOG)}\n---`);
    return 1;
  }
  log(`server ready at ${baseUrl} (log: ${SERVER_LOG})`);

  const config = {
    baseUrl,
    resultsDir: RESULTS_DIR,
    screenshotDir: SCREENSHOT_DIR,
    distDir,
    chromium: chromiumPath,
    gpt: {
      name: GPT.name,
      clientId: gpt.client_id,
      clientSecret: gpt.client_secret,
      port: gptPort,
      redirectUri: gptRedirectUri,
    },
    b2b,
    admin,
    agents,
    maildir,
    keyhouse: {
      bin,
      env: {
        DATABASE_URL: khEnv.DATABASE_URL,
        KEYHOUSE_KEY_FILE: khEnv.KEYHOUSE_KEY_FILE,
        KEYHOUSE_ISSUER: khEnv.KEYHOUSE_ISSUER,
        KEYHOUSE_STATIC_DIR: khEnv.KEYHOUSE_STATIC_DIR,
        KEYHOUSE_SMTP_URL: khEnv.KEYHOUSE_SMTP_URL,
        KEYHOUSE_MAIL_FROM: khEnv.KEYHOUSE_MAIL_FROM,
      },
    },
  };
  const configFile = path.join(tmpDir, 'e2e-config.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });

  const env = {
    ...process.env,
    E2E_CONFIG: configFile,
    E2E_BASE_URL: baseUrl,
    E2E_RESULTS_DIR: RESULTS_DIR,
    E2E_SCREENSHOT_DIR: SCREENSHOT_DIR,
    E2E_DIST_DIR: distDir,
    E2E_CHROMIUM: chromiumPath,
    E2E_GPT_NAME: GPT.name,
    E2E_GPT_CLIENT_ID: gpt.client_id,
    E2E_GPT_CLIENT_SECRET: gpt.client_secret,
    E2E_GPT_PORT: String(gptPort),
    E2E_GPT_REDIRECT_URI: gptRedirectUri,
    E2E_B2B: JSON.stringify(b2b),
    E2E_ADMIN: JSON.stringify(admin),
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1',
  };

  let code;
  if (opts.bench) {
    code = await runNode([path.join(E2E_DIR, 'measure.mjs')], env);
  } else {
    code = await runNode(
      ['--test', '--test-concurrency=1', '--test-reporter=spec', '--test-timeout=120000', ...specs],
      env,
    );
  }
  child = null;

  if (!alive(server)) {
    log(`the server exited during the run (${server.signalCode ?? `exit ${server.exitCode}`})`);
    code ||= 1;
  }
  if (code !== 0) {
    log(`--- last lines of ${SERVER_LOG} ---\n${tail(SERVER_LOG)}\n---`);
    log(`screenshots and failure artefacts: ${RESULTS_DIR}`);
  }
  return code;
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (e) {
  log(`error: ${e.stack ?? e}`);
  if (existsSync(SERVER_LOG)) log(`--- last lines of ${SERVER_LOG} ---\n${tail(SERVER_LOG)}\n---`);
  exitCode = 1;
} finally {
  await cleanup(exitCode === 0);
}
process.exit(exitCode);
