// 18. Passkeys, with Chromium's virtual authenticator (DevTools
//     WebAuthn.addVirtualAuthenticator: a platform authenticator that holds
//     discoverable credentials and verifies its user). Browsers allow
//     passkeys on a domain name only, so this spec runs its own server whose
//     issuer is http://localhost:PORT (it still listens on 127.0.0.1 alone).
//     A user adds a passkey on the account page (the address is told), signs
//     out, and signs in again with the passkey alone (amr pop and mfa), with
//     the button and then from the address field's autofill; on a
//     second device holding the same passkey, an app that asks for a
//     phishing-resistant sign-in (acr_values) steps a password session up
//     with it in /idp; an app asking for two-step verification of an
//     account with no authenticator app is offered the passkey instead;
//     once removed, the passkey signs in nowhere. A member does the same
//     on /org/member; a colleague invited to an organization joins with a
//     passkey instead of a password and signs in with it alone.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { browserTest, screenshot, screenshotDesktopAndMobile } from '../lib/browser.mjs';
import { config } from '../lib/env.mjs';
import { linkIn, waitForMail } from '../lib/mail.mjs';
import { newUser } from '../lib/users.mjs';

const PHISHING_RESISTANT = 'urn:keyhouse:acr:phr';
const TWO_FACTORS = 'urn:keyhouse:acr:2fa';

/** The spec's own server: issuer http://localhost:PORT. */
const local = { base: null, server: null, dir: null, env: null, clientId: null };

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

function run(args, input) {
  return new Promise((resolve, reject) => {
    const p = spawn(config.keyhouse.bin, args, { env: local.env, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    if (input !== undefined) p.stdin.end(`${input}\n`);
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`keyhouse ${args.join(' ')}: exit ${code}\n${err}`))));
  });
}

function lastJson(out) {
  return JSON.parse(out.trim().split('\n').filter((l) => l.startsWith('{')).pop());
}

before(async () => {
  assert.ok(config.keyhouse, 'the e2e config names the keyhouse binary (run through e2e/run.mjs)');
  const port = await freePort();
  local.base = `http://localhost:${port}`;
  local.dir = mkdtempSync(path.join(os.tmpdir(), 'keyhouse-e2e-passkeys-'));
  local.env = {
    ...process.env,
    ...config.keyhouse.env,
    DATABASE_URL: `sqlite://${path.join(local.dir, 'passkeys.db')}?mode=rwc`,
    KEYHOUSE_KEY_FILE: path.join(local.dir, 'passkeys.key'),
    KEYHOUSE_ISSUER: local.base,
  };
  delete local.env.KEYHOUSE_MASTER_KEY;
  await run(['migrate']);
  const client = lastJson(await run([
    'clients', 'create', '--name', 'Vault GPT', '--type', 'third_party',
    '--redirect-uri', 'http://127.0.0.1:9/callback', '--json',
  ]));
  local.clientId = client.client_id;
  const logFile = path.join(config.resultsDir, 'server-passkeys.log');
  const fd = openSync(logFile, 'a');
  local.server = spawn(config.keyhouse.bin, ['serve', '--bind', `127.0.0.1:${port}`, '--signups-per-ip-per-hour', '0'], {
    env: local.env,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health/ready`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || local.server.exitCode !== null) {
      throw new Error(`the passkeys server did not start:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
});

after(async () => {
  if (local.server && local.server.exitCode === null) {
    local.server.kill('SIGTERM');
    await new Promise((r) => local.server.once('exit', r));
  }
  if (local.dir) rmSync(local.dir, { recursive: true, force: true });
});

/** A page on the spec's server with a virtual authenticator; `credential`
 *  (from another page's authenticator) is put on it too: a synced passkey.
 *  With `presence` false the authenticator waits to be touched
 *  (`presence(true)`): the sign-in page's autofill request then waits, as
 *  it does for a person who has not opened the address field's
 *  suggestions. Touched, it answers every request at once, the autofill's
 *  included (Chromium resolves a conditional request with a virtual
 *  authenticator as soon as it is made). */
async function deviceWithAuthenticator(newContext, credential, { presence = true } = {}) {
  const context = await newContext({ baseURL: local.base });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      ctap2Version: 'ctap2_1',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: presence,
    },
  });
  if (credential) await cdp.send('WebAuthn.addCredential', { authenticatorId, credential });
  const credentials = async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
  const touch = (enabled) => cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled });
  return { page, credentials, presence: touch };
}

