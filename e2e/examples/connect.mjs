// What every example's spec checks: a GPT connects through the example's
// own /idp page, after the example's own sign-in, and calls its API.
import assert from 'node:assert/strict';
import { screenshot } from '../lib/browser.mjs';
import { config } from '../lib/env.mjs';
import { decodeJwtPayload, SimulatedGpt } from '../gpt.mjs';
import { ConsentPage } from '../pages/consent.mjs';

export const GREETING_SCOPE = 'openid profile email greeting:read offline_access';

/**
 * Opens the GPT's authorize URL in `page` (no session), expects the app's
 * sign-in page at `loginPath` with `returnTo` set to the /idp request,
 * lets `signIn(page)` sign in there, approves consent, and checks the
 * code, the tokens and a call to /api/greeting.
 * @returns {Promise<{idToken: object, greeting: string}>}
 */
export async function connectGpt(page, { loginPath, signIn, name }) {
  const gpt = new SimulatedGpt({ scope: GREETING_SCOPE });
  await gpt.start();
  try {
    await page.goto(gpt.authorizeUrl());
    await page.waitForURL((u) => u.pathname === loginPath, { timeout: 15_000 });
    const returnTo = new URL(page.url()).searchParams.get('returnTo');
    assert.ok(returnTo?.startsWith('/idp?'), `returnTo should be the /idp request, got ${returnTo}`);
    assert.equal(new URLSearchParams(returnTo.slice(5)).get('client_id'), gpt.clientId);
    await screenshot(page, `${process.env.E2E_EXAMPLE}-sign-in`);

    await signIn(page);

    await page.waitForURL((u) => u.pathname === '/idp', { timeout: 15_000 });
    const consent = new ConsentPage(page);
    await consent.waitForConsent();
    assert.equal((await consent.clientName.textContent()).trim(), 'Greeting GPT');
    await screenshot(page, `${process.env.E2E_EXAMPLE}-consent`);
    await consent.approve();

    const q = await gpt.waitForCallback();
    assert.ok(q.get('code'), `the callback carries a code: ${q}`);
    const tokens = await gpt.exchange(q.get('code'));
    assert.ok(tokens.refresh_token, 'offline_access gives a refresh token');
    const idToken = decodeJwtPayload(tokens.id_token);
    assert.equal(idToken.iss, config.baseUrl);
    assert.equal(idToken.name, name);

    const r = await gpt.api('GET', '/api/greeting', { token: tokens.access_token });
    assert.equal(r.status, 200, `GET /api/greeting: ${r.text}`);
    assert.equal(r.body.message, `Hello, ${name}!`);
    const anonymous = await gpt.api('GET', '/api/greeting');
    assert.equal(anonymous.status, 401, 'no token, no greeting');

    // Refreshed, the token still works; the user's name came from the app.
    const refreshed = await gpt.refresh(tokens.refresh_token);
    const again = await gpt.api('GET', '/api/greeting', { token: refreshed.access_token });
    assert.equal(again.status, 200);
    return { idToken, greeting: r.body.message };
  } finally {
    await gpt.stop();
  }
}
