// 8. docs/threat-model.md rows 14-16 in the browser: a client whose name and
//    description are HTML/script is shown as text, never run; the consent page
//    refuses to be framed by another site; and it carries no-referrer.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { browserTest, newContext } from '../lib/browser.mjs';
import { config } from '../lib/env.mjs';
import { newUser } from '../lib/users.mjs';
import { SimulatedGpt } from '../gpt.mjs';
import { AdminAppsPage, ConnectedAppsPage, ConsentPage, LoginPage, signUpThroughUi } from '../pages/index.mjs';

const HOSTILE_NAME = '<img src=x onerror="window.__pwned=1">Evil <script>window.__pwned=2</script>';

function registerHostileClient(redirectUri) {
  assert.ok(config.keyhouse, 'the runner must say how to run the keyhouse CLI');
  const out = execFileSync(
    config.keyhouse.bin,
    ['clients', 'create', '--name', HOSTILE_NAME, '--type', 'third_party', '--redirect-uri', redirectUri,
      '--description', '<b onmouseover="window.__pwned=3">bold?</b>', '--json'],
    { env: { ...process.env, ...config.keyhouse.env }, encoding: 'utf8' },
  );
  return JSON.parse(out.trim());
}

browserTest('a hostile client name is rendered as text and the consent page cannot be framed', async ({ page }) => {
  const client = registerHostileClient(new SimulatedGpt().redirectUri);
  const gpt = new SimulatedGpt({ clientId: client.client_id, clientSecret: client.client_secret });
  await gpt.start();
  try {
    await signUpThroughUi(page, newUser('hostile'));
    const consent = new ConsentPage(page);
    const response = await page.goto(gpt.authorizeUrl());
    assert.equal(response.headers()['referrer-policy'], 'no-referrer', 'the /idp page must send Referrer-Policy: no-referrer');
    assert.match(response.headers()['content-security-policy'] ?? '', /frame-ancestors 'none'/);
    await consent.waitForConsent();
    assert.equal((await consent.clientName.textContent()).trim(), HOSTILE_NAME, 'the name is shown verbatim, as text');
    assert.equal(await page.locator('[data-testid="consent"] img[src="x"]').count(), 0, 'no element was injected from the name');
    assert.equal(await page.locator('[data-testid="consent"] b').count(), 0, 'no element was injected from the description');
    assert.equal(await page.evaluate(() => window.__pwned), undefined, 'no injected script ran');

    // Another site frames the consent page (clickjacking): Chromium must refuse to render it.
    const framer = await page.context().newPage();
    try {
      await framer.route('http://framer.test/', (route) =>
        route.fulfill({ contentType: 'text/html', body: `<iframe id="f" src="${gpt.authorizeUrl()}" width="800" height="600"></iframe>` }),
      );
      await framer.goto('http://framer.test/');
      const frame = await (await framer.waitForSelector('#f')).contentFrame();
      // A blocked frame never gets the app: no consent screen inside, whatever the error page looks like.
      await frame.waitForLoadState('load').catch(() => {});
      const inner = await frame.locator('[data-testid="consent"], [data-testid="idp-loading"]').count();
      assert.equal(inner, 0, `the consent page rendered inside a cross-site frame (frame url ${frame.url()})`);
      assert.match(frame.url(), /^chrome-error:/, `Chromium must replace the framed page with its error page, the frame is at ${frame.url()}`);
    } finally {
      await framer.close();
    }
    assert.equal(gpt.requestCount, 0, 'nothing was sent to the client');
  } finally {
    await gpt.stop();
  }
});

