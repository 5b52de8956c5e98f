// 14. The account page: where the account is signed in (signing out the
//     others), moving it to a new address (the code read from the run's SMTP
//     server; the old address is told), and deleting it (its sessions end and
//     the password stops working).
import assert from 'node:assert/strict';
import { browserTest, screenshot, screenshotDesktopAndMobile } from '../lib/browser.mjs';
import { codeIn, waitForMail } from '../lib/mail.mjs';
import { newUser } from '../lib/users.mjs';
import { AccountPage, Header, LoginPage, signedInOnTwoDevices, waitForUrl } from '../pages/index.mjs';

browserTest('sessions list, sign out everywhere else, and a new address', async ({ page, newContext }) => {
  const user = newUser('account');
  const other = await signedInOnTwoDevices(page, newContext, user);

  const account = new AccountPage(page);
  await account.goto();
  await account.waitForSessions(2);
  assert.equal(await account.sessions().first().getAttribute('data-current'), 'true');
  assert.match(await account.sessions().first().innerText(), /Chrome on Linux/);
  await screenshotDesktopAndMobile(page, 'account-sessions');

  assert.match(await account.signOutOthers(), /Signed out of 1 other session/);
  await account.waitForSessions(1);
  await other.goto('/');
  await waitForUrl(other, (u) => u.pathname === '/login', 'the login page on the signed-out device');

  // A new address: nothing changes until its code comes back.
  const moved = newUser('moved').email;
  await account.askEmailChange(moved, user.password);
  await screenshot(page, 'account-email-code');
  assert.equal(await account.emailText(), user.email);
  const mail = await waitForMail(moved, 1);
  assert.match(mail.subject, /Confirm your new email/);
  assert.match(await account.confirmEmailChange(codeIn(mail)), new RegExp(`now ${moved.replace(/[.+]/g, '\\$&')}`));
  assert.equal(await account.emailText(), moved);
  await screenshot(page, 'account-email-changed');
  const told = await waitForMail(user.email, 2);
  assert.match(told.subject, /email of your .* account changed/);

  // The new address signs in; the old one no longer does.
  const old = new LoginPage(other);
  await old.goto();
  await old.submitCredentials({ email: user.email, password: user.password });
  assert.ok((await old.errorText()).length > 0, 'the old address should be refused');
  await old.login({ email: moved, password: user.password });
  await new Header(other).waitSignedIn();
});

browserTest('deleting the account signs it out everywhere and for good', async ({ page, newContext }) => {
  const user = newUser('delete');
  const other = await signedInOnTwoDevices(page, newContext, user);

  const account = new AccountPage(page);
  await account.goto();
  await page.getByTestId('delete-open').click();
  await page.getByTestId('delete-email').fill(user.email);
  await screenshotDesktopAndMobile(page, 'account-delete-confirm');
  await page.getByTestId('delete-cancel').click();
  await account.deleteAccount(user.email, user.password);
  await page.getByTestId('login-account-deleted').waitFor();
  await screenshot(page, 'account-deleted');

  await other.goto('/');
  await waitForUrl(other, (u) => u.pathname === '/login', 'the login page on the other device');
  const again = new LoginPage(other);
  await again.waitReady();
  await again.submitCredentials(user);
  assert.ok((await again.errorText()).length > 0, 'a deleted account should not sign in');
  const last = await waitForMail(user.email, 2);
  assert.match(last.subject, /was deleted/);
});
