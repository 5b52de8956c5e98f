// 15. Operators and accounts (/admin/users): the operator run.mjs creates
//     (config.admin) finds a user by part of the address, disables the account
//     (the user's next page load is signed out and the password no longer
//     signs in), enables it again, then requires a new password (the reset
//     link arrives by mail, the old password is refused until it is used).
import assert from 'node:assert/strict';
import { browserTest, screenshot, screenshotDesktopAndMobile } from '../lib/browser.mjs';
import { config } from '../lib/env.mjs';
import { linkIn, waitForMail } from '../lib/mail.mjs';
import { newUser } from '../lib/users.mjs';
import { Header, LoginPage, isAt, signUpThroughUi, waitForUrl } from '../pages/index.mjs';

/** The row of `email` on /admin/users, after searching for `query`. */
async function findUser(page, query, email) {
  await page.getByTestId('admin-users-search').fill(query);
  await page.getByTestId('admin-users-search-submit').click();
  const row = page.locator(`[data-testid="admin-user-row"][data-email="${email}"]`);
  await row.waitFor();
  assert.equal(await page.getByTestId('admin-user-row').count(), 1, `only ${email} should match "${query}"`);
  return row;
}

async function confirmAction(page, button) {
  await page.getByTestId(button).click();
  await page.getByTestId('admin-user-confirm').click();
  await page.getByTestId('admin-users-status').filter({ hasText: /\S/ }).waitFor();
}

browserTest('an operator disables an account, enables it, and requires a new password', async ({ page, newContext }) => {
  const user = newUser('operated');
  await signUpThroughUi(page, user);

  const ops = await (await newContext()).newPage();
  const login = new LoginPage(ops);
  await ops.goto('/login?returnTo=%2Fadmin%2Fusers');
  await login.login(config.admin);
  await waitForUrl(ops, isAt(config.baseUrl, '/admin/users'), 'the users page');
  await ops.getByTestId('admin-user-row').first().waitFor();

  const tag = user.email.split('@')[0].slice(2);
  let row = await findUser(ops, tag.toUpperCase(), user.email);
  await screenshotDesktopAndMobile(ops, 'admin-users');

  await ops.getByTestId('admin-user-disable').click();
  await screenshot(ops, 'admin-users-confirm-disable');
  await ops.getByTestId('admin-user-confirm').click();
  await ops.getByTestId('admin-users-status').filter({ hasText: /is disabled: 1 session/ }).waitFor();
  row = ops.locator(`[data-testid="admin-user-row"][data-email="${user.email}"]`);
  await ops.locator(`[data-testid="admin-user-row"][data-email="${user.email}"][data-disabled="true"]`).waitFor();

  // The user's next page load is signed out, and the password is refused.
  await page.goto('/');
  await waitForUrl(page, (u) => u.pathname === '/login', 'the login page (the account is disabled)');
  const again = new LoginPage(page);
  await again.waitReady();
  await again.submitCredentials(user);
  assert.match(await again.errorText(), /disabled/);
  await screenshot(page, 'login-account-disabled');

  await ops.getByTestId('admin-user-enable').click();
  await ops.getByTestId('admin-users-status').filter({ hasText: /enabled again/ }).waitFor();
  await again.login(user);
  await new Header(page).waitSignedIn();

  // A new password required: signed out again, and the old password stops.
  await confirmAction(ops, 'admin-user-require-reset');
  // The row is read again after the action's status: wait for it.
  await ops.locator(`[data-testid="admin-user-row"][data-email="${user.email}"][data-reset-required="true"]`).waitFor();
  await page.goto('/');
  await waitForUrl(page, (u) => u.pathname === '/login', 'the login page (a reset is required)');
  await again.waitReady();
  await again.submitCredentials(user);
  assert.match(await again.errorText(), /needs a new password/);
  const mail = await waitForMail(user.email, 2);
  assert.match(mail.subject, /Reset your/);
  assert.ok(linkIn(mail, '/reset-password?token='));

  const audit = await ops.evaluate(async () => (await fetch('/api/admin/audit')).json());
  const actions = audit.items.map((e) => e.action);
  for (const a of ['user.disabled', 'user.enabled', 'user.password_reset_required']) {
    assert.ok(actions.includes(a), `${a} in the audit log`);
  }
});
