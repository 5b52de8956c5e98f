// examples/csr-trunk: Keyhouse's own users, its SignIn form at /login and the
// IdentityProvider at /idp; a GPT connects and calls the app's API. The
// app's own sign-in page at /sign-in, built from PasswordLogin and
// PasskeyLogin, takes an account's authenticator-app code itself.
import assert from 'node:assert/strict';
import { browserTest, screenshot } from '../lib/browser.mjs';
import { base32, nextStep, totp } from '../lib/totp.mjs';
import { connectGpt } from './connect.mjs';
import { connectMcpAgent } from './mcp.mjs';
import { createAccount, PASSWORD } from './signin.mjs';

browserTest('csr-trunk: a new user creates an account at /login, then a GPT connects', async ({ page }) => {
  const email = `ada-${Date.now()}@example.test`;
  const { idToken } = await connectGpt(page, {
    loginPath: '/login',
    name: 'Ada Lovelace',
    signIn: (p) => createAccount(p, { name: 'Ada Lovelace', email }),
  });
  assert.equal(idToken.email, email);
  // The app's code came compressed (the build's brotli copies).
  await page.goto('/');
  const wasm = await page.waitForFunction(() => performance.getEntriesByType('resource')
    .map((e) => ({ name: new URL(e.name).pathname, encoded: e.encodedBodySize, decoded: e.decodedBodySize }))
    .find((e) => e.name.endsWith('_bg.wasm') && e.decoded > 0));
  const { name, encoded, decoded } = await wasm.jsonValue();
  assert.ok(encoded < decoded * 0.6, `${name} should arrive compressed: ${encoded} of ${decoded} bytes`);
  // Still signed in, the user lets an MCP agent in too.
  await connectMcpAgent(page, { name: 'Ada Lovelace' });
});

browserTest('csr-trunk: on a sign-in page of its own, PasswordLogin asks an account with the authenticator app for its code', async ({ page }) => {
  const email = `grace-${Date.now()}@example.test`;
  await page.goto('/login');
  await createAccount(page, { name: 'Grace Hopper', email });
  const session = () => page.evaluate(async () => {
    const res = await fetch('/api/session');
    return res.status === 200 ? res.json() : null;
  });
  await page.waitForURL((u) => u.pathname === '/');
  assert.equal((await session()).user.email, email);
  // The authenticator app turned on through the account API, as an
  // account page does; then signed out.
  const key = await page.evaluate(async (password) => {
    const post = (path, body) => fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const setup = await (await post('/api/account/second-factor/setup', { password })).json();
    return setup.secret;
  }, PASSWORD);
  const enabled = await page.evaluate(async (code) => (await fetch('/api/account/second-factor/enable', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code }),
  })).status, totp(base32(key)));
  assert.equal(enabled, 200);
  await page.evaluate(() => fetch('/api/session/logout', { method: 'POST' }));
  assert.equal(await session(), null);

  // The page of the app's own: the password, then PasswordLogin's own
  // second step (no on_second_factor given).
  await page.goto('/sign-in');
  await page.getByTestId('sign-in-email').fill(email);
  await page.getByTestId('sign-in-password').fill(PASSWORD);
  await page.getByTestId('sign-in-submit').click();
  const challenge = page.getByTestId('second-factor');
  await challenge.waitFor();
  assert.equal(await session(), null, 'no session before the code');
  await screenshot(page, 'csr-trunk-own-sign-in-code');
  await nextStep(); // the code that turned the app on is spent
  await challenge.getByTestId('second-factor-input').fill(totp(base32(key)));
  await challenge.getByTestId('second-factor-submit').click();
  await page.getByTestId('own-sign-in-done').waitFor();
  const signedIn = await session();
  assert.equal(signedIn.user.email, email);
  assert.ok(signedIn.amr.includes('otp'), `amr ${signedIn.amr}`);
}, { timeout: 90_000 });
