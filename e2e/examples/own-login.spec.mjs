// examples/own-login: the app keeps its own users and sign-in pages; Keyhouse
// learns who is signed in through its SubjectResolver.
import assert from 'node:assert/strict';
import { browserTest, screenshot } from '../lib/browser.mjs';
import { config } from '../lib/env.mjs';
import { connectGpt } from './connect.mjs';
import { connectMcpAgent } from './mcp.mjs';

const PASSWORD = 'correct horse battery staple';

browserTest('own-login: the app signs the user up itself, then a GPT connects', async ({ page }) => {
  const email = `grace-${Date.now()}@example.test`;
  const { idToken } = await connectGpt(page, {
    loginPath: '/sign-in',
    name: 'Grace Hopper',
    signIn: async (p) => {
      // The app's own page, not Keyhouse's: it keeps returnTo through sign-up.
      await p.getByRole('link', { name: 'Create an account' }).click();
      await p.waitForURL((u) => u.pathname === '/sign-up');
      await p.getByLabel('Name').fill('Grace Hopper');
      await p.getByLabel('Email').fill(email);
      await p.getByLabel('Password').fill(PASSWORD);
      await screenshot(p, 'own-login-sign-up');
      await p.getByRole('button', { name: 'Create your account' }).click();
    },
  });
  assert.equal(idToken.email, email);
  // Still signed in, the user lets an MCP agent in too.
  await connectMcpAgent(page, { name: 'Grace Hopper' });
  // Keyhouse never had the password: its own login does not exist here.
  const res = await fetch(`${config.baseUrl}/api/session/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  // Not mounted: the app's static files answer (405 for a POST), not Keyhouse.
  assert.ok([404, 405].includes(res.status), `POST /api/session/login answered ${res.status}`);
  assert.notEqual(res.headers.get('content-type'), 'application/json');
  // The app's own home page still knows them.
  await page.goto(`${config.baseUrl}/`);
  assert.match(await page.getByTestId('home-user').textContent(), new RegExp(email));
});

browserTest('own-login: a cross-site sign-in post is refused', async () => {
  const res = await fetch(`${config.baseUrl}/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'cross-site' },
    body: 'email=a%40b.test&password=x',
    redirect: 'manual',
  });
  assert.equal(res.status, 403);
});
