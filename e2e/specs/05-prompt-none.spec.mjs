// 5. prompt=none without a session: no UI at all; the browser goes straight back
//    to the GPT with error=login_required and its state (OIDC Core §3.1.2.6).
import assert from 'node:assert/strict';
import { browserTest, recordNavigations } from '../lib/browser.mjs';
import { config } from '../lib/env.mjs';
import { SimulatedGpt } from '../gpt.mjs';
import { waitForUrl } from '../pages/index.mjs';

browserTest('prompt=none without a session answers login_required without showing the login page', async ({ page }) => {
  const gpt = new SimulatedGpt();
  await gpt.start();
  try {
    const navigations = recordNavigations(page);
    // Also catch a login form rendered in place, without a URL change.
    let loginFormSeen = false;
    await page.exposeFunction('__e2eLoginFormSeen', () => {
      loginFormSeen = true;
    });
    await page.addInitScript(() => {
      let told = false;
      new MutationObserver(() => {
        if (!told && document.querySelector('[data-testid="login-email"],[data-testid="login-submit"]')) {
          told = true;
          window.__e2eLoginFormSeen?.();
        }
      }).observe(document, { childList: true, subtree: true });
    });

    await page.goto(gpt.authorizeUrl({ prompt: 'none' }), { waitUntil: 'commit' });
    const cb = await gpt.waitForCallback(15_000); // also checks state
    assert.equal(cb.get('error'), 'login_required', `the callback should carry error=login_required, got ${cb}`);
    assert.equal(cb.get('state'), gpt.state, 'the callback should carry the GPT\'s state');
    assert.equal(cb.get('code'), null, `no code without a session, got ${cb}`);
    await waitForUrl(page, (u) => u.origin === gpt.origin && u.pathname === '/callback', 'the GPT\'s /callback');

    const onApp = navigations.map((u) => new URL(u)).filter((u) => u.origin === config.baseUrl);
    const paths = onApp.map((u) => u.pathname);
    assert.ok(!loginFormSeen, 'no login form may be rendered for prompt=none');
    assert.ok(!paths.includes('/login'), `the login page must never be shown for prompt=none, navigations: ${navigations.join(' -> ')}`);
    assert.ok(paths.every((p) => p === '/idp'), `only /idp may be visited on the app, navigations: ${navigations.join(' -> ')}`);
  } finally {
    await gpt.stop();
  }
});
