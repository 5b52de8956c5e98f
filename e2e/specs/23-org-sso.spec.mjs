// 23. Single sign-on (decision 0038):
//
//     - the admin of Globex (m@example.test) sets the organization's identity
//       provider on /org/settings: the redirect URI to register is shown, a
//       malformed groups-to-roles line is refused in the page, the saved
//       connection is "Not tested yet" and cannot be required before a test;
//       it is then removed;
//     - on /org/login, "Sign in with single sign-on" for an organization
//       without it comes back to the login page with the reason, the
//       organization's name still filled in;
//     - through a real OpenID Provider (oidc-provider from npm, on loopback
//       over https: lib/company-idp.mjs), Umbrella's admin sets the
//       organization's logo (fetched by Keyhouse, shown from its origin on
//       the settings page and on consent), connects the provider, tests
//       the connection and requires it; a password then opens no session;
//       two people new to Umbrella sign in through the provider while Notes
//       GPT asks for access, are added with the roles their groups map to,
//       and the role decides the scopes each can grant.
//
// Refusals of bad ID tokens (wrong nonce, wrong issuer, expired, unverified
// address) are tested in crates/keyhouse-axum/tests/it/sso.rs.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before } from 'node:test';
import { metadataDocumentServer } from '../lib/agents.mjs';
import { browserTest, screenshot, screenshotDesktopAndMobile, useLaunchArgs } from '../lib/browser.mjs';
import { B2B_PASSWORD } from '../lib/b2b.mjs';
import { browserArgs, signInAtCompany, startCompanyProvider } from '../lib/company-idp.mjs';
import { config } from '../lib/env.mjs';
import { B2B_GPT_SCOPE, SimulatedGpt } from '../gpt.mjs';
import {
  B2BConsentPage,
  OrgLoginPage,
  OrgNotesPage,
  OrgSettingsPage,
  fetchInPage,
  isAt,
  textOf,
  waitForUrl,
} from '../pages/index.mjs';

useLaunchArgs(browserArgs());

const GLOBEX_ADMIN = config.b2b.member;

browserTest('an admin sets up single sign-on; it cannot be required untested', async ({ newContext }) => {
  const page = await (await newContext()).newPage();
  const login = new OrgLoginPage(page);
  await login.goto();
  await login.login(GLOBEX_ADMIN, 'globex');
  await new OrgNotesPage(page).waitReady();
  const settings = new OrgSettingsPage(page);
  await settings.goto();
  await settings.waitReady();

  const card = page.getByTestId('org-sso');
  await card.scrollIntoViewIfNeeded();
  assert.equal(await textOf(page.getByTestId('org-sso-status')), 'Not set up');
  // Each organization has its own: an answer is only ever read as its.
  assert.equal(
    await textOf(page.getByTestId('org-sso-redirect-uri')),
    `${config.baseUrl}/api/b2b/sso/callback/${config.b2b.organizations.globex.organizationId}`,
  );

  await page.getByTestId('org-sso-issuer').fill('https://login.globex.example');
  await page.getByTestId('org-sso-client-id').fill('keyhouse-notes');
  await page.getByTestId('org-sso-client-secret').fill('s3cret-from-the-provider');
  await page.getByTestId('org-sso-groups-claim').fill('groups');
  // A line that is not "group = role" is refused before anything is sent.
  await page.getByTestId('org-sso-mappings').fill('globex-admins');
  await page.getByTestId('org-sso-save').click();
  assert.match(await textOf(page.getByTestId('org-sso-error')), /group = role/);

  await page.getByTestId('org-sso-mappings').fill('globex-admins = admin\nglobex-staff = member');
  await page.getByTestId('org-sso-provision').selectOption('member');
  await page.getByTestId('org-sso-save').click();
  await page.getByTestId('org-sso-test').waitFor();
  assert.equal(await textOf(page.getByTestId('org-sso-status')), 'Not tested yet');
  assert.equal(await page.getByTestId('org-sso-require').isDisabled(), true, 'untested: not required');
  assert.equal(await page.getByTestId('org-sso-client-secret').inputValue(), '', 'the secret is not shown again');
  assert.equal(
    await page.getByTestId('org-sso-test').getAttribute('href'),
    '/api/b2b/sso/start?test=1&organization=globex',
  );
  await card.scrollIntoViewIfNeeded();
  await screenshotDesktopAndMobile(page, 'org-settings-sso');

  // The server refuses requiring it too (the button only mirrors that).
  const refused = await page.evaluate(async () => {
    const res = await fetch('/api/b2b/organization/sso/required', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ required: true }),
    });
    return [res.status, (await res.json()).error];
  });
  assert.deepEqual(refused, [409, 'conflict']);

  // Reloaded, the page shows what was stored.
  await page.reload();
  await settings.waitReady();
  await page.getByTestId('org-sso-test').waitFor();
  assert.equal(await page.getByTestId('org-sso-issuer').inputValue(), 'https://login.globex.example');
  assert.equal(
    await page.getByTestId('org-sso-mappings').inputValue(),
    'globex-admins = admin\nglobex-staff = member',
  );

  await page.getByTestId('org-sso-remove').click();
  await page.getByTestId('org-sso-test').waitFor({ state: 'detached' });
  assert.equal(await textOf(page.getByTestId('org-sso-status')), 'Not set up');
});

