// examples/islands: a Leptos islands app. Its pages are rendered on the
// server only; the SignIn form at /login and the IdentityProvider at /idp are
// the two islands, hydrated in the browser. A GPT and an MCP agent connect.
import assert from 'node:assert/strict';
import { browserTest } from '../lib/browser.mjs';
import { connectGpt } from './connect.mjs';
import { connectMcpAgent } from './mcp.mjs';
import { createAccount } from './signin.mjs';

browserTest('islands: a new user creates an account in the /login island, then a GPT connects', async ({ page }) => {
  const email = `grace-${Date.now()}@example.test`;
  const { idToken } = await connectGpt(page, {
    loginPath: '/login',
    name: 'Grace Hopper',
    signIn: (p) => createAccount(p, { name: 'Grace Hopper', email }),
  });
  assert.equal(idToken.email, email);
  await connectMcpAgent(page, { name: 'Grace Hopper' });
});

browserTest('islands: /idp is one island; the rest of the page is server-only HTML', async () => {
  const { config } = await import('../lib/env.mjs');
  const idp = await (await fetch(`${config.baseUrl}/idp?client_id=x`)).text();
  // The component's first paint, inside the island the browser hydrates,
  // and the islands loader (not the whole-page hydration script).
  assert.match(idp, /<leptos-island data-component="IdentityProviderIsland_[^"]*"[^>]*>[\s\S]*data-testid="idp-loading"/);
  assert.match(idp, /islands\.js/);
  assert.match(idp, /hydrateIslands/);
  // The home page has no island at all: nothing of it ships to the browser.
  const home = await (await fetch(`${config.baseUrl}/`)).text();
  assert.match(home, /Island Notes/);
  assert.doesNotMatch(home, /<leptos-island/);
});
