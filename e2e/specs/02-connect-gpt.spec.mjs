// 2. The headline flow: a user connects "Notes GPT" (a ChatGPT custom GPT with an
//    OAuth Action) to their notes. The GPT's authorize URL is opened in a browser
//    that has no session; the user logs in, is brought back to /idp, approves,
//    and the GPT exchanges the code, refreshes, and reads the user's notes.
import assert from 'node:assert/strict';
import { browserTest, screenshot, screenshotDesktopAndMobile } from '../lib/browser.mjs';
import { config } from '../lib/env.mjs';
import { newUser } from '../lib/users.mjs';
import { decodeJwtPayload, SimulatedGpt, TokenError } from '../gpt.mjs';
import { ConsentPage, LoginPage, isAt, signUpThroughUi, waitForUrl } from '../pages/index.mjs';

const isInvalidGrant = (what) => (e) => {
  assert.ok(e instanceof TokenError, `${what}: expected an error answer from the token endpoint, got ${e}`);
  assert.equal(e.status, 400, `${what}: expected HTTP 400 (RFC 6749 §5.2), got ${e.status}: ${JSON.stringify(e.body)}`);
  assert.equal(e.body?.error, 'invalid_grant', `${what}: expected error invalid_grant, got ${JSON.stringify(e.body)}`);
  return true;
};

