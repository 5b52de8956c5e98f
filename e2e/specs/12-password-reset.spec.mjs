// 12. A forgotten password: from the login page to the mailed link (read from
//     the run's SMTP server) to a new password; every session of the account
//     ends, the old password stops, and the link works once.
import assert from 'node:assert/strict';
import { browserTest, screenshot, screenshotDesktopAndMobile } from '../lib/browser.mjs';
import { config } from '../lib/env.mjs';
import { linkIn, waitForMail } from '../lib/mail.mjs';
import { newUser } from '../lib/users.mjs';
import { Header, LoginPage, NotesPage, SignupPage, signedInOnTwoDevices, waitForUrl } from '../pages/index.mjs';

const NEW_PASSWORD = 'a brand new passphrase';

browserTest('forgot password: mailed link, new password, signed out everywhere', async ({ page, newContext }) => {
  const user = newUser('reset');

  // Signed up (and so signed in) on one device.
  const signup = new SignupPage(page);
  await signup.goto();
  await signup.signup(user);
  await new NotesPage(page).waitReady();

  // On another device: the login page's "Forgot your password?".
  const other = await (await newContext()).newPage();
  const login = new LoginPage(other);
  await login.goto();
  await other.getByTestId('login-forgot-link').click();
  await waitForUrl(other, (u) => u.pathname === '/forgot-password', 'the forgot-password page');
  await other.getByTestId('forgot-email').fill(user.email);
  await screenshot(other, 'forgot-password');
  await other.getByTestId('forgot-submit').click();
  const sent = other.getByTestId('forgot-sent');
  await sent.waitFor();
  assert.match(await sent.innerText(), new RegExp(user.email.replace(/[.+]/g, '\\$&')));
  await screenshotDesktopAndMobile(other, 'forgot-password-sent');

  // The link in the mail.
  const mail = await waitForMail(user.email, 2);
  assert.match(mail.subject, /^Reset your 127\.0\.0\.1 password/);
  const link = linkIn(mail, '/reset-password?token=');
  assert.equal(new URL(link).origin, config.baseUrl);

  await other.goto(link);
  await other.getByTestId('reset-password').waitFor();
  await screenshotDesktopAndMobile(other, 'reset-password');
  await other.getByTestId('reset-password').fill(NEW_PASSWORD);
  await other.getByTestId('reset-submit').click();
  await other.getByTestId('reset-done').waitFor();
  await screenshot(other, 'reset-password-done');

  // The first device's session ended: its next page load asks to sign in.
  await page.goto('/');
  await waitForUrl(page, (u) => u.pathname === '/login', 'the login page (the session ended)');

  // The old password is refused; the new one signs in.
  const again = new LoginPage(page);
  await again.waitReady();
  await again.submitCredentials({ email: user.email, password: user.password });
  assert.ok((await again.errorText()).length > 0, 'the old password should be refused');
  await again.login({ email: user.email, password: NEW_PASSWORD });
  await new Header(page).waitSignedIn();

  // The link works once.
  await other.goto(link);
  await other.getByTestId('reset-password').fill('yet another passphrase');
  await other.getByTestId('reset-submit').click();
  const error = other.getByTestId('reset-error');
  await error.waitFor();
  assert.match(await error.innerText(), /invalid, already used or expired/);
  await screenshot(other, 'reset-password-spent');

  // And a notice of the change was mailed.
  const notice = await waitForMail(user.email, 3);
  assert.match(notice.subject, /password was changed/);
});

browserTest('the account page changes the password and signs out the other devices', async ({ page, newContext }) => {
  const user = newUser('change');
  const other = await signedInOnTwoDevices(page, newContext, user);

  await page.goto('/account');
  await page.getByTestId('password-current').fill('not my password');
  await page.getByTestId('password-new').fill(NEW_PASSWORD);
  await page.getByTestId('password-submit').click();
  const error = page.getByTestId('password-error');
  await error.waitFor();
  assert.match(await error.innerText(), /current password is not right/);

  await page.getByTestId('password-current').fill(user.password);
  await page.getByTestId('password-new').fill(NEW_PASSWORD);
  await page.getByTestId('password-submit').click();
  const done = page.getByTestId('password-done');
  await done.waitFor();
  assert.match(await done.innerText(), /other session was signed out/);
  await screenshotDesktopAndMobile(page, 'account-password-changed');

  // This device stays signed in; the other one is sent to sign in.
  await page.reload();
  await page.getByTestId('account-email').waitFor();
  await other.goto('/');
  await waitForUrl(other, (u) => u.pathname === '/login', 'the login page on the other device');
  const notice = await waitForMail(user.email, 2);
  assert.match(notice.subject, /password was changed/);
});
