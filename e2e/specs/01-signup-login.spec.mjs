// 1. Sign up through the UI, see the notes page, log out from the account page,
//    log in again and see the account's email. The app's wasm, JavaScript
//    and CSS arrive compressed (encoded well under decoded size).
import assert from 'node:assert/strict';
import { browserTest, screenshot, screenshotDesktopAndMobile } from '../lib/browser.mjs';
import { config } from '../lib/env.mjs';
import { newUser } from '../lib/users.mjs';
import { AccountPage, Header, LoginPage, NotesPage, SignupPage, waitForUrl } from '../pages/index.mjs';

browserTest('sign up, log out from the account page, log in again', async ({ page }) => {
  const user = newUser('signup');
  const header = new Header(page);

  // Sign up.
  const signup = new SignupPage(page);
  await signup.goto();
  await screenshot(page, 'signup');
  // The app's code came compressed (the build's brotli copies), and ran.
  const assets = await page.evaluate(() => performance.getEntriesByType('resource')
    .filter((e) => /\.(wasm|js|css)$/.test(new URL(e.name).pathname))
    .map((e) => ({ name: new URL(e.name).pathname, encoded: e.encodedBodySize, decoded: e.decodedBodySize })));
  const wasm = assets.find((a) => a.name.endsWith('_bg.wasm'));
  assert.ok(wasm, `the page loaded its wasm: ${JSON.stringify(assets)}`);
  for (const a of assets) {
    assert.ok(a.encoded < a.decoded * 0.6, `${a.name} should arrive compressed: ${a.encoded} of ${a.decoded} bytes`);
  }
  await signup.signup(user);

  const notes = new NotesPage(page);
  await notes.waitReady();
  await header.waitSignedIn();
  assert.equal(new URL(page.url()).origin, config.baseUrl, `after signing up the app should stay on ${config.baseUrl}, is at ${page.url()}`);
  assert.ok(await notes.empty.isVisible(), 'a brand-new user should see notes-empty on the notes page');
  await header.login.waitFor({ state: 'hidden' }); // nav-login is for signed-out visitors only

  // The account page, through the header.
  await header.account.click();
  const account = new AccountPage(page);
  await account.waitReady();
  assert.equal(await account.emailText(), user.email, 'account-email should show the email used to sign up');
  assert.equal(await account.nameText(), user.name, 'account-name should show the name used to sign up');
  await screenshot(page, 'account');

  // Log out.
  await account.logout();
  await header.waitSignedOut();
  await header.account.waitFor({ state: 'hidden' }); // nav-account is for signed-in users only

  // The session is gone: the notes page sends the browser to the login page.
  await page.goto('/');
  await waitForUrl(
    page,
    (u) => u.origin === config.baseUrl && u.pathname === '/login' && u.searchParams.get('returnTo') === '/',
    '/login?returnTo=/ (the notes page without a session)',
  );
  const login = new LoginPage(page);
  await login.waitReady();
  assert.ok(await login.signupLink.isVisible(), 'the login page should link to the signup page (login-signup-link)');
  await screenshotDesktopAndMobile(page, 'login');

  // A wrong password is refused with a message, and the browser stays on /login.
  await login.submitCredentials({ email: user.email, password: 'not the right password' });
  const error = await login.errorText();
  assert.ok(error.length > 0, 'login-error should explain why a wrong password was refused');
  assert.equal(new URL(page.url()).pathname, '/login', `a refused login should stay on /login, is at ${page.url()}`);

  // Log in again: back to returnTo=/ and the same account.
  await login.login(user);
  await notes.waitReady();
  await header.waitSignedIn();
  await header.account.click();
  await account.waitReady();
  assert.equal(await account.emailText(), user.email, 'after logging in again account-email should be the same email');
});