/** The page's autofill request is waiting in the address field. */
async function autofillWaiting(page) {
  await page.locator('[data-testid="passkey-login"][data-autofill="waiting"]').waitFor();
}

async function signInWithPassword(page, user) {
  await page.goto('/login');
  await page.getByTestId('login-email').fill(user.email);
  await page.getByTestId('login-password').fill(user.password);
  await page.getByTestId('login-submit').click();
  await page.waitForURL((u) => u.pathname !== '/login');
}

async function sessionOf(page) {
  return page.evaluate(async () => {
    const res = await fetch('/api/session');
    return res.status === 200 ? res.json() : null;
  });
}

function idpUrl(acr = PHISHING_RESISTANT) {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: local.clientId,
    redirect_uri: 'http://127.0.0.1:9/callback',
    scope: 'openid',
    state: 'passkey-state',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    acr_values: acr,
  });
  return `/idp?${q}`;
}

browserTest('a passkey is added on the account page, signs in alone, steps up for an app, and is removed', async ({ newContext }) => {
  const user = newUser('passkey');
  await run(['users', 'create', '--email', user.email, '--password-file', '-', '--name', user.name], user.password);

  // Device 1: signed in with the password, adds a passkey.
  const one = await deviceWithAuthenticator(newContext);
  const page = one.page;
  await signInWithPassword(page, user);
  await page.goto('/account');
  const card = page.getByTestId('passkeys');
  await card.getByTestId('passkeys-none').waitFor();
  await card.getByTestId('passkeys-password').fill(user.password);
  await card.getByTestId('passkeys-add').click();
  await card.getByTestId('passkeys-status').waitFor();
  assert.match(await card.getByTestId('passkeys-status').innerText(), /Passkey added: Headless Chrome on Linux/);
  await card.getByTestId('passkey').waitFor(); // the list is read again after the status
  assert.equal(await card.getByTestId('passkey').count(), 1);
  await screenshotDesktopAndMobile(page, 'account-passkeys');
  const held = await one.credentials();
  assert.equal(held.length, 1, 'the authenticator holds one credential');
  assert.equal(held[0].isResidentCredential, true, 'a discoverable credential (a passkey)');
  assert.equal(held[0].rpId, 'localhost');
  const mail = await waitForMail(user.email);
  assert.match(mail.subject, /A passkey \(Headless Chrome on Linux\) was added/);

  // Signed out, then in again with the passkey alone: no address typed.
  // The button, while the address field's autofill waits untouched.
  await page.evaluate(() => fetch('/api/session/logout', { method: 'POST' }));
  await one.presence(false);
  await page.goto('/login?returnTo=%2Faccount');
  const button = page.getByTestId('passkey-sign-in');
  await autofillWaiting(page);
  await screenshotDesktopAndMobile(page, 'login-with-passkey');
  await one.presence(true);
  await button.click();
  await page.waitForURL((u) => u.pathname === '/account');
  const session = await sessionOf(page);
  assert.equal(session.user.email, user.email);
  assert.deepEqual(session.amr, ['pop', 'mfa']);

  // Signed out again: the passkey picked from the address field's
  // suggestions signs in, with no button pressed.
  await page.evaluate(() => fetch('/api/session/logout', { method: 'POST' }));
  assert.equal(await sessionOf(page), null);
  await page.goto('/login?returnTo=%2Faccount');
  await page.waitForURL((u) => u.pathname === '/account');
  const autofilled = await sessionOf(page);
  assert.equal(autofilled.user.email, user.email);
  assert.deepEqual(autofilled.amr, ['pop', 'mfa']);

  // Device 2 holds the same passkey, synced with its counter as it is now
  // (a copy with an older counter would be refused as a clone); signed in
  // with the password, an app asks for a phishing-resistant sign-in: /idp
  // steps it up.
  const synced = (await one.credentials())[0];
  assert.ok(synced.signCount > held[0].signCount, 'the sign-in moved the counter');
  const two = await deviceWithAuthenticator(newContext, synced, { presence: false });
  await signInWithPassword(two.page, user);
  await two.presence(true);
  await two.page.goto(idpUrl());
  const stepUp = two.page.getByTestId('idp-passkey-step-up');
  await stepUp.waitFor();
  await screenshotDesktopAndMobile(two.page, 'idp-passkey-step-up');
  await stepUp.getByTestId('passkey-sign-in').click();
  await two.page.getByTestId('consent-approve').waitFor();
  assert.deepEqual((await sessionOf(two.page)).amr, ['pop', 'mfa']);

  // Device 4: an app that asks for two-step verification of an account
  // with no authenticator app is told to turn it on, or to use the
  // passkey, which counts as two steps.
  const four = await deviceWithAuthenticator(newContext, (await two.credentials())[0], { presence: false });
  await signInWithPassword(four.page, user);
  await four.presence(true);
  await four.page.goto(idpUrl(TWO_FACTORS));
  await four.page.getByTestId('idp-turn-on-two-step').waitFor();
  const instead = four.page.getByTestId('idp-passkey-instead');
  await instead.getByTestId('passkey-sign-in').waitFor();
  await screenshotDesktopAndMobile(four.page, 'idp-two-step-passkey-instead');
  await instead.getByTestId('passkey-sign-in').click();
  await four.page.getByTestId('consent-approve').waitFor();
  assert.deepEqual((await sessionOf(four.page)).amr, ['pop', 'mfa']);

  // Removed on device 1: the passkey signs in nowhere.
  await page.goto('/account');
  await card.getByTestId('passkey').waitFor();
  await card.getByTestId('passkeys-password').fill(user.password);
  await card.getByTestId('passkey-remove').click();
  await card.getByTestId('passkeys-none').waitFor();
  // Its autofill is refused as the page loads, and so is the button.
  const three = await deviceWithAuthenticator(newContext, (await four.credentials())[0]);
  await three.page.goto('/login');
  const error = three.page.getByTestId('passkey-error');
  await error.waitFor();
  assert.match(await error.innerText(), /isn't recognised here/);
  const pressed = three.page.waitForResponse((r) => new URL(r.url()).pathname === '/api/session/passkey');
  await three.page.getByTestId('passkey-sign-in').click();
  assert.equal((await pressed).status(), 401);
  await error.waitFor();
  assert.match(await error.innerText(), /isn't recognised here/);
  await screenshot(three.page, 'login-passkey-refused');
  assert.equal(await sessionOf(three.page), null);
}, { timeout: 90_000 });

async function memberSessionOf(page) {
  return page.evaluate(async () => {
    const res = await fetch('/api/b2b/session');
    return res.status === 200 ? res.json() : null;
  });
}

function orgIdpUrl() {
  return idpUrl().replace(/^\/idp\?/, '/org/idp?');
}

browserTest('a member adds a passkey on /org/member, signs in with it, steps up /org/idp, and requires passkeys of everyone', async ({ newContext }) => {
  const member = newUser('member-passkey');
  await run(['orgs', 'create', '--name', 'Vault Works', '--slug', 'vault', '--json']);
  await run(['members', 'create', '--org', 'vault', '--email', member.email, '--password-file', '-', '--role', 'admin'], member.password);

  // Device 1: signed in with the password at /org/login, adds a passkey.
  const one = await deviceWithAuthenticator(newContext);
  const page = one.page;
  await page.goto('/org/login?returnTo=%2Forg%2Fmember');
  await page.getByTestId('org-login-email').fill(member.email);
  await page.getByTestId('org-login-password').fill(member.password);
  await page.getByTestId('org-login-submit').click();
  await page.waitForURL((u) => u.pathname === '/org/member');
  const card = page.getByTestId('passkeys');
  await card.getByTestId('passkeys-none').waitFor();
  await card.getByTestId('passkeys-password').fill(member.password);
  await card.getByTestId('passkeys-add').click();
  await card.getByTestId('passkeys-status').waitFor();
  await card.getByTestId('passkey').waitFor(); // the list is read again after the status
  assert.equal(await card.getByTestId('passkey').count(), 1);
  await screenshotDesktopAndMobile(page, 'org-member-passkeys');
  const mail = await waitForMail(member.email);
  assert.match(mail.subject, /your membership of Vault Works/);
  const held = await one.credentials();
  assert.equal(held.length, 1);

  // Signed out, then in again with the passkey alone, on /org/login: the
  // button while the autofill waits untouched.
  await page.evaluate(() => fetch('/api/b2b/session/logout', { method: 'POST' }));
  await one.presence(false);
  await page.goto('/org/login?returnTo=%2Forg%2Fmember');
  const button = page.getByTestId('passkey-sign-in');
  await autofillWaiting(page);
  await screenshotDesktopAndMobile(page, 'org-login-with-passkey');
  await one.presence(true);
  await button.click();
  await page.waitForURL((u) => u.pathname === '/org/member');
  const session = await memberSessionOf(page);
  assert.equal(session.member.email, member.email);
  assert.equal(session.organization.slug, 'vault');
  assert.deepEqual(session.amr, ['pop', 'mfa']);
  // The account sign-in does not take a member's passkey (its autofill
  // offers it as the page loads, and is refused).
  await page.goto('/login');
  await page.getByTestId('passkey-error').waitFor();
  assert.equal(await sessionOf(page), null);
  // Signed out, the member's autofill on /org/login signs in alone.
  await page.evaluate(() => fetch('/api/b2b/session/logout', { method: 'POST' }));
  await page.goto('/org/login?returnTo=%2Forg%2Fmember');
  await page.waitForURL((u) => u.pathname === '/org/member');
  assert.deepEqual((await memberSessionOf(page)).amr, ['pop', 'mfa']);

  // Device 2, the passkey synced, signed in with the password: an app
  // that asks for a phishing-resistant sign-in is stepped up in /org/idp.
  const two = await deviceWithAuthenticator(newContext, (await one.credentials())[0], { presence: false });
  await two.page.goto('/org/login');
  await two.page.getByTestId('org-login-email').fill(member.email);
  await two.page.getByTestId('org-login-password').fill(member.password);
  await two.page.getByTestId('org-login-submit').click();
  await two.page.waitForURL((u) => u.pathname === '/org');
  await two.presence(true);
  await two.page.goto(orgIdpUrl());
  const stepUp = two.page.getByTestId('idp-passkey-step-up');
  await stepUp.waitFor();
  await screenshot(two.page, 'org-idp-passkey-step-up');
  await stepUp.getByTestId('passkey-sign-in').click();
  await two.page.getByTestId('consent-approve').waitFor();
  assert.deepEqual((await memberSessionOf(two.page)).amr, ['pop', 'mfa']);

  // Signed in with the passkey, the admin asks every member for one.
  await page.goto('/org/settings');
  const passkeyChoice = page.getByTestId('org-require-passkey');
  await passkeyChoice.waitFor();
  await passkeyChoice.check();
  await page.getByTestId('org-sign-in-save').click();
  await page.getByTestId('org-sign-in-saved').waitFor();
  await screenshotDesktopAndMobile(page, 'org-settings-require-passkey');

  // Device 3 (the passkey synced again): a password sign-in meets the
  // gate, and the passkey opens the organization.
  const three = await deviceWithAuthenticator(newContext, (await two.credentials())[0], { presence: false });
  await three.page.goto('/org/login');
  await three.page.getByTestId('org-login-email').fill(member.email);
  await three.page.getByTestId('org-login-password').fill(member.password);
  await three.page.getByTestId('org-login-submit').click();
  const gate = three.page.getByTestId('org-passkey-gate');
  await gate.waitFor();
  await screenshotDesktopAndMobile(three.page, 'org-passkey-gate');
  await three.presence(true);
  await gate.getByTestId('passkey-sign-in').first().click();
  await three.page.getByTestId('org-note-title').waitFor();
  assert.deepEqual((await memberSessionOf(three.page)).amr, ['pop', 'mfa']);
}, { timeout: 120_000 });

browserTest('an invited colleague joins with a passkey instead of a password and signs in with it', async ({ newContext }) => {
  const admin = newUser('invite-admin');
  const colleague = newUser('invite-passkey');
  await run(['orgs', 'create', '--name', 'Keyring Labs', '--slug', 'keyring', '--json']);
  await run(['members', 'create', '--org', 'keyring', '--email', admin.email, '--password-file', '-', '--role', 'admin'], admin.password);

  // The admin invites the colleague (the invitation pages are spec 22's).
  const adminContext = await newContext({ baseURL: local.base });
  const adminPage = await adminContext.newPage();
  await adminPage.goto('/org/login');
  await adminPage.getByTestId('org-login-email').fill(admin.email);
  await adminPage.getByTestId('org-login-password').fill(admin.password);
  await adminPage.getByTestId('org-login-submit').click();
  await adminPage.waitForURL((u) => u.pathname === '/org');
  const invited = await adminPage.evaluate(async (email) => {
    const res = await fetch('/api/b2b/invitations', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, roles: ['member'] }),
    });
    return res.status;
  }, colleague.email);
  assert.equal(invited, 200);
  const link = linkIn(await waitForMail(colleague.email), '/org/invitation?token=');
  assert.ok(link.startsWith(`${local.base}/org/invitation?token=`), link);

  // The colleague's device: no password, a passkey.
  const device = await deviceWithAuthenticator(newContext);
  const page = device.page;
  await page.goto(link);
  const join = page.getByTestId('invitation-accept-passkey');
  await join.waitFor();
  await page.getByTestId('invitation-name').fill(colleague.name);
  await screenshotDesktopAndMobile(page, 'org-invitation-passkey');
  await join.click();
  await page.waitForURL((u) => u.pathname === '/org');
  const session = await memberSessionOf(page);
  assert.equal(session.member.email, colleague.email);
  assert.equal(session.member.name, colleague.name);
  assert.equal(session.organization.slug, 'keyring');
  assert.deepEqual(session.amr, ['pop', 'mfa']);
  const held = await device.credentials();
  assert.equal(held.length, 1, 'the authenticator holds the new passkey');
  assert.equal(held[0].rpId, 'localhost');

  // Signed out, the passkey alone signs the new member in again.
  await page.evaluate(() => fetch('/api/b2b/session/logout', { method: 'POST' }));
  assert.equal(await memberSessionOf(page), null);
  await device.presence(false);
  await page.goto('/org/login');
  await autofillWaiting(page);
  await device.presence(true);
  await page.getByTestId('passkey-sign-in').click();
  await page.waitForURL((u) => u.pathname === '/org');
  assert.equal((await memberSessionOf(page)).member.email, colleague.email);

  // The link is spent.
  const again = await newContext({ baseURL: local.base });
  const late = await again.newPage();
  await late.goto(link);
  await late.getByTestId('invitation-error').waitFor();
}, { timeout: 90_000 });
