// 3. A signed-in user denies Notes GPT: the GPT gets error=access_denied with its state and no code.
import assert from 'node:assert/strict';
import { browserTest } from '../lib/browser.mjs';
import { config } from '../lib/env.mjs';
import { newUser } from '../lib/users.mjs';
import { SimulatedGpt } from '../gpt.mjs';
import { ConsentPage, signUpThroughUi, waitForUrl } from '../pages/index.mjs';

browserTest('denying consent sends access_denied to the GPT', async ({ page }) => {
  const gpt = new SimulatedGpt();
  await gpt.start();
  try {
    await signUpThroughUi(page, newUser('deny'));

    const consent = new ConsentPage(page);
    await consent.goto(gpt.authorizeUrl());
    await consent.waitForConsent();
    assert.equal(new URL(page.url()).pathname, '/idp', `a signed-in user should see consent on /idp, is at ${page.url()}`);
    assert.equal(gpt.requestCount, 0, 'the GPT must not hear anything before the user decides');

    await consent.deny();
    const cb = await gpt.waitForCallback(15_000); // also checks state
    assert.equal(cb.get('error'), 'access_denied', `the callback should carry error=access_denied, got ${cb}`);
    assert.equal(cb.get('state'), gpt.state, 'the callback should carry the GPT\'s state');
    assert.equal(cb.get('code'), null, `a denied request must not carry a code, got ${cb}`);
    await waitForUrl(page, (u) => u.origin === gpt.origin && u.pathname === '/callback', 'the GPT\'s /callback');
    assert.ok(!page.url().startsWith(config.baseUrl), 'the browser should have left the app for the GPT');
  } finally {
    await gpt.stop();
  }
});
