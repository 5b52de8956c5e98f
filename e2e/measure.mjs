// Time from navigation to an interactive consent screen, and the app's bundle size.
//
//   node e2e/run.mjs --bench          (E2E_MEASURE_RUNS=15, E2E_MEASURE_COLD_RUNS=7 by default;
//                                      E2E_MEASURE_SERVER_PAINT=off: see below)
//
// Cold: the first screen as a new user meets it. For each network profile
// (loopback; a typical 4G link, DevTools Network.emulateNetworkConditions:
// 100 ms latency, 9 Mbit/s each way) and each of E2E_MEASURE_COLD_RUNS runs,
// a fresh context (empty HTTP cache) holding the signed-in context's
// cookies opens the authorize URL; reported: when the client's name is first
// painted (the animation frame after it is in the page and visible), when
// the Allow button is interactive, and the bytes on the wire until then
// (Resource Timing transferSize, headers included, of the page and of the
// responses that ended by then). The 4G profile adds its latency to each
// request, not to each round trip: a floor, not a radio model.
//
// Warm: a signed-in browser context (session cookie already set, app assets already
// in the HTTP cache from signing up) opens the Notes GPT's authorize URL N times.
// For each run: `page.goto(authorizeUrl)`, then the time (performance.now(), ms
// since navigation start) at which consent-approve first exists, is visible and
// is enabled, observed by a MutationObserver installed before any page script;
// plus the Navigation Timing entry's responseEnd, domContentLoadedEventEnd and
// loadEventEnd. Prints median / p90 / min / max, then dist/ sizes. Also writes
// test-results/measure.json.

import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { launchBrowser, newContext } from './lib/browser.mjs';
import { config } from './lib/env.mjs';
import { newUser } from './lib/users.mjs';
import { SimulatedGpt } from './gpt.mjs';
import { APPROVE_SELECTOR, signUpThroughUi } from './pages/index.mjs';
import { codeIn, waitForMail } from './lib/mail.mjs';
import { metadataDocumentServer } from './lib/agents.mjs';

const RUNS = Number.parseInt(process.env.E2E_MEASURE_RUNS || '15', 10);
if (!Number.isInteger(RUNS) || RUNS < 1) {
  console.error(`E2E_MEASURE_RUNS must be a positive integer, got ${process.env.E2E_MEASURE_RUNS}`);
  process.exit(2);
}
const COLD_RUNS = Number.parseInt(process.env.E2E_MEASURE_COLD_RUNS || '7', 10);
if (!Number.isInteger(COLD_RUNS) || COLD_RUNS < 1) {
  console.error(`E2E_MEASURE_COLD_RUNS must be a positive integer, got ${process.env.E2E_MEASURE_COLD_RUNS}`);
  process.exit(2);
}
const RUN_TIMEOUT_MS = 30_000;
// E2E_MEASURE_SERVER_PAINT=off measures the page as it was before the server
// painted /idp and put the start's answer in it: both are taken out of the
// HTML (DevTools' Fetch domain, once the response has arrived, so the
// network profile still applied to it), and the component asks the API and
// paints after the wasm. A before/after on one build.
const SERVER_PAINT = (process.env.E2E_MEASURE_SERVER_PAINT || 'on') !== 'off';

/** The network profiles of the cold runs (bytes per second for throughput). */
const PROFILES = [
  { name: 'loopback', conditions: null },
  {
    name: '4G: 100 ms latency, 9 Mbit/s',
    conditions: { offline: false, latency: 100, downloadThroughput: 9_000_000 / 8, uploadThroughput: 9_000_000 / 8 },
  },
];
const CLIENT_NAME_SELECTOR = '[data-testid="consent-client-name"]';

