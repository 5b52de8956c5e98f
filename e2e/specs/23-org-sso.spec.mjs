// 23. Single sign-on pages (fixture organization Globex, whose admin is
//     m@example.test; decision 0038):
//
//     - the admin sets the organization's identity provider on /org/settings:
//       the redirect URI to register is shown, a malformed groups-to-roles
//       line is refused in the page, the saved connection is "Not tested
//       yet" and cannot be required before a test; it is then removed;
//     - on /org/login, "Sign in with single sign-on" for an organization
//       without it comes back to the login page with the reason, the
//       organization's name still filled in.
//
// The flow through a real provider is tested in
// crates/keyhouse-axum/tests/it/sso.rs: the server binary offers no way to
// trust a provider on loopback, and no test may reach another address.
import assert from 'node:assert/strict';
import { browserTest, screenshot, screenshotDesktopAndMobile } from '../lib/browser.mjs';
import { config } from '../lib/env.mjs';
import { OrgLoginPage, OrgNotesPage, OrgSettingsPage, textOf } from '../pages/index.mjs';

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
