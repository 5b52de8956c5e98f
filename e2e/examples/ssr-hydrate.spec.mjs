// examples/ssr-hydrate: Keyhouse's own users, its SignIn form at /login and the
// IdentityProvider at /idp; a GPT connects and calls the app's API.
import assert from 'node:assert/strict';
import { browserTest } from '../lib/browser.mjs';
import { connectGpt } from './connect.mjs';
import { connectMcpAgent } from './mcp.mjs';
import { createAccount } from './signin.mjs';

browserTest('ssr-hydrate: a new user creates an account at /login, then a GPT connects', async ({ page }) => {
  const email = `ada-${Date.now()}@example.test`;
  const { idToken } = await connectGpt(page, {
    loginPath: '/login',
    name: 'Ada Lovelace',
    signIn: (p) => createAccount(p, { name: 'Ada Lovelace', email }),
  });
  assert.equal(idToken.email, email);
  // Still signed in, the user lets an MCP agent in too.
  await connectMcpAgent(page, { name: 'Ada Lovelace' });
});

browserTest('ssr-hydrate: /idp is rendered on the server before hydration', async () => {
  // The server's HTML alone (no JavaScript): the loading card, not a blank page.
  const { config } = await import('../lib/env.mjs');
  const res = await fetch(`${config.baseUrl}/idp?client_id=x`);
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.match(html, /data-testid="idp-loading"/);
  assert.match(html, /ssr_hydrate\.js/);
});
