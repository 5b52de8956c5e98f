// Debian's chromium through playwright-core, plus the per-test harness:
// `browserTest(name, fn)` gives every test a fresh context and page, a hard
// time limit, and on failure a screenshot of every open page and a log of what
// the pages did (navigations, console errors, failed requests).

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { chromium } from 'playwright-core';
import { config } from './env.mjs';

export const LAUNCH_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const DESKTOP = { width: 1280, height: 800 };
export const MOBILE = { width: 390, height: 844 };

/** Default time limit of one test body, in ms (the brief's ceiling is 60 s). */
export const TEST_TIMEOUT = 60_000;
/** Default time limit of one Playwright action or wait, in ms. */
export const ACTION_TIMEOUT = 15_000;
/** Default time limit of one navigation, in ms. */
export const NAVIGATION_TIMEOUT = 30_000;

/**
 * Launches headless chromium. Playwright adds --headless and a fresh temporary
 * --user-data-dir itself.
 * @returns {Promise<import('playwright-core').Browser>}
 */
export async function launchBrowser(extraArgs = []) {
  return chromium.launch({
    executablePath: config.chromium,
    headless: true,
    args: [...LAUNCH_ARGS, ...extraArgs],
  });
}

/**
 * A fresh context (no cookies, no storage) whose relative URLs resolve against the server.
 * @param {import('playwright-core').Browser} browser
 * @param {import('playwright-core').BrowserContextOptions} [options]
 */
export async function newContext(browser, options = {}) {
  const context = await browser.newContext({
    baseURL: config.baseUrl,
    viewport: DESKTOP,
    locale: 'en-US',
    timezoneId: 'UTC',
    ...options,
  });
  context.setDefaultTimeout(ACTION_TIMEOUT);
  context.setDefaultNavigationTimeout(NAVIGATION_TIMEOUT);
  return context;
}

export function slug(s) {
  return String(s).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80) || 'test';
}

/** Resolves after the page has laid out and painted twice (no fixed delay). */
export async function settle(page) {
  await page.evaluate(
    () =>
      new Promise((resolve) => {
        const fonts = document.fonts ? document.fonts.ready : Promise.resolve();
        fonts.then(() => requestAnimationFrame(() => requestAnimationFrame(() => resolve())));
      }),
  );
}

/**
 * Full-page screenshot to test-results/screenshots/<name>.png at the current viewport.
 * @returns {Promise<string>} the file written
 */
export async function screenshot(page, name) {
  mkdirSync(config.screenshotDir, { recursive: true });
  const file = path.join(config.screenshotDir, `${name}.png`);
  await settle(page);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * `<name>.png` at 1280 wide, then `<name>-mobile.png` at 390x844; the
 * viewport is restored afterwards.
 */
export async function screenshotDesktopAndMobile(page, name) {
  const before = page.viewportSize() ?? DESKTOP;
  const files = [];
  await page.setViewportSize(DESKTOP);
  files.push(await screenshot(page, name));
  await page.setViewportSize(MOBILE);
  try {
    files.push(await screenshot(page, `${name}-mobile`));
  } finally {
    await page.setViewportSize(before);
  }
  return files;
}

// ---------------------------------------------------------------------------
// Per-test harness
// ---------------------------------------------------------------------------

let browserPromise = null;
let hooksRegistered = false;
let sharedArgs = [];

/**
 * More chromium flags for the browser this spec file's tests share (each
 * file runs in its own process); call at the top of the file, before any
 * test has started the browser.
 * @param {string[]} args
 */
export function useLaunchArgs(args) {
  if (browserPromise) throw new Error('useLaunchArgs: the browser is already running');
  sharedArgs = [...args];
}

async function sharedBrowser() {
  if (!browserPromise) browserPromise = launchBrowser(sharedArgs);
  return browserPromise;
}

/** Records what a context's pages do, for the failure log. */
function watch(context, journal, label) {
  const note = (line) => {
    journal.push(`[${new Date().toISOString()}] ${label} ${line}`);
    if (journal.length > 500) journal.shift();
  };
  const onPage = (page) => {
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) note(`navigated ${frame.url()}`);
    });
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warning') note(`console.${msg.type()} ${msg.text()}`);
    });
    page.on('pageerror', (err) => note(`pageerror ${err.message}`));
    page.on('requestfailed', (req) => note(`requestfailed ${req.method()} ${req.url()} ${req.failure()?.errorText ?? ''}`));
    page.on('response', (res) => {
      if (res.status() >= 400) note(`http ${res.status()} ${res.request().method()} ${res.url()}`);
    });
  };
  context.pages().forEach(onPage);
  context.on('page', onPage);
}

