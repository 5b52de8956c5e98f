// 21. The consent screen before the wasm: the server renders /idp with the
//     authorize start's answer in it. With the bundle held back, the client's
//     name, the scopes and the two buttons are on screen, and the buttons
//     work: they submit the decision's form (Allow sends the client a code
//     before any wasm has run). With JavaScript off the same screen works,
//     without the notice that JavaScript is needed. Once the bundle runs, the
//     screen is live without a call to /api/idp/authorize/start (the page's
//     answer is used), and Allow works through the script. The organization
//     side (/org/idp) does the same for a member. An answer written for
//     another page is left alone (the component asks the API).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { browserTest, screenshot } from '../lib/browser.mjs';
import { config } from '../lib/env.mjs';
import { newUser } from '../lib/users.mjs';
import { B2B_GPT_SCOPE, SimulatedGpt } from '../gpt.mjs';
import { B2BConsentPage, ConsentPage, OrgLoginPage, OrgNotesPage, signUpThroughUi, textOf } from '../pages/index.mjs';

/** Holds every wasm request of `page` until `release()` is called. */
async function holdWasm(page) {
  const held = [];
  let released = false;
  await page.route('**/*.wasm', (route) => {
    if (released) return route.continue();
    held.push(route);
    return undefined;
  });
  return {
    count: () => held.length,
    release: async () => {
      released = true;
      for (const r of held.splice(0)) await r.continue();
    },
  };
}

/** Counts the page's requests whose path is `path`. */
function countRequests(page, path) {
  const seen = { n: 0 };
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === path) seen.n += 1;
  });
  return seen;
}

/** The outer HTML of the first element matching `selector`, read through DevTools (works with JavaScript off). */
async function outerHtml(page, selector) {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { root } = await cdp.send('DOM.getDocument', { depth: 0 });
    const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector });
    if (!nodeId) return null;
    return (await cdp.send('DOM.getOuterHTML', { nodeId })).outerHTML;
  } finally {
    await cdp.detach().catch(() => {});
  }
}

/** Whether the approve and deny buttons are both disabled. */
const buttonsDisabled = (page) =>
  page.evaluate(() => ['consent-approve', 'consent-deny'].map((id) => document.querySelector(`[data-testid="${id}"]`)?.disabled));

/** Clicks the first element matching `selector` with the mouse, found through DevTools (works with JavaScript off). */
async function clickThroughDevTools(page, selector) {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { root } = await cdp.send('DOM.getDocument', { depth: 0 });
    const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector });
    assert.ok(nodeId, `${selector} is on the page`);
    await cdp.send('DOM.scrollIntoViewIfNeeded', { nodeId });
    const { model } = await cdp.send('DOM.getBoxModel', { nodeId });
    const [x1, y1, , , x3, y3] = model.content;
    await page.mouse.click((x1 + x3) / 2, (y1 + y3) / 2);
  } finally {
    await cdp.detach().catch(() => {});
  }
}

/** Whether the first element matching `selector` is laid out (has a box), read through DevTools. */
async function laidOut(page, selector) {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { root } = await cdp.send('DOM.getDocument', { depth: 0 });
    const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector });
    if (!nodeId) return false;
    return await cdp.send('DOM.getBoxModel', { nodeId }).then(() => true, () => false);
  } finally {
    await cdp.detach().catch(() => {});
  }
}

/** Checks the server-painted screen while the bundle is held, then lets it run. */
async function paintedThenLive(page, url, { startPath, clientName, screenshotName, members = false }) {
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const starts = countRequests(page, startPath);
  const wasm = await holdWasm(page);
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  const consent = members ? new B2BConsentPage(page) : new ConsentPage(page);
  await consent.clientName.waitFor({ state: 'visible' });
  assert.equal(await textOf(consent.clientName), clientName, 'the server-painted screen names the client');
  assert.ok((await consent.scopes.count()) > 0, 'the server-painted screen lists what is asked');
  assert.deepEqual(await buttonsDisabled(page), [false, false], 'before the bundle runs, both buttons work (they submit the form)');
  // Styled before the wasm, by stylesheets in the page that its policy
  // admits (no link to wait for, no violation).
  const styles = await page.evaluate(() => ({
    links: document.querySelectorAll('link[rel="stylesheet"]').length,
    inline: document.querySelectorAll('style').length,
    radius: getComputedStyle(document.querySelector('[data-testid="consent"]')).borderTopLeftRadius,
    violations: window.__cspViolations ?? [],
  }));
  assert.equal(styles.links, 0, 'no stylesheet link holds the paint back');
  assert.ok(styles.inline >= 2, `the stylesheets are in the page: ${styles.inline}`);
  assert.notEqual(styles.radius, '0px', 'the painted screen is styled');
  assert.deepEqual(styles.violations, [], 'nothing on the page breaks its policy');
  assert.ok(wasm.count() >= 1, 'the bundle was asked for and is being held');
  await screenshot(page, screenshotName);
  await wasm.release();
  await consent.waitForConsent();
  assert.equal(await textOf(consent.clientName), clientName, 'the live screen names the same client');
  assert.equal(starts.n, 0, `the component used the page's answer: no ${startPath} request`);
  return consent;
}

