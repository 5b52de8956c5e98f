// 16. Two-step verification: a user turns an authenticator app on in the
//     account page (the app's codes are computed here, RFC 6238, from the key
//     the page shows), then signs in with the password and a recovery code; a
//     wrong code is refused; and an app that asks for two factors
//     (acr_values) steps a session that used one up in /idp, after which its
//     ID token says acr 2fa and amr otp/mfa. Finally an operator turns it
//     off for the user (who lost their phone): the password signs in alone.
import assert from 'node:assert/strict';
import { browserTest, screenshot, screenshotDesktopAndMobile } from '../lib/browser.mjs';
import { config } from '../lib/env.mjs';
import { waitForMail } from '../lib/mail.mjs';
import { base32, nextStep, totp } from '../lib/totp.mjs';
import { newUser } from '../lib/users.mjs';
import { SimulatedGpt } from '../gpt.mjs';
import { ConsentPage, Header, LoginPage, isAt, signedInOnTwoDevices, waitForUrl } from '../pages/index.mjs';

const TWO_FACTORS = 'urn:keyhouse:acr:2fa';

function payload(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

browserTest('two-step verification: turned on, a recovery code, a step-up asked by an app', async ({ page, newContext }) => {
  const user = newUser('two-step');
  // Signed in on a second device with the password alone, before.
  const other = await signedInOnTwoDevices(page, newContext, user);

  await page.goto('/account');
  const card = page.getByTestId('two-step');
  await card.getByTestId('two-step-status').waitFor();
  assert.equal(await card.getByTestId('two-step-status').innerText(), 'Off');
  await card.getByTestId('two-step-password').fill(user.password);
  await card.getByTestId('two-step-set-up').click();
  await card.getByTestId('two-step-qr').waitFor();
  await screenshotDesktopAndMobile(page, 'account-two-step-scan');
  const key = base32(await card.getByTestId('two-step-secret').innerText());
  assert.equal(key.length, 20);
  await card.getByTestId('two-step-code').fill(totp(key));
  await card.getByTestId('two-step-turn-on').click();
  const list = card.getByTestId('two-step-recovery-codes');
  await list.waitFor();
  const codes = (await list.locator('li').allInnerTexts()).map((c) => c.trim());
  assert.equal(codes.length, 10);
  await screenshot(page, 'account-two-step-codes');
  const mail = await waitForMail(user.email, 2);
  assert.match(mail.subject, /Two-step verification was turned on/);
  await card.getByTestId('two-step-saved').click();
  await card.getByTestId('two-step-codes-left').waitFor();
  assert.match(await card.getByTestId('two-step-codes-left').innerText(), /10 recovery codes left/);

  // A new sign-in: the password, then a wrong code, then a recovery code.
  const third = await (await newContext()).newPage();
  const login = new LoginPage(third);
  await login.goto();
  await login.submitCredentials(user);
  const challenge = third.getByTestId('second-factor');
  await challenge.waitFor();
  await screenshotDesktopAndMobile(third, 'login-second-factor');
  await challenge.getByTestId('second-factor-input').fill(totp(key, Date.now() - 5 * 60_000));
  await challenge.getByTestId('second-factor-submit').click();
  await challenge.getByTestId('second-factor-error').waitFor();
  assert.match(await challenge.getByTestId('second-factor-error').innerText(), /wrong or was already used/);
  await challenge.getByTestId('second-factor-switch').click();
  await challenge.getByTestId('second-factor-input').fill(codes[0]);
  await challenge.getByTestId('second-factor-submit').click();
  await new Header(third).waitSignedIn();

  // An app asks for two factors of the device that used one: stepped up.
  const gpt = new SimulatedGpt({ scope: 'openid notes:read' });
  await gpt.start();
  try {
    await other.goto(gpt.authorizeUrl({ acr_values: TWO_FACTORS }));
    const stepUp = other.getByTestId('idp-step-up');
    await stepUp.waitFor();
    await screenshot(other, 'idp-step-up');
    // The code that turned the app on was spent: the next step's code.
    await nextStep();
    await stepUp.getByTestId('second-factor-input').fill(totp(key));
    await stepUp.getByTestId('second-factor-submit').click();
    const consent = new ConsentPage(other);
    await consent.waitForConsent();
    await consent.approve();
    const cb = await gpt.waitForCallback(15_000);
    const tokens = await gpt.exchange(cb.get('code'));
    const idt = payload(tokens.id_token);
    assert.equal(idt.acr, TWO_FACTORS);
    assert.deepEqual(idt.amr, ['pwd', 'otp', 'mfa']);
  } finally {
    await gpt.stop();
  }

  // Lost phone, lost codes: an operator turns it off, the owner is told.
  const ops = await (await newContext()).newPage();
  await ops.goto('/login?returnTo=%2Fadmin%2Fusers');
  await new LoginPage(ops).login(config.admin);
  await waitForUrl(ops, isAt(config.baseUrl, '/admin/users'), 'the users page');
  await ops.getByTestId('admin-users-search').fill(user.email);
  await ops.getByTestId('admin-users-search-submit').click();
  const row = ops.locator(`[data-testid="admin-user-row"][data-email="${user.email}"]`);
  await row.getByTestId('admin-user-two-step').waitFor();
  await row.getByTestId('admin-user-turn-off-two-step').click();
  await screenshot(ops, 'admin-users-confirm-two-step');
  await ops.getByTestId('admin-user-confirm').click();
  await ops.getByTestId('admin-users-status').filter({ hasText: /Two-step verification is off/ }).waitFor();
  assert.equal(await row.getByTestId('admin-user-two-step').count(), 0);
  const told = await waitForMail(user.email, 4);
  assert.match(told.subject, /turned off by the service's staff/);
  const fourth = await (await newContext()).newPage();
  const again = new LoginPage(fourth);
  await again.goto();
  await again.login(user);
  await new Header(fourth).waitSignedIn();
}, { timeout: 150_000 });