browserTest('a user connects Notes GPT, which then reads their notes', async ({ page, newContext }) => {
  const gpt = new SimulatedGpt();
  await gpt.start();
  try {
    // The user has an account with a note.
    const user = newUser('gpt');
    const notes = await signUpThroughUi(page, user);
    await notes.createNote({ title: 'Groceries', body: 'milk, eggs, bread' });
    await screenshot(page, 'notes');

    // ChatGPT opens the authorize URL in a browser where the user is not signed in.
    const browser2 = await newContext();
    const p = await browser2.newPage();
    const authorizeUrl = gpt.authorizeUrl();
    assert.ok(!new URL(authorizeUrl).searchParams.has('code_challenge'), 'the simulated GPT sends no PKCE, like ChatGPT Actions');
    await p.goto(authorizeUrl);

    await waitForUrl(p, isAt(config.baseUrl, '/login'), '/login?returnTo=… (no session at /idp)');
    const returnTo = new URL(p.url()).searchParams.get('returnTo');
    assert.ok(returnTo && returnTo.startsWith('/idp?'), `returnTo should be the /idp path and query, got ${JSON.stringify(returnTo)}`);
    const carried = new URLSearchParams(returnTo.slice('/idp?'.length));
    assert.equal(carried.get('client_id'), gpt.clientId, 'returnTo should carry the client_id');
    assert.equal(carried.get('redirect_uri'), gpt.redirectUri, 'returnTo should carry the redirect_uri');
    assert.equal(carried.get('state'), gpt.state, 'returnTo should carry the GPT\'s state');
    assert.equal(carried.get('scope'), gpt.scope, 'returnTo should carry the requested scope');

    const login = new LoginPage(p);
    await login.waitReady();
    await login.login(user);

    // Back on /idp with the original request.
    await waitForUrl(p, isAt(config.baseUrl, '/idp'), 'back on /idp after logging in');
    const back = new URL(p.url()).searchParams;
    assert.equal(back.get('state'), gpt.state, 'after logging in, /idp should have the original query (state)');
    assert.equal(back.get('client_id'), gpt.clientId, 'after logging in, /idp should have the original query (client_id)');

    const consent = new ConsentPage(p);
    await consent.waitForConsent();
    const d = await consent.details();
    assert.equal(d.clientName, config.gpt.name, 'consent-client-name should name the client');
    assert.equal(d.clientType, 'Third-party app', 'consent-client-type should say it is a third-party app');
    assert.equal(d.redirectHost, `127.0.0.1:${gpt.port}`, 'consent-redirect-host should show where the browser will be sent');
    assert.ok(d.scopes.includes('notes:read'), `consent-scope elements should include notes:read, got ${JSON.stringify(d.scopes)}`);
    assert.ok(!d.scopes.includes('notes:write'), `notes:write was not requested and must not be shown, got ${JSON.stringify(d.scopes)}`);
    const requested = new Set(gpt.scope.split(' '));
    for (const s of d.scopes) assert.ok(requested.has(s), `consent shows scope ${s} that was never requested (${gpt.scope})`);
    assert.equal(gpt.requestCount, 0, 'the GPT must not hear anything before the user decides');
    await screenshotDesktopAndMobile(p, 'consent');

    // Approve: the browser goes to the GPT's callback with code + state.
    await consent.approve();
    const cb = await gpt.waitForCallback(15_000);
    assert.ok(cb.get('code'), `the callback should carry a code, got ${cb}`);
    assert.equal(cb.get('error'), null, `the callback should carry no error, got ${cb}`);
    await waitForUrl(p, (u) => u.origin === gpt.origin && u.pathname === '/callback', 'the GPT\'s /callback');
    await p.getByTestId('gpt-callback').waitFor({ state: 'visible' });
    assert.equal(await p.getByTestId('gpt-callback').innerText(), 'Connected', 'the GPT\'s callback page should say Connected');

    // The GPT exchanges the code (client_secret_post, no code_verifier).
    const code = cb.get('code');
    const tok = await gpt.exchange(code);
    assert.equal(tok.token_type, 'Bearer', `token_type should be Bearer, got ${JSON.stringify(tok.token_type)}`);
    assert.ok(typeof tok.access_token === 'string' && tok.access_token.length > 0, 'the token response should have an access_token');
    assert.ok(typeof tok.id_token === 'string' && tok.id_token.length > 0, 'scope openid: the token response should have an id_token');
    assert.ok(typeof tok.refresh_token === 'string' && tok.refresh_token.length > 0, 'a third-party client should get a refresh_token');
    assert.ok(Number.isInteger(tok.expires_in) && tok.expires_in > 0, `expires_in should be a positive integer, got ${tok.expires_in}`);
    const granted = String(tok.scope ?? '').split(' ');
    assert.ok(granted.includes('notes:read'), `the granted scope should include notes:read, got ${JSON.stringify(tok.scope)}`);
    assert.ok(!granted.includes('notes:write'), `the granted scope must not include notes:write, got ${JSON.stringify(tok.scope)}`);

    const claims = decodeJwtPayload(tok.id_token);
    assert.equal(claims.iss, config.baseUrl, 'the id_token\'s iss should be the issuer');
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    assert.ok(aud.includes(gpt.clientId), `the id_token's aud should include the client_id, got ${JSON.stringify(claims.aud)}`);
    assert.ok(claims.sub, 'the id_token should have a sub');

    // The GPT knows who the user is (scope email).
    const info = await gpt.userinfo(tok.access_token);
    assert.equal(info.status, 200, `GET /oauth2/userinfo should answer 200, got ${info.status}: ${info.text}`);
    assert.equal(info.body?.email, user.email, 'userinfo should give the user\'s email (scope email)');
    assert.equal(info.body?.sub, claims.sub, 'userinfo sub should equal the id_token sub');

    // Refresh: new access token, rotated refresh token.
    const fresh = await gpt.refresh(tok.refresh_token);
    assert.equal(fresh.token_type, 'Bearer', 'the refreshed token_type should be Bearer');
    assert.ok(fresh.access_token && fresh.access_token !== tok.access_token, 'refreshing should give a new access token');
    assert.ok(fresh.refresh_token && fresh.refresh_token !== tok.refresh_token, 'refreshing should rotate the refresh token');

    // The GPT reads the user's notes with the new bearer token.
    const list = await gpt.listNotes(fresh.access_token);
    const groceries = list.find((n) => n.title === 'Groceries');
    assert.ok(groceries, `GET /api/notes should list the note "Groceries", got ${JSON.stringify(list)}`);
    assert.equal(groceries.body, 'milk, eggs, bread', 'the note\'s body should be the one typed in the UI');
    assert.ok(groceries.id !== undefined && groceries.created_at, `a note should have id and created_at, got ${JSON.stringify(groceries)}`);
    const one = await gpt.api('GET', `/api/notes/${encodeURIComponent(groceries.id)}`, { token: fresh.access_token });
    assert.equal(one.status, 200, `GET /api/notes/{id} should answer 200, got ${one.status}: ${one.text}`);
    assert.equal(one.body?.title, 'Groceries', 'GET /api/notes/{id} should return the note');

    // Rotation: the old refresh token is refused, and (README) its reuse revokes the family.
    await assert.rejects(gpt.refresh(tok.refresh_token), isInvalidGrant('reusing the rotated-out refresh token'));
    await assert.rejects(gpt.refresh(fresh.refresh_token), isInvalidGrant('the newest refresh token after a reuse revoked its family'));

    // The authorization code is single-use.
    await assert.rejects(gpt.exchange(code), isInvalidGrant('redeeming the same code twice'));
  } finally {
    await gpt.stop();
  }
});