browserTest('the consent screen is painted by the server, then goes live without asking again', async ({ page, newContext }) => {
  const gpt = new SimulatedGpt();
  await gpt.start();
  try {
    await signUpThroughUi(page, newUser('first-paint'));
    const consent = await paintedThenLive(page, gpt.authorizeUrl(), {
      startPath: '/api/idp/authorize/start',
      clientName: config.gpt.name,
      screenshotName: 'consent-first-paint',
    });
    await consent.approve();
    const cb = await gpt.waitForCallback(15_000);
    assert.ok(cb.get('code'), `Allow sent a code: ${cb}`);
    assert.equal(cb.get('state'), gpt.state, 'state comes back');

    // With JavaScript off the same screen is there, and it works: Allow
    // submits the form and the client gets its code. (Playwright's own
    // page calls need JavaScript: the page is read and clicked through
    // DevTools.)
    const noJs = await newContext({ javaScriptEnabled: false, storageState: await page.context().storageState() });
    const still = await noJs.newPage();
    await still.goto(gpt.authorizeUrl());
    const name = await outerHtml(still, '[data-testid="consent-client-name"]');
    assert.ok(name?.includes(`>${config.gpt.name}<`), `without JavaScript the client is named: ${name}`);
    for (const id of ['consent-approve', 'consent-deny']) {
      const button = await outerHtml(still, `[data-testid="${id}"]`);
      assert.match(button ?? '', /^<button type="submit"/, `without JavaScript ${id} submits the form: ${button}`);
      assert.doesNotMatch(button ?? '', / disabled[ =>]/, `without JavaScript ${id} works: ${button}`);
    }
    assert.equal(await laidOut(still, '.kh-noscript'), false, 'no notice that JavaScript is needed: it is not');
    const file = path.join(config.screenshotDir, 'consent-no-javascript.png');
    mkdirSync(config.screenshotDir, { recursive: true });
    await still.screenshot({ path: file, fullPage: true });
    await clickThroughDevTools(still, '[data-testid="consent-approve"]');
    const noScript = await gpt.waitForCallback(15_000);
    assert.ok(noScript.get('code'), `Allow without JavaScript sent a code: ${noScript}`);
    assert.equal(noScript.get('state'), gpt.state, 'state comes back');
    await gpt.exchange(noScript.get('code'));
  } finally {
    await gpt.stop();
  }
});

browserTest('Allow on the server\'s paint works before the bundle has loaded', async ({ page }) => {
  const gpt = new SimulatedGpt();
  await gpt.start();
  try {
    await signUpThroughUi(page, newUser('first-paint-early'));
    const wasm = await holdWasm(page);
    await page.goto(gpt.authorizeUrl(), { waitUntil: 'domcontentloaded' });
    const consent = new ConsentPage(page);
    await consent.clientName.waitFor({ state: 'visible' });
    await page.getByTestId('consent-approve').click();
    const cb = await gpt.waitForCallback(15_000);
    assert.ok(cb.get('code'), `Allow sent a code: ${cb}`);
    assert.ok(wasm.count() >= 1, 'the bundle was still held: the form did it');
    const tokens = await gpt.exchange(cb.get('code'));
    assert.ok(tokens.access_token, 'the code is a real one');
  } finally {
    await gpt.stop();
  }
});

browserTest('a member\'s consent at /org/idp is painted by the server too', async ({ page }) => {
  const gpt = new SimulatedGpt({ authorizePath: '/org/idp', scope: B2B_GPT_SCOPE });
  await gpt.start();
  try {
    const login = new OrgLoginPage(page);
    await login.goto();
    await login.login(config.b2b.member, 'acme');
    await new OrgNotesPage(page).waitReady();
    const consent = await paintedThenLive(page, gpt.authorizeUrl(), {
      startPath: '/api/b2b/idp/authorize/start',
      clientName: config.gpt.name,
      screenshotName: 'org-consent-first-paint',
      members: true,
    });
    assert.equal(await textOf(page.getByTestId('consent-organization')), 'Acme Inc', 'the organization is named');
    await consent.approve();
    const cb = await gpt.waitForCallback(15_000);
    assert.ok(cb.get('code'), `Allow sent a code: ${cb}`);
  } finally {
    await gpt.stop();
  }
});

browserTest('an answer written for another page is not used: the component asks the API', async ({ page }) => {
  const gpt = new SimulatedGpt();
  await gpt.start();
  try {
    await signUpThroughUi(page, newUser('first-paint-other'));
    // The page arrives with its data block naming another request (as a
    // proxy that rewrote the URL would leave it).
    await page.route('**/idp?*', async (route) => {
      const response = await route.fetch();
      const body = (await response.text()).replace('"page":"/idp?', '"page":"/idp?other=1&');
      await route.fulfill({ response, body });
    });
    const starts = countRequests(page, '/api/idp/authorize/start');
    await page.goto(gpt.authorizeUrl());
    const consent = new ConsentPage(page);
    await consent.waitForConsent();
    assert.equal(starts.n, 1, 'the component asked the API itself');
    assert.equal(await textOf(consent.clientName), config.gpt.name);
    await consent.approve();
    const cb = await gpt.waitForCallback(15_000);
    assert.ok(cb.get('code'), `Allow sent a code: ${cb}`);
  } finally {
    await gpt.stop();
  }
});