// Installed in every document before its own scripts: records the first moment
// the approve button is present, rendered (visible) and enabled and, given
// `name`, the animation frame after the client's name is first in the page
// and visible (its first paint, from the HTML or from the script).
function installProbe({ selector, name }) {
  const visible = (e) => {
    if (typeof e.checkVisibility === 'function') return e.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true });
    return e.getClientRects().length > 0;
  };
  const ready = () => {
    const b = document.querySelector(selector);
    if (!b || b.disabled || b.getAttribute('aria-disabled') === 'true') return false;
    return visible(b);
  };
  const named = () => {
    const n = name && document.querySelector(name);
    return Boolean(n && n.textContent.trim() && visible(n));
  };
  window.__consentInteractiveAt = undefined;
  window.__clientNamePaintedAt = undefined;
  let nameSeen = !name;
  const check = () => {
    if (!nameSeen && named()) {
      nameSeen = true;
      requestAnimationFrame((t) => { window.__clientNamePaintedAt = t; });
    }
    if (window.__consentInteractiveAt === undefined && ready()) {
      window.__consentInteractiveAt = performance.now();
    }
    if (nameSeen && window.__consentInteractiveAt !== undefined) observer.disconnect();
  };
  const observer = new MutationObserver(check);
  observer.observe(document, { childList: true, subtree: true, attributes: true, characterData: true });
}

/** `html` without the element that starts with `opening` (a `tag`, nested ones counted). */
function withoutElement(html, opening, tag) {
  const start = html.indexOf(opening);
  if (start < 0) return html;
  const tags = new RegExp(`<${tag}[\\s>]|</${tag}>`, 'g');
  tags.lastIndex = start;
  let depth = 0;
  for (let m = tags.exec(html); m; m = tags.exec(html)) {
    depth += m[0].startsWith('</') ? -1 : 1;
    if (depth === 0) return html.slice(0, start) + html.slice(m.index + m[0].length);
  }
  return html;
}

/** With E2E_MEASURE_SERVER_PAINT=off: strips the server's paint and answer from every /idp page `cdp`'s target loads. */
async function withoutServerPaint(cdp) {
  cdp.on('Fetch.requestPaused', async (e) => {
    try {
      const { body, base64Encoded } = await cdp.send('Fetch.getResponseBody', { requestId: e.requestId });
      const html = base64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body;
      const stripped = withoutElement(html, '<div id="kh-first-paint"', 'div')
        .replace(/<script type="application\/json" id="kh-authorize-start">[\s\S]*?<\/script>/, '');
      await cdp.send('Fetch.fulfillRequest', {
        requestId: e.requestId,
        responseCode: e.responseStatusCode,
        responseHeaders: (e.responseHeaders ?? []).filter((h) => h.name.toLowerCase() !== 'content-length'),
        body: Buffer.from(stripped, 'utf8').toString('base64'),
      });
    } catch {
      await cdp.send('Fetch.continueRequest', { requestId: e.requestId }).catch(() => {});
    }
  });
  await cdp.send('Fetch.enable', { patterns: [{ urlPattern: '*/idp?*', resourceType: 'Document', requestStage: 'Response' }] });
}

// ---------------------------------------------------------------------------
// Statistics

