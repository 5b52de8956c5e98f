// 17. Signing out of an app (OpenID Connect RP-Initiated Logout and
//     Back-Channel Logout). The operator gives Notes GPT a sign-out address
//     and a back-channel URL on the app's page; a user connects the GPT; the
//     GPT sends the browser to the end-session endpoint (/oauth2/logout, on
//     to the /logout page) with its ID token: the user is signed
//     out at once, lands back on the GPT's page with its state, and the GPT's
//     back channel receives a signed logout token for that session. Without
//     an ID token the page asks first ("Stay signed in" changes nothing); an
//     address the GPT never registered gets an error page, not a redirect.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { callbackServer } from '../lib/agents.mjs';
import { browserTest, screenshot, screenshotDesktopAndMobile } from '../lib/browser.mjs';
import { config } from '../lib/env.mjs';
import { newUser } from '../lib/users.mjs';
import { SimulatedGpt } from '../gpt.mjs';
import { ConsentPage, LoginPage, isAt, signUpThroughUi, waitForUrl } from '../pages/index.mjs';

function payload(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

function header(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString());
}

/** The GPT's back channel: https on agent.test (the run's test CA). */
async function backChannel() {
  const agents = config.agents;
  const tokens = [];
  const server = createHttpsServer(
    { cert: readFileSync(agents.cert), key: readFileSync(agents.key) },
    (req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        if (req.method === 'POST' && req.url === '/backchannel') {
          tokens.push(new URLSearchParams(body).get('logout_token'));
          res.writeHead(200).end();
        } else {
          res.writeHead(404).end();
        }
      });
    },
  );
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    uri: `https://${agents.host}:${port}/backchannel`,
    tokens,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

async function signedInStatus(page) {
  return page.evaluate(async () => (await fetch('/api/session')).status);
}