browserTest('the hostile name stays text on the connected-apps page and in the dashboard', async ({ page }) => {
  const client = registerHostileClient(new SimulatedGpt().redirectUri);
  const gpt = new SimulatedGpt({ clientId: client.client_id, clientSecret: client.client_secret });
  await gpt.start();
  try {
    await signUpThroughUi(page, newUser('hostile-apps'));
    const consent = new ConsentPage(page);
    await consent.goto(gpt.authorizeUrl());
    await consent.waitForConsent();
    await consent.approve();
    const cb = await gpt.waitForCallback();
    assert.ok(cb.get('code'), 'the client got a code');
    // Let the browser finish arriving at the client before leaving again.
    await page.waitForURL((u) => u.origin === gpt.origin, { waitUntil: 'load' });

    // The user's own list of connected apps (docs/threat-model.md row 15 on this page).
    const apps = new ConnectedAppsPage(page);
    await apps.goto();
    const name = apps.app(client.client_id).getByTestId('connected-app-name');
    assert.equal((await name.textContent()).trim(), HOSTILE_NAME, 'the name is shown verbatim, as text');
    assert.equal(await page.locator('main img[src="x"], main b').count(), 0, 'no element was injected');
    assert.equal(await page.evaluate(() => window.__pwned), undefined, 'no injected script ran');
  } finally {
    await gpt.stop();
  }
  // The operator's dashboard lists it as text too.
  const ops = await newContext(page.context().browser());
  try {
    const opsPage = await ops.newPage();
    const login = new LoginPage(opsPage);
    await login.goto('/admin');
    await login.submitCredentials(config.admin);
    const list = new AdminAppsPage(opsPage);
    await list.waitReady();
    const row = list.row(client.client_id);
    await row.waitFor({ state: 'visible' });
    assert.equal((await row.getByTestId('admin-app-name').textContent()).trim(), HOSTILE_NAME);
    assert.equal(await opsPage.locator('main img[src="x"], main b').count(), 0, 'no element was injected in the dashboard');
    assert.equal(await opsPage.evaluate(() => window.__pwned), undefined, 'no injected script ran in the dashboard');
  } finally {
    await ops.close();
  }
});

// docs/threat-model.md row 55: the consent page loads nothing from a third
// party. A client registered with a logo on its own host is shown with
// initials; any request that would leave our origin is caught by the test
// (and aborted, so no packet leaves this machine) and fails it.
browserTest('the consent page loads nothing from a third party, not even the client logo', async ({ page }) => {
  const ours = new URL(config.baseUrl).origin;
  const gpt = new SimulatedGpt();
  const out = execFileSync(
    config.keyhouse.bin,
    ['clients', 'create', '--name', 'Logo GPT', '--type', 'third_party', '--redirect-uri', gpt.redirectUri,
      '--logo-uri', 'https://logos.invalid/logo.png', '--json'],
    { env: { ...process.env, ...config.keyhouse.env }, encoding: 'utf8' },
  );
  const client = JSON.parse(out.trim());
  const logged = new SimulatedGpt({ clientId: client.client_id, clientSecret: client.client_secret });
  await logged.start();
  const foreign = [];
  await page.context().route((url) => url.origin !== ours && url.origin !== logged.origin, (route) => {
    foreign.push(route.request().url());
    return route.abort();
  });
  try {
    await signUpThroughUi(page, newUser('logo'));
    const consent = new ConsentPage(page);
    await consent.goto(logged.authorizeUrl());
    await consent.waitForConsent();
    // The logo would be asked for as the consent screen renders; give a
    // late request time to show.
    await page.waitForTimeout(500);
    assert.deepEqual(foreign, [], 'the consent page asked another host for something');
    // The logo is asked of Keyhouse, which refuses to fetch it from a
    // private address: the initials stand in, no broken image.
    const initials = page.locator('[data-testid="consent"] .kh-consent__logo--initials');
    await initials.waitFor();
    assert.equal(await page.locator('[data-testid="consent"] img').count(), 0, 'no broken logo image');
    const res = await fetch(`${ours}/api/idp/logo?client_id=${encodeURIComponent(client.client_id)}`);
    assert.equal(res.status, 404, 'Keyhouse would not fetch the logo');
  } finally {
    await page.context().unrouteAll({ behavior: "ignoreErrors" }).catch(() => {});
    await logged.stop();
  }
});