function quantile(sorted, q) {
  // nearest-rank
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

function summary(values) {
  const s = [...values].sort((a, b) => a - b);
  return { median: quantile(s, 0.5), p90: quantile(s, 0.9), min: s[0], max: s[s.length - 1] };
}

function fmtMs(v) {
  return v === undefined || Number.isNaN(v) ? '—' : v.toFixed(1);
}

function table(rows, headers) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function fmtBytes(n) {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(2)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

function walk(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

// ---------------------------------------------------------------------------

async function measureConsent() {
  const gpt = new SimulatedGpt(); // only builds authorize URLs: no listener needed, nobody approves
  const browser = await launchBrowser();
  try {
    const context = await newContext(browser);
    const page = await context.newPage();
    await signUpThroughUi(page, newUser('bench'));
    const cookies = await context.cookies();
    const cold = [];
    for (const profile of PROFILES) {
      cold.push({ profile: profile.name, samples: await measureCold(browser, gpt, cookies, profile) });
    }
    await context.addInitScript(installProbe, { selector: APPROVE_SELECTOR });
    if (!SERVER_PAINT) await withoutServerPaint(await context.newCDPSession(page));

    const samples = [];
    for (let i = 0; i < RUNS; i++) {
      const url = gpt.authorizeUrl();
      await page.goto(url, { waitUntil: 'commit', timeout: RUN_TIMEOUT_MS });
      const handle = await page.waitForFunction(() => window.__consentInteractiveAt, undefined, {
        timeout: RUN_TIMEOUT_MS,
        polling: 'raf',
      });
      const interactive = await handle.jsonValue();
      await page.waitForLoadState('load', { timeout: RUN_TIMEOUT_MS });
      const nt = await page.evaluate(() => {
        const e = performance.getEntriesByType('navigation')[0];
        return e
          ? { responseEnd: e.responseEnd, domContentLoadedEventEnd: e.domContentLoadedEventEnd, loadEventEnd: e.loadEventEnd }
          : null;
      });
      if (!nt) throw new Error('no Navigation Timing entry');
      if (nt.loadEventEnd === 0) {
        // load fired but its handlers had not finished when we read: read again once they have.
        await page.waitForFunction(() => performance.getEntriesByType('navigation')[0].loadEventEnd > 0, undefined, { timeout: RUN_TIMEOUT_MS });
        nt.loadEventEnd = await page.evaluate(() => performance.getEntriesByType('navigation')[0].loadEventEnd);
      }
      const onIdp = new URL(page.url()).pathname === '/idp';
      if (!onIdp) throw new Error(`run ${i + 1}: expected to stay on /idp with the consent screen, at ${page.url()}`);
      samples.push({ interactive, ...nt });
      process.stderr.write(`  run ${String(i + 1).padStart(2)}: interactive consent ${fmtMs(interactive)} ms\n`);
    }
    return { samples, cold, browserVersion: browser.version() };
  } finally {
    await browser.close();
  }
}

/** The cold runs of one network profile: a fresh context each time. */
async function measureCold(browser, gpt, cookies, profile) {
  const samples = [];
  for (let i = 0; i < COLD_RUNS; i++) {
    const context = await newContext(browser);
    try {
      await context.addCookies(cookies);
      await context.addInitScript(installProbe, { selector: APPROVE_SELECTOR, name: CLIENT_NAME_SELECTOR });
      const page = await context.newPage();
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      if (profile.conditions) await cdp.send('Network.emulateNetworkConditions', profile.conditions);
      if (!SERVER_PAINT) await withoutServerPaint(cdp);
      await page.goto(gpt.authorizeUrl(), { waitUntil: 'commit', timeout: RUN_TIMEOUT_MS });
      const handle = await page.waitForFunction(
        () => window.__consentInteractiveAt !== undefined && window.__clientNamePaintedAt !== undefined
          && [window.__consentInteractiveAt, window.__clientNamePaintedAt],
        undefined,
        { timeout: RUN_TIMEOUT_MS, polling: 'raf' },
      );
      const [interactive, namePainted] = await handle.jsonValue();
      // What had arrived by then: the page and each response that ended
      // before the button was interactive (transfer sizes, headers included).
      const bytes = await page.evaluate((until) => {
        const nav = performance.getEntriesByType('navigation')[0];
        return (nav ? nav.transferSize : 0) + performance.getEntriesByType('resource')
          .filter((e) => e.responseEnd <= until)
          .reduce((sum, e) => sum + e.transferSize, 0);
      }, interactive);
      if (new URL(page.url()).pathname !== '/idp') {
        throw new Error(`cold run ${i + 1} (${profile.name}): expected the consent screen on /idp, at ${page.url()}`);
      }
      samples.push({ interactive, namePainted, bytes });
      process.stderr.write(`  cold ${profile.name} run ${i + 1}: name painted ${fmtMs(namePainted)} ms, interactive ${fmtMs(interactive)} ms, ${fmtBytes(bytes)}\n`);
    } finally {
      await context.close();
    }
  }
  return samples;
}

function bundleSizes(distDir) {
  const files = walk(distDir);
  const rel = (f) => path.relative(distDir, f);
  const gz = (buf) => gzipSync(buf, { level: 9 }).length;
  const wasm = files.filter((f) => f.endsWith('.wasm')).map((f) => {
    const buf = readFileSync(f);
    return { file: rel(f), raw: buf.length, gzip: gz(buf) };
  });
  // What the consent page downloads: its own bundle (dist/idp/, else the
  // main bundle, dist/ itself, when it was not built).
  const idpDir = path.join(distDir, 'idp');
  const own = files.some((f) => path.dirname(f) === idpDir && f.endsWith('.wasm'));
  const inBundle = (f) => (own ? path.dirname(f) === idpDir : !rel(f).includes(path.sep));
  const assets = files.filter((f) => /\.(js|wasm|css)$/.test(f) && inBundle(f)).map((f) => {
    const buf = readFileSync(f);
    return { file: rel(f), raw: statSync(f).size, gzip: gz(buf) };
  });
  return {
    wasm,
    assets,
    totalRaw: assets.reduce((a, x) => a + x.raw, 0),
    totalGzip: assets.reduce((a, x) => a + x.gzip, 0),
  };
}

// ---------------------------------------------------------------------------
// Agents: the first authorization of a client identified by a metadata
// document (cold: the server fetches the document over https on loopback,
// validates it and stores the client) against a later one (warm: cached).

const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

async function signUpApi(user) {
  const res = await fetch(`${config.baseUrl}/api/session/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: config.baseUrl },
    body: JSON.stringify({ email: user.email, password: user.password, name: user.name }),
  });
  const cookies = (r) => r.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  if (res.status === 201) return cookies(res);
  if (res.status !== 202) throw new Error(`signup: HTTP ${res.status}`);
  // The address is proven first: the mailed code, from this "browser".
  const code = codeIn(await waitForMail(user.email));
  const done = await fetch(`${config.baseUrl}/api/session/email/code`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: config.baseUrl, cookie: cookies(res) },
    body: JSON.stringify({ email: user.email, code }),
  });
  if (done.status !== 200) throw new Error(`signup code: HTTP ${done.status}`);
  return cookies(done);
}

async function authorizeOnce(cookie, clientId, redirectUri) {
  const params = {
    client_id: clientId, redirect_uri: redirectUri, response_type: 'code', scope: 'notes:read',
    state: 's', code_challenge: CHALLENGE, code_challenge_method: 'S256', resource: `${config.baseUrl}/mcp`,
  };
  const post = (p, body) => fetch(`${config.baseUrl}${p}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: config.baseUrl, cookie },
    body: JSON.stringify(body),
  });
  const t0 = performance.now();
  const start = await post('/api/idp/authorize/start', params);
  if (start.status !== 200) throw new Error(`authorize/start: HTTP ${start.status} ${await start.text()}`);
  await start.json();
  const t1 = performance.now();
  const decided = await post('/api/idp/authorize', { ...params, consent_granted: true });
  const body = await decided.json();
  if (!String(body.redirect_uri ?? '').includes('code=')) throw new Error(`authorize: ${JSON.stringify(body)}`);
  return { start: t1 - t0, total: performance.now() - t0 };
}

async function measureAgents() {
  const redirectUri = 'http://127.0.0.1:9/callback';
  const docs = await metadataDocumentServer(redirectUri, 'Bench agent');
  try {
    const cold = [];
    const warm = [];
    for (let i = 0; i < RUNS; i++) {
      // A user per client: consent decisions are limited per session.
      const cookie = await signUpApi(newUser('bench-agent'));
      const id = `${docs.origin}/bench-${i}.json`;
      cold.push(await authorizeOnce(cookie, id, redirectUri));
      warm.push(await authorizeOnce(cookie, id, redirectUri));
    }
    return { cold, warm, fetches: docs.fetches() };
  } finally {
    await docs.close();
  }
}

async function main() {
  console.log(`Keyhouse e2e bench: ${RUNS} runs against ${config.baseUrl}`);
  if (!SERVER_PAINT) console.log('E2E_MEASURE_SERVER_PAINT=off: /idp without the server\'s paint and answer (as before they existed)');
  const { samples, cold, browserVersion } = await measureConsent();
  console.log(`chromium ${browserVersion}, viewport 1280x800\n`);
  console.log(`cold: a fresh context (empty HTTP cache, the signed-up context's cookies), ${COLD_RUNS} runs per profile; ms since navigation start`);
  const range = (s) => `${fmtMs(s.min)}–${fmtMs(s.max)}`;
  console.log(table(
    cold.flatMap(({ profile, samples: xs }) => {
      const name = summary(xs.map((x) => x.namePainted));
      const ready = summary(xs.map((x) => x.interactive));
      const bytes = summary(xs.map((x) => x.bytes));
      return [[profile, fmtMs(name.median), range(name), fmtMs(ready.median), range(ready), fmtBytes(bytes.median)]];
    }),
    ['profile', 'name painted', 'range', 'interactive', 'range', 'bytes on the wire'],
  ));
  console.log(`\nwarm: the signed-in context that signed up (assets in its HTTP cache), ${RUNS} runs`);

  const metrics = [
    ['interactive consent (performance.now)', 'interactive'],
    ['NT responseEnd', 'responseEnd'],
    ['NT domContentLoadedEventEnd', 'domContentLoadedEventEnd'],
    ['NT loadEventEnd', 'loadEventEnd'],
  ];
  const stats = {};
  const rows = metrics.map(([label, key]) => {
    const s = summary(samples.map((x) => x[key]));
    stats[key] = s;
    return [label, fmtMs(s.median), fmtMs(s.p90), fmtMs(s.min), fmtMs(s.max)];
  });
  console.log(table(rows, ['ms since navigation start', 'median', 'p90', 'min', 'max']));
  console.log(`(first run: interactive consent ${fmtMs(samples[0].interactive)} ms)\n`);

  const sizes = bundleSizes(config.distDir);
  if (sizes.wasm.length === 0) console.log(`no .wasm file under ${config.distDir}`);
  console.log(table(
    sizes.wasm.map((w) => [w.file, fmtBytes(w.raw), fmtBytes(w.gzip)]),
    ['wasm', 'raw', 'gzip -9'],
  ));
  console.log('');
  console.log(table(
    [...sizes.assets.map((a) => [a.file, fmtBytes(a.raw), fmtBytes(a.gzip)]), ['what /idp loads', fmtBytes(sizes.totalRaw), fmtBytes(sizes.totalGzip)]],
    ['asset', 'raw', 'gzip -9'],
  ));

  const agents = await measureAgents();
  console.log(`\nmetadata-document client, first authorization (cold: document fetched over https on loopback) and a later one (warm); ${agents.fetches} fetches for ${RUNS} clients`);
  console.log(table(
    [
      ['cold: authorize/start', ...Object.values(summary(agents.cold.map((x) => x.start))).map(fmtMs)],
      ['warm: authorize/start', ...Object.values(summary(agents.warm.map((x) => x.start))).map(fmtMs)],
      ['cold: start + decision', ...Object.values(summary(agents.cold.map((x) => x.total))).map(fmtMs)],
      ['warm: start + decision', ...Object.values(summary(agents.warm.map((x) => x.total))).map(fmtMs)],
    ],
    ['ms', 'median', 'p90', 'min', 'max'],
  ));

  mkdirSync(config.resultsDir, { recursive: true });
  const out = path.join(config.resultsDir, 'measure.json');
  writeFileSync(out, JSON.stringify({ runs: RUNS, coldRuns: COLD_RUNS, browserVersion, cold, stats, samples, sizes, agents }, null, 2) + '\n');
  console.log(`\nwrote ${out}`);
}

main().catch((e) => {
  console.error(`bench failed: ${e.stack ?? e}`);
  process.exit(1);
});