browserTest('an app signs its user out through /logout and hears it on its back channel', async ({ page, newContext }) => {
  const bye = await callbackServer();
  const byeUri = bye.redirectUri.replace('/callback', '/signed-out');
  const channel = await backChannel();
  const gpt = new SimulatedGpt();
  await gpt.start();
  try {
    // The operator registers where the GPT's users go after signing out,
    // and where it hears about sessions that end.
    const ops = await (await newContext()).newPage();
    const detail = `/admin/apps/${encodeURIComponent(config.gpt.clientId)}`;
    await ops.goto(`/login?returnTo=${encodeURIComponent(detail)}`);
    await new LoginPage(ops).login(config.admin);
    await waitForUrl(ops, isAt(config.baseUrl, detail), 'the app page');
    const card = ops.getByTestId('app-sign-out');
    await card.waitFor();
    await card.getByTestId('app-post-logout-uris').fill(byeUri);
    await card.getByTestId('app-backchannel-uri').fill(channel.uri);
    await card.getByTestId('app-backchannel-sid').check();
    await card.getByTestId('app-sign-out-save').click();
    await card.getByTestId('app-sign-out-saved').waitFor();
    await card.scrollIntoViewIfNeeded();
    await screenshot(ops, 'app-sign-out-settings');
    // A redirect with a fragment is refused with the reason, nothing saved.
    await card.getByTestId('app-post-logout-uris').fill(`${byeUri}#x`);
    await card.getByTestId('app-sign-out-save').click();
    await card.getByTestId('app-sign-out-error').waitFor();
    assert.match(await card.getByTestId('app-sign-out-error').innerText(), /fragment/i);
    await ops.reload();
    await ops.getByTestId('app-post-logout-uris').waitFor();
    assert.equal(await ops.getByTestId('app-post-logout-uris').inputValue(), byeUri, 'the refused change left the saved one');

    // A user connects the GPT.
    const user = newUser('sign-out');
    await signUpThroughUi(page, user);
    await page.goto(gpt.authorizeUrl());
    const consent = new ConsentPage(page);
    await consent.waitForConsent();
    await consent.approve();
    const cb = await gpt.waitForCallback(15_000);
    // The GPT got the request; the browser's navigation to its callback page
    // must end before the next one, or that one is interrupted.
    await waitForUrl(page, (u) => u.origin === gpt.origin && u.pathname === '/callback', 'the GPT\'s /callback');
    const tok = await gpt.exchange(cb.get('code'));
    const sid = payload(tok.id_token).sid;
    assert.ok(sid, `the ID token names the session (sid): ${JSON.stringify(payload(tok.id_token))}`);

    // The GPT signs the user out through the discovered end-session
    // endpoint: no question, back to the GPT with its state.
    const meta = await (await fetch(`${config.baseUrl}/.well-known/openid-configuration`)).json();
    assert.equal(meta.end_session_endpoint, `${config.baseUrl}/oauth2/logout`);
    const request = new URLSearchParams({
      id_token_hint: tok.id_token,
      post_logout_redirect_uri: byeUri,
      state: 'gpt-state-1',
    });
    await page.goto(`${meta.end_session_endpoint}?${request}`);
    await waitForUrl(page, (u) => u.href.startsWith(byeUri), 'the GPT\'s signed-out page');
    assert.equal(new URL(page.url()).searchParams.get('state'), 'gpt-state-1', 'state comes back');
    await page.goto('/login');
    const login = new LoginPage(page);
    await login.waitReady();
    assert.equal(await signedInStatus(page), 401, 'signed out of the app');

    // The back channel heard of that session, in a token signed by the server.
    for (let i = 0; i < 100 && channel.tokens.length === 0; i += 1) await new Promise((r) => setTimeout(r, 100));
    assert.equal(channel.tokens.length, 1, 'one logout token for the session');
    const lt = channel.tokens[0];
    assert.equal(header(lt).typ, 'logout+jwt');
    assert.equal(header(lt).alg, 'RS256');
    const claims = payload(lt);
    assert.equal(claims.iss, config.baseUrl);
    assert.equal(claims.aud, config.gpt.clientId);
    assert.equal(claims.sid, sid);
    assert.equal(claims.sub, payload(tok.id_token).sub);
    assert.deepEqual(claims.events, { 'http://schemas.openid.net/event/backchannel-logout': {} });
    assert.equal(claims.nonce, undefined);
    // The GPT's own tokens still work: signing out is not disconnecting.
    const me = await fetch(`${config.baseUrl}/oauth2/userinfo`, { headers: { authorization: `Bearer ${tok.access_token}` } });
    assert.equal(me.status, 200, 'the connected app keeps its access');

    // Without its ID token, the page asks first.
    await login.login(user);
    const ask = new URLSearchParams({ client_id: config.gpt.clientId, post_logout_redirect_uri: byeUri, state: 's2' });
    await page.goto(`/oauth2/logout?${ask}`);
    await page.getByTestId('end-session-confirm').waitFor();
    assert.ok(isAt(config.baseUrl, '/logout')(new URL(page.url())), 'the endpoint leads to the /logout page');
    assert.match(await page.getByTestId('end-session-question').innerText(), new RegExp(config.gpt.name));
    await screenshotDesktopAndMobile(page, 'sign-out-confirm');
    await page.getByTestId('end-session-stay').click();
    await page.getByTestId('end-session-stayed').waitFor();
    assert.equal(await signedInStatus(page), 200, '"Stay signed in" changes nothing');
    await page.goto(`/logout?${ask}`);
    await page.getByTestId('end-session-confirm').click();
    await waitForUrl(page, (u) => u.href.startsWith(byeUri), 'the GPT\'s signed-out page');
    assert.equal(new URL(page.url()).searchParams.get('state'), 's2');

    // An address the GPT never registered: an error page, no redirect.
    await page.goto('/login');
    await login.waitReady();
    await login.login(user);
    const evil = new URLSearchParams({ client_id: config.gpt.clientId, post_logout_redirect_uri: 'https://evil.example/' });
    await page.goto(`/logout?${evil}`);
    await page.getByTestId('end-session-error').waitFor();
    assert.ok(isAt(config.baseUrl, '/logout')(new URL(page.url())), 'still on /logout');
    assert.match(await page.getByTestId('end-session-error').innerText(), /not registered/);
    await screenshot(page, 'sign-out-refused');
    assert.equal(await signedInStatus(page), 200, 'a refused request signs nobody out');
  } finally {
    await gpt.stop();
    await bye.close();
    await channel.close();
  }
});