browserTest('single sign-on into an organization without it says so on the login page', async ({ newContext }) => {
  const page = await (await newContext()).newPage();
  const login = new OrgLoginPage(page);
  await login.goto('/org/notes');
  await page.getByTestId('org-login-sso').click();
  await page.getByTestId('org-login-sso-slug').fill('initech');
  await screenshot(page, 'org-login-sso');
  await page.getByTestId('org-login-sso-continue').click();
  await page.waitForURL(/\/org\/login\?sso_error=not_configured&organization=initech$/);
  await login.waitReady();
  // The reason is shown by the single sign-on form, open again; the
  // password form carries no error.
  assert.match(await textOf(page.getByTestId('org-login-sso-error')), /hasn't set up single sign-on/);
  assert.equal(await page.getByTestId('org-login-error').count(), 0);
  assert.equal(await page.getByTestId('org-login-sso-slug').inputValue(), 'initech');
  await screenshotDesktopAndMobile(page, 'org-login-sso-error');
});

// ---------------------------------------------------------------------------
// Through a real provider: Umbrella and its company's OpenID Provider.

const UMBRELLA = { name: 'Umbrella Corp', slug: 'umbrella' };
const UMBRELLA_ADMIN = { email: 'it@umbrella.test', password: B2B_PASSWORD };
/** The provider's people: login (its account id) -> what its ID token says. */
const COMPANY = {
  it: { email: UMBRELLA_ADMIN.email, name: 'Ines Tate', groups: ['umbrella-it'] },
  lead: { email: 'lead@umbrella.test', name: 'Lena Ortiz', groups: ['umbrella-leads', 'everyone'] },
  dana: { email: 'dana@umbrella.test', name: 'Dana Kim', groups: ['umbrella-staff', 'everyone'] },
};

let company = null;
/** Serves Umbrella's logo over https (agent.test, the run's CA). */
let logoHost = null;

function keyhouseCli(args, input) {
  return execFileSync(config.keyhouse.bin, args, {
    env: { ...process.env, ...config.keyhouse.env },
    input,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

before(async () => {
  const out = keyhouseCli(['orgs', 'create', '--name', UMBRELLA.name, '--slug', UMBRELLA.slug, '--json']);
  const created = JSON.parse(out.trim().split('\n').pop());
  UMBRELLA.id = created.organization_id;
  keyhouseCli(
    ['members', 'create', '--org', UMBRELLA.slug, '--email', UMBRELLA_ADMIN.email, '--password-file', '-', '--role', 'admin'],
    UMBRELLA_ADMIN.password,
  );
  logoHost = await metadataDocumentServer('https://agent.test/unused', 'Umbrella logo host');
  company = await startCompanyProvider({
    redirectUri: `${config.baseUrl}/api/b2b/sso/callback/${UMBRELLA.id}`,
    accounts: COMPANY,
  });
});

after(async () => {
  await company?.close();
  await logoHost?.close();
});

/** A context that reaches the provider (its certificate is the run's test CA's). */
const companyContext = (newContext) => newContext({ ignoreHTTPSErrors: true });

/** The member session the page's browser holds, as the app's API says. */
async function sessionOf(page) {
  const r = await fetchInPage(page, 'GET', '/api/b2b/session');
  return r.status === 200 ? r.body : null;
}

browserTest('an admin connects the company provider, tests the connection and requires it', async ({ newContext }) => {
  const page = await (await companyContext(newContext)).newPage();
  const login = new OrgLoginPage(page);
  await login.goto();
  await login.login(UMBRELLA_ADMIN);
  await new OrgNotesPage(page).waitReady();
  const settings = new OrgSettingsPage(page);
  await settings.goto();
  await settings.waitReady();

  // The company's logo, fetched by Keyhouse and served from its origin.
  await page.getByTestId('org-logo-uri').fill(`${logoHost.origin}/logo.png`);
  await page.getByTestId('org-logo-save').click();
  const logo = page.getByTestId('org-logo');
  await logo.waitFor();
  await page.getByTestId('org-logo-saved').waitFor();
  assert.match(await logo.getAttribute('src'), new RegExp(`^/api/b2b/organizations/${UMBRELLA.id}/logo\\?v=`));
  assert.ok(await logo.evaluate((img) => img.complete && img.naturalWidth > 0), 'the logo loads');
  assert.equal(logoHost.logoFetches(), 1, 'fetched once, by Keyhouse');
  await page.getByTestId('org-profile-form').scrollIntoViewIfNeeded();
  await screenshot(page, 'org-settings-logo');

  await page.getByTestId('org-sso-issuer').fill(company.issuer);
  await page.getByTestId('org-sso-client-id').fill(company.clientId);
  await page.getByTestId('org-sso-client-secret').fill(company.clientSecret);
  await page.getByTestId('org-sso-groups-claim').fill('groups');
  await page.getByTestId('org-sso-mappings').fill('umbrella-it = admin\numbrella-leads = admin\numbrella-staff = member');
  await page.getByTestId('org-sso-provision').selectOption('member');
  await page.getByTestId('org-sso-save').click();
  await page.getByTestId('org-sso-test').waitFor();
  assert.equal(await textOf(page.getByTestId('org-sso-status')), 'Not tested yet');

  // The test runs the whole flow: to the provider, where the admin signs
  // in as themself, and back with an ID token that checks out.
  await page.getByTestId('org-sso-test').click();
  await signInAtCompany(page, 'it');
  await waitForUrl(page, isAt(config.baseUrl, '/org/settings'), 'back on /org/settings after the test');
  assert.equal(new URL(page.url()).searchParams.get('sso_test'), 'ok', `the test should succeed, got ${page.url()}`);
  await settings.waitReady();
  assert.match(await textOf(page.getByTestId('org-sso-test-result')), /The connection works/);
  assert.equal(await textOf(page.getByTestId('org-sso-status')), 'Working · optional');
  assert.deepEqual(company.signIns(), ['it']);

  await page.getByTestId('org-sso-require').click();
  await page.getByTestId('org-sso-optional').waitFor();
  assert.equal(await textOf(page.getByTestId('org-sso-status')), 'Working · required for every member');
  await page.getByTestId('org-sso').scrollIntoViewIfNeeded();
  await screenshotDesktopAndMobile(page, 'org-settings-sso-required');
});

browserTest(
  'single sign-on required: a password opens no session; groups decide roles, roles decide what the GPT gets',
  async ({ newContext }) => {
    // A password no longer opens a session: the sign-in goes on to the provider.
    const page = await (await companyContext(newContext)).newPage();
    const login = new OrgLoginPage(page);
    await login.goto();
    await login.submitCredentials(UMBRELLA_ADMIN);
    await page.waitForURL((u) => u.hostname === config.agents.ssoHost, { waitUntil: 'load' });
    await page.goto(config.baseUrl + '/org/login');
    assert.equal(await sessionOf(page), null, 'no member session after a password sign-in to an organization that requires single sign-on');

    const gpt = new SimulatedGpt({ authorizePath: '/org/idp', scope: B2B_GPT_SCOPE });
    await gpt.start();
    try {
      // Dana (umbrella-staff) is new to Umbrella: added as a member.
      const dana = await connectThroughCompany(newContext, gpt, 'dana');
      assert.deepEqual(dana.ungrantable, ['notes:write'], 'a member cannot grant notes:write');
      assert.ok(dana.scopes.includes('notes:read'));
      assert.ok(!dana.granted.includes('notes:write'), `Dana's token must not carry notes:write, got ${dana.granted}`);
      assert.deepEqual(dana.roles, ['member']);
      const list = await gpt.api('GET', '/api/b2b/notes', { token: dana.tokens.access_token });
      assert.equal(list.status, 200, `the GPT reads Umbrella's notes with Dana's token: ${list.text}`);
      const write = await gpt.api('POST', '/api/b2b/notes', {
        token: dana.tokens.access_token,
        json: { title: 'From the GPT', body: 'not allowed' },
      });
      assert.equal(write.status, 403, `Dana's token cannot write: ${write.text}`);

      // Lena (umbrella-leads) is added as an admin and can grant writing.
      const lena = await connectThroughCompany(newContext, gpt, 'lead');
      assert.deepEqual(lena.roles, ['admin']);
      assert.deepEqual(lena.ungrantable, []);
      assert.ok(lena.granted.includes('notes:write'), `Lena's token carries notes:write, got ${lena.granted}`);
      const wrote = await gpt.api('POST', '/api/b2b/notes', {
        token: lena.tokens.access_token,
        json: { title: 'From the GPT', body: 'on behalf of Lena' },
      });
      assert.ok(wrote.status === 200 || wrote.status === 201, `Lena's token writes: ${wrote.status} ${wrote.text}`);
    } finally {
      await gpt.stop();
    }
  },
  { timeout: 90_000 },
);

/**
 * Notes GPT asks for access at /org/idp in a signed-out browser; the person
 * chooses single sign-on for Umbrella at /org/login, signs in at the
 * provider as `login` and approves the consent.
 */
async function connectThroughCompany(newContext, gpt, loginName) {
  const page = await (await companyContext(newContext)).newPage();
  await page.goto(gpt.authorizeUrl());
  await waitForUrl(page, isAt(config.baseUrl, '/org/login'), '/org/login?returnTo=… (no member session at /org/idp)');
  const login = new OrgLoginPage(page);
  await login.waitReady();
  await page.getByTestId('org-login-sso').click();
  await page.getByTestId('org-login-sso-slug').fill(UMBRELLA.slug);
  await page.getByTestId('org-login-sso-continue').click();
  await signInAtCompany(page, loginName);

  // Back at /org/idp with the GPT's request, signed in to Umbrella.
  await waitForUrl(page, isAt(config.baseUrl, '/org/idp'), `/org/idp after ${loginName} signed in at the provider`);
  assert.equal(new URL(page.url()).searchParams.get('state'), gpt.state, 'the GPT\'s request survives the trip');
  const consent = new B2BConsentPage(page);
  await consent.waitForConsent();
  assert.equal(await consent.organizationName(), UMBRELLA.name);
  const logo = page.getByTestId('consent-organization-logo');
  assert.ok(await logo.evaluate((img) => img.complete && img.naturalWidth > 0), 'the organization\'s logo shows on consent');
  assert.ok((await logo.getAttribute('src')).startsWith(`/api/b2b/organizations/${UMBRELLA.id}/logo`));
  const details = await consent.details();
  assert.ok(details.text.includes(COMPANY[loginName].email), `the consent names ${COMPANY[loginName].email}: ${details.text}`);
  const ungrantable = await consent.ungrantableScopes();
  const session = await sessionOf(page);
  assert.equal(session?.member?.email, COMPANY[loginName].email);
  if (loginName === 'dana') await screenshotDesktopAndMobile(page, 'consent-b2b-sso');
  await consent.approve();
  const cb = await gpt.waitForCallback(15_000);
  const tokens = await gpt.exchange(cb.get('code'));
  return {
    tokens,
    scopes: details.scopes,
    ungrantable,
    granted: String(tokens.scope ?? '').split(' '),
    roles: session?.member?.roles ?? null,
  };
}