async function saveFailure(name, contexts, journal, t, err) {
  const dir = path.join(config.resultsDir, 'failures');
  mkdirSync(dir, { recursive: true });
  const base = slug(name);
  const lines = [`test: ${name}`, `error: ${err?.stack ?? err}`, ''];
  let n = 0;
  for (const context of contexts) {
    for (const page of context.pages()) {
      n += 1;
      const file = path.join(dir, `${base}-${n}.png`);
      try {
        await page.screenshot({ path: file, fullPage: true, timeout: 5_000 });
        lines.push(`page ${n}: ${page.url()} -> ${file}`);
        t.diagnostic(`failure screenshot: ${file} (url ${page.url()})`);
      } catch (e) {
        lines.push(`page ${n}: ${page.url()} (no screenshot: ${e.message})`);
      }
    }
  }
  lines.push('', 'journal:', ...journal);
  const logFile = path.join(dir, `${base}.log`);
  writeFileSync(logFile, lines.join('\n') + '\n');
  t.diagnostic(`failure log: ${logFile}`);
  for (const line of journal.slice(-15)) t.diagnostic(line);
}

/**
 * Registers a node:test test with its own browser context.
 *
 *   browserTest('does things', async ({ page, context, newContext, browser, t }) => { ... })
 *
 * `newContext()` opens another fresh context (for example a second, signed-out
 * browser); every context is closed afterwards and is screenshotted on failure.
 *
 * @param {string} name
 * @param {(h: {page: import('playwright-core').Page, context: import('playwright-core').BrowserContext,
 *   newContext: (o?: import('playwright-core').BrowserContextOptions) => Promise<import('playwright-core').BrowserContext>,
 *   browser: import('playwright-core').Browser, t: import('node:test').TestContext}) => Promise<void>} fn
 * @param {{timeout?: number}} [options]
 */
export function browserTest(name, fn, { timeout = TEST_TIMEOUT } = {}) {
  if (!hooksRegistered) {
    hooksRegistered = true;
    after(async () => {
      if (browserPromise) {
        const b = await browserPromise.catch(() => null);
        await b?.close().catch(() => {});
      }
    });
  }
  // node:test's own limit is a backstop; the race below fires first and leaves artefacts.
  test(name, { timeout: timeout + 20_000 }, async (t) => {
    const browser = await sharedBrowser();
    const contexts = [];
    const journal = [];
    const open = async (options) => {
      const c = await newContext(browser, options);
      watch(c, journal, `ctx${contexts.length + 1}`);
      contexts.push(c);
      return c;
    };
    const context = await open();
    const page = await context.newPage();
    let timer;
    const limit = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`test "${name}" did not finish within ${timeout} ms (last URL: ${page.url()})`)),
        timeout,
      );
    });
    const body = Promise.resolve().then(() => fn({ page, context, newContext: open, browser, t }));
    body.catch(() => {}); // after a timeout the body's own rejection is expected and ignored
    try {
      await Promise.race([body, limit]);
    } catch (err) {
      await saveFailure(name, contexts, journal, t, err).catch((e) => t.diagnostic(`could not save failure artefacts: ${e.message}`));
      throw err;
    } finally {
      clearTimeout(timer);
      for (const c of contexts) await c.close().catch(() => {});
    }
  });
}

/**
 * Records every URL the page's main frame commits to (full navigations and
 * history.pushState alike), from now on.
 * @returns {string[]} a live array
 */
export function recordNavigations(page) {
  const urls = [];
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) urls.push(frame.url());
  });
  return urls;
}
