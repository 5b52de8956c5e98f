// 4. Authorization requests that must NOT redirect (RFC 6749 §4.1.2.1): the
//    redirect URI is not the registered one, the client is unknown, or the
//    request is malformed before the client is known. The /idp page shows an
//    error (idp-error + idp-error-code) and the browser stays on the app.
import assert from 'node:assert/strict';
import { browserTest, recordNavigations, screenshot } from '../lib/browser.mjs';
import { config } from '../lib/env.mjs';
import { newUser } from '../lib/users.mjs';
import { SimulatedGpt } from '../gpt.mjs';
import { ConsentPage, signUpThroughUi } from '../pages/index.mjs';

/**
 * Opens `url` and returns the error shown; asserts the browser stayed on /idp.
 */
async function openExpectingError(page, url) {
  const navigations = recordNavigations(page);
  const idp = new ConsentPage(page);
  await idp.goto(url);
  const o = await idp.outcome();
  assert.equal(o.kind, 'error', `a bad request must show idp-error on /idp; instead: ${o.kind} (${o.url})`);
  const shown = await idp.waitForError();
  const at = new URL(page.url());
  assert.equal(at.origin, config.baseUrl, `the error must be shown on the app's origin, the browser is at ${page.url()}`);
  assert.equal(at.pathname, '/idp', `the error must be shown on /idp, the browser is at ${page.url()}`);
  const left = navigations.filter((u) => new URL(u).origin !== config.baseUrl);
  assert.deepEqual(left, [], `the browser must not navigate away from the app, it went to ${left.join(', ')}`);
  assert.equal(await idp.root.count(), 0, 'no consent screen may be shown for a bad request');
  assert.ok(shown.heading.length > 0, `idp-error should have a heading, shows: ${JSON.stringify(shown.text)}`);
  assert.ok(shown.text.length > shown.code.length, `idp-error should explain the problem beyond the code, shows: ${JSON.stringify(shown.text)}`);
  return shown;
}

browserTest('bad authorization requests show an error and never redirect', async ({ page }) => {
  const gpt = new SimulatedGpt();
  await gpt.start();
  try {
    await signUpThroughUi(page, newUser('badreq'));

    // (a) The registered client with a redirect_uri it did not register.
    const other = `http://127.0.0.1:${gpt.port}/other`;
    const a = await openExpectingError(page, gpt.authorizeUrl({ redirect_uri: other }));
    assert.equal(a.code, 'invalid_request', `an unregistered redirect_uri should show invalid_request, shows ${JSON.stringify(a)}`);
    await screenshot(page, 'error');
    assert.equal(gpt.requestCount, 0, `the GPT's listener must get no request at all, got ${gpt.requests.map((r) => r.path).join(', ')}`);

    // (b) A client_id nobody registered.
    const b = await openExpectingError(page, gpt.authorizeUrl({ client_id: `no-such-client-${Date.now()}` }));
    assert.match(b.code, /^[a-z_]+$/, `idp-error-code should be an OAuth error code, shows ${JSON.stringify(b.code)}`);
    assert.equal(b.code, 'invalid_client', `an unknown client_id should show invalid_client, shows ${JSON.stringify(b)}`);
    assert.match(b.text, /app|application|client/i, `the error should say the application is the problem, shows ${JSON.stringify(b.text)}`);

    // (c) Malformed before the client is known: no client_id at all.
    const c = await openExpectingError(page, gpt.authorizeUrl({ client_id: null }));
    assert.equal(c.code, 'invalid_request', `a request without client_id should show invalid_request, shows ${JSON.stringify(c)}`);

    assert.equal(gpt.requestCount, 0, `the GPT's listener must get no request at all, got ${gpt.requests.map((r) => r.path).join(', ')}`);
  } finally {
    await gpt.stop();
  }
});

browserTest('a signed-out visitor sees the error too, without a detour through login', async ({ page }) => {
  const gpt = new SimulatedGpt();
  await gpt.start();
  try {
    // The server checks client and redirect URI before the session, so a
    // link that can never work is explained at once, not after signing in.
    const navigations = recordNavigations(page);
    const other = `http://127.0.0.1:${gpt.port}/other`;
    const a = await openExpectingError(page, gpt.authorizeUrl({ redirect_uri: other }));
    assert.equal(a.code, 'invalid_request', `shows ${JSON.stringify(a)}`);
    const b = await openExpectingError(page, gpt.authorizeUrl({ client_id: `no-such-client-${Date.now()}` }));
    assert.equal(b.code, 'invalid_client', `shows ${JSON.stringify(b)}`);
    const login = navigations.filter((u) => new URL(u).pathname === '/login');
    assert.deepEqual(login, [], `the login page must not be shown for a bad request, saw ${login.join(', ')}`);
    assert.equal(gpt.requestCount, 0, 'the GPT must get no request');
  } finally {
    await gpt.stop();
  }
});
