// 7. Scopes on the app's API: a token with notes:read only cannot write (403
//    insufficient_scope, RFC 6750 §3.1); no token is 401 with a Bearer challenge.
//    /openapi.json describes the OAuth flow a GPT Action imports.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserTest } from '../lib/browser.mjs';
import { config } from '../lib/env.mjs';
import { newUser } from '../lib/users.mjs';
import { SimulatedGpt } from '../gpt.mjs';
import { ConsentPage, signUpThroughUi } from '../pages/index.mjs';

browserTest('a notes:read token cannot create notes (403 insufficient_scope)', async ({ page }) => {
  const gpt = new SimulatedGpt({ scope: 'openid notes:read' });
  await gpt.start();
  try {
    await signUpThroughUi(page, newUser('scopes'));
    const consent = new ConsentPage(page);
    await consent.goto(gpt.authorizeUrl());
    await consent.waitForConsent();
    const { scopes } = await consent.details();
    assert.ok(scopes.includes('notes:read'), `consent should list notes:read, got ${JSON.stringify(scopes)}`);
    assert.ok(!scopes.includes('notes:write'), `consent must not list notes:write, got ${JSON.stringify(scopes)}`);
    await consent.approve();
    const cb = await gpt.waitForCallback(15_000);
    assert.ok(cb.get('code'), `the callback should carry a code, got ${cb}`);
    const tok = await gpt.exchange(cb.get('code'));
    const granted = String(tok.scope ?? '').split(' ');
    assert.ok(granted.includes('notes:read') && !granted.includes('notes:write'), `granted scope should be read-only, got ${JSON.stringify(tok.scope)}`);

    // Reading is allowed.
    const list = await gpt.listNotes(tok.access_token);
    assert.deepEqual(list, [], 'a new user has no notes');

    // Writing is not.
    const r = await gpt.createNote(tok.access_token, { title: 'Should not exist', body: 'x' });
    assert.equal(r.status, 403, `POST /api/notes with a notes:read token should answer 403, got ${r.status}: ${r.text}`);
    assert.equal(r.body?.error, 'insufficient_scope', `the 403 body should be {"error":"insufficient_scope",…}, got ${r.text}`);
    const challenge = r.headers.get('www-authenticate') ?? '';
    assert.match(challenge, /^Bearer\b/i, `the 403 should carry a Bearer challenge, got ${JSON.stringify(challenge)}`);
    assert.match(challenge, /error="insufficient_scope"/, `the challenge should say error="insufficient_scope", got ${JSON.stringify(challenge)}`);
    assert.match(challenge, /scope="[^"]*notes:write[^"]*"/, `the challenge should name the missing scope notes:write, got ${JSON.stringify(challenge)}`);

    const after = await gpt.listNotes(tok.access_token);
    assert.deepEqual(after, [], 'the refused POST must not have created a note');
  } finally {
    await gpt.stop();
  }
});

test('the notes API without a token is 401 with a Bearer challenge', { timeout: 30_000 }, async () => {
  const gpt = new SimulatedGpt();
  const none = await gpt.api('GET', '/api/notes');
  assert.equal(none.status, 401, `GET /api/notes without a token should answer 401, got ${none.status}: ${none.text}`);
  assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer\b/i, `the 401 should carry WWW-Authenticate: Bearer, got ${JSON.stringify(none.headers.get('www-authenticate'))}`);

  const bogus = await gpt.api('GET', '/api/notes', { token: 'not-a-real-token' });
  assert.equal(bogus.status, 401, `GET /api/notes with a made-up token should answer 401, got ${bogus.status}: ${bogus.text}`);
  assert.match(bogus.headers.get('www-authenticate') ?? '', /^Bearer\b/i, 'the 401 for a bad token should carry a Bearer challenge');

  const post = await gpt.api('POST', '/api/notes', { json: { title: 't', body: 'b' } });
  assert.equal(post.status, 401, `POST /api/notes without a token should answer 401, got ${post.status}: ${post.text}`);
});

test('/openapi.json and discovery point a GPT Action at /idp and /oauth2/token', { timeout: 30_000 }, async () => {
  const res = await fetch(`${config.baseUrl}/openapi.json`);
  assert.equal(res.status, 200, `GET /openapi.json should answer 200, got ${res.status}`);
  const doc = await res.json();
  assert.match(String(doc.openapi), /^3\.1\./, `openapi should be 3.1.x, got ${JSON.stringify(doc.openapi)}`);
  const schemes = Object.entries(doc.components?.securitySchemes ?? {});
  const oauth = schemes.filter(([, s]) => s.type === 'oauth2' && s.flows?.authorizationCode);
  assert.ok(oauth.length >= 1, `components.securitySchemes should have an oauth2 authorizationCode scheme, got ${JSON.stringify(doc.components?.securitySchemes)}`);
  const flow = oauth[0][1].flows.authorizationCode;
  assert.ok(String(flow.authorizationUrl).endsWith('/idp'), `authorizationUrl should end with /idp, got ${flow.authorizationUrl}`);
  assert.ok(String(flow.tokenUrl).endsWith('/oauth2/token'), `tokenUrl should end with /oauth2/token, got ${flow.tokenUrl}`);
  assert.equal(typeof flow.scopes, 'object', 'the flow should list its scopes (OpenAPI requires the map)');
  assert.ok(doc.paths && Object.keys(doc.paths).some((p) => p.startsWith('/api/notes')), 'paths should describe /api/notes');

  const disc = await (await fetch(`${config.baseUrl}/.well-known/openid-configuration`)).json();
  assert.equal(disc.issuer, config.baseUrl, 'discovery issuer should be the configured issuer');
  assert.equal(disc.authorization_endpoint, `${config.baseUrl}/idp`, 'authorization_endpoint should be {issuer}/idp');
  assert.equal(disc.token_endpoint, `${config.baseUrl}/oauth2/token`, 'token_endpoint should be {issuer}/oauth2/token');
});
