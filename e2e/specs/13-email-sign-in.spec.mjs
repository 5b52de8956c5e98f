// 13. Proving an address by mail (read from the run's SMTP server): sign-up
//     finishes with the mailed code, sign-in works with a mailed code or
//     link in the browser that asked (and not in another one), and an
//     account made by the operator verifies its address from the account page.
import assert from 'node:assert/strict';
import { browserTest, screenshot, screenshotDesktopAndMobile } from '../lib/browser.mjs';
import { config } from '../lib/env.mjs';
import { codeIn, linkIn, messages, waitForMail } from '../lib/mail.mjs';
import { newUser } from '../lib/users.mjs';
import { AccountPage, Header, LoginPage, NotesPage, SignupPage, waitForUrl } from '../pages/index.mjs';

browserTest('sign-up waits for the mailed code; a wrong code is refused', async ({ page }) => {
  const user = newUser('verify');
  const signup = new SignupPage(page);
  await signup.goto();
  await signup.submitForm(user);
  const input = await signup.waitForCodeStep();
  await screenshotDesktopAndMobile(page, 'signup-check-email');
  const mail = await waitForMail(user.email);
  assert.match(mail.subject, /Confirm your email/);
  const right = codeIn(mail);
  const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, '0');
  await input.fill(wrong);
  await page.getByTestId('code-submit').click();
  const error = page.getByTestId('code-error');
  await error.waitFor();
  assert.match(await error.innerText(), /wrong or expired/);
  await screenshot(page, 'signup-wrong-code');
  await input.fill(right);
  await page.getByTestId('code-submit').click();
  await new NotesPage(page).waitReady();
  await new Header(page).account.click();
  const account = new AccountPage(page);
  await account.waitReady();
  await page.getByTestId('account-email-verified').waitFor();
});

browserTest('sign in with a mailed code, and with the mailed link in the same browser only', async ({ page, newContext }) => {
  const user = newUser('magic');
  const signup = new SignupPage(page);
  await signup.goto();
  await signup.signup(user);
  await new NotesPage(page).waitReady();
  const header = new Header(page);
  await header.account.click();
  const account = new AccountPage(page);
  await account.waitReady();
  await account.logout();
  await header.waitSignedOut();

  // By code: ask on the login page, type the code.
  const login = new LoginPage(page);
  await login.goto('/account');
  await page.getByTestId('login-by-email').click();
  await page.getByTestId('magic-link-email').fill(user.email);
  await screenshotDesktopAndMobile(page, 'login-by-email');
  await page.getByTestId('magic-link-submit').click();
  const input = page.getByTestId('code-input');
  await input.waitFor();
  const byCode = await waitForMail(user.email, 2);
  assert.match(byCode.subject, /sign-in code/);
  await input.fill(codeIn(byCode));
  await page.getByTestId('code-submit').click();
  await waitForUrl(page, (u) => u.pathname === '/account', 'the account page (returnTo) after the code');
  await account.waitReady();
  await account.logout();
  await header.waitSignedOut();

  // By link: ask again, then open the link elsewhere (refused) and here.
  await login.goto('/account');
  await page.getByTestId('login-by-email').click();
  await page.getByTestId('magic-link-email').fill(user.email);
  await page.getByTestId('magic-link-submit').click();
  await input.waitFor();
  const byLink = linkIn(await waitForMail(user.email, 3), '/verify-email?token=');
  assert.equal(new URL(byLink).origin, config.baseUrl);

  const other = await (await newContext()).newPage();
  await other.goto(byLink);
  const refused = other.getByTestId('email-link-error');
  await refused.waitFor();
  assert.match(await refused.innerText(), /browser where you asked/);
  await screenshot(other, 'email-link-other-browser');

  await page.goto(byLink);
  await waitForUrl(page, (u) => u.pathname === '/account', 'the account page (returnTo) after the link');
  await account.waitReady();
  assert.equal(await account.emailText(), user.email);
  // The link works once.
  await page.goto(byLink);
  await page.getByTestId('email-link-error').waitFor();
});

browserTest('an account made by the operator verifies its address from the account page', async ({ page }) => {
  const admin = config.admin;
  const login = new LoginPage(page);
  await login.goto('/account');
  await login.login(admin);
  const account = new AccountPage(page);
  await account.waitReady();
  const next = messages().filter((m) => m.to.includes(admin.email)).length + 1;
  await page.getByTestId('account-email-unverified').waitFor();
  await page.getByTestId('account-verify').click();
  await page.getByTestId('account-verify-sent').waitFor();
  await screenshotDesktopAndMobile(page, 'account-verify-sent');
  const link = linkIn(await waitForMail(admin.email, next), '/verify-email?token=');
  await page.goto(link);
  await page.getByTestId('email-link-verified').waitFor();
  await screenshot(page, 'email-verified');
  await page.goto('/account');
  await account.waitReady();
  await page.getByTestId('account-email-verified').waitFor();
});
