// 19. An organization that asks every member for two-step verification
//     (fixture organization Initech, lib/b2b.mjs):
//
//     - a member connects Notes GPT with a password alone, before the policy;
//     - the admin cannot ask two factors of everyone before using them, turns
//       an authenticator app on in /org/member, then turns the policy on in
//       /org/settings: the GPT's existing token is refused at once;
//     - the member, still signed in with the password alone, is stopped at
//       /org/idp with "turn on two-step verification", turns it on in
//       /org/member (the organization's gate) and comes back: the GPT gets a
//       token whose ID token says acr 2fa;
//     - a new sign-in at /org/login asks for the second step (a wrong code is
//       refused, a recovery code works), and the organization pages open;
//     - the admin turns the member's app off (a lost phone) on /org/settings:
//       the member's next sign-in meets the gate, to set a new one up.
import assert from 'node:assert/strict';
import { browserTest, screenshot, screenshotDesktopAndMobile } from '../lib/browser.mjs';
import { config } from '../lib/env.mjs';
import { base32, totp } from '../lib/totp.mjs';
import { B2B_GPT_SCOPE, decodeJwtPayload, SimulatedGpt } from '../gpt.mjs';
import { B2BConsentPage, OrgLoginPage, OrgNotesPage, connectThroughOrgIdp, isAt, textOf, waitForUrl } from '../pages/index.mjs';

const { admin: ADMIN, member: MEMBER } = config.b2b.initech;
const TWO_FACTORS = 'urn:keyhouse:acr:2fa';

/** Signs `account` in at /org/login in a fresh context; waits for /org. */
async function signedIn(newContext, account) {
  const page = await (await newContext()).newPage();
  const login = new OrgLoginPage(page);
  await login.goto();
  await login.login(account);
  await new OrgNotesPage(page).waitReady();
  return page;
}

/**
 * On a page showing the two-step card (`two-step`): sets the app up with the
 * account's password and turns it on. Returns the key and the recovery codes.
 */
async function turnOn(page, account, shot) {
  const card = page.getByTestId('two-step');
  await card.getByTestId('two-step-set-up').waitFor();
  await card.getByTestId('two-step-password').fill(account.password);
  await card.getByTestId('two-step-set-up').click();
  await card.getByTestId('two-step-qr').waitFor();
  if (shot) await screenshotDesktopAndMobile(page, shot);
  const key = base32(await textOf(card.getByTestId('two-step-secret')));
  await card.getByTestId('two-step-code').fill(totp(key));
  await card.getByTestId('two-step-turn-on').click();
  const list = card.getByTestId('two-step-recovery-codes');
  await list.waitFor();
  const codes = (await list.locator('li').allInnerTexts()).map((c) => c.trim());
  assert.equal(codes.length, 10, 'ten recovery codes are shown once');
  return { key, codes };
}


browserTest('an organization asks every member for two-step verification', async ({ newContext }) => {
  const gpt = new SimulatedGpt({ authorizePath: '/org/idp', scope: B2B_GPT_SCOPE });
  await gpt.start();
  try {
    // Before the policy: the member connects the GPT with a password alone.
    const member = await signedIn(newContext, MEMBER);
    await member.goto(gpt.authorizeUrl());
    const before = await connectThroughOrgIdp(member, gpt);
    assert.equal((await gpt.api('GET', '/api/b2b/notes', { token: before.access_token })).status, 200);

    // The admin cannot ask it of everyone before using it.
    const admin = await signedIn(newContext, ADMIN);
    await admin.goto('/org/settings');
    const requireBox = admin.getByTestId('org-require-two-step');
    await requireBox.waitFor();
    await requireBox.check();
    await admin.getByTestId('org-sign-in-save').click();
    const refused = admin.getByTestId('org-sign-in-error');
    await refused.waitFor();
    assert.match(await textOf(refused), /turn two-step verification on for yourself/i);

    await admin.goto('/org/member');
    await turnOn(admin, ADMIN, 'org-member-two-step-scan');
    await admin.getByTestId('two-step-saved').click();
    await admin.getByTestId('two-step-codes-left').waitFor();

    await admin.goto('/org/settings');
    await requireBox.waitFor();
    await requireBox.check();
    await admin.getByTestId('org-sign-in-save').click();
    await admin.getByTestId('org-sign-in-saved').waitFor();
    await screenshotDesktopAndMobile(admin, 'org-settings-sign-in');

    // The GPT's token from the password-only sign-in stops at once.
    const after = await gpt.api('GET', '/api/b2b/notes', { token: before.access_token });
    assert.equal(after.status, 401, `the old token should be refused, got ${after.status}: ${after.text}`);

    // The member's password-only session meets the policy at /org/idp.
    await member.goto(gpt.authorizeUrl());
    const consent = new B2BConsentPage(member);
    const e = await consent.waitForError();
    assert.equal(e.code, 'second_factor_setup_required');
    await screenshot(member, 'org-idp-two-step-needed');
    await member.getByTestId('idp-turn-on-two-step').click();
    await waitForUrl(member, isAt(config.baseUrl, '/org/member'), '/org/member?returnTo=/org/idp…');
    await member.getByTestId('org-two-step-gate').waitFor();
    await screenshotDesktopAndMobile(member, 'org-two-step-gate');
    const { key, codes } = await turnOn(member, MEMBER);
    await member.getByTestId('two-step-continue').click();
    const tokens = await connectThroughOrgIdp(member, gpt);
    const id = decodeJwtPayload(tokens.id_token);
    assert.equal(id.acr, TWO_FACTORS);
    assert.deepEqual(id.amr, ['pwd', 'otp', 'mfa']);
    assert.equal((await gpt.api('GET', '/api/b2b/notes', { token: tokens.access_token })).status, 200);

    // A new sign-in asks for the second step: a wrong code, then a
    // recovery code.
    const fresh = await (await newContext()).newPage();
    const login = new OrgLoginPage(fresh);
    await login.goto();
    await login.submitCredentials(MEMBER);
    const challenge = fresh.getByTestId('second-factor');
    await challenge.waitFor();
    await screenshotDesktopAndMobile(fresh, 'org-login-second-factor');
    await challenge.getByTestId('second-factor-input').fill(totp(key, Date.now() - 5 * 60_000));
    await challenge.getByTestId('second-factor-submit').click();
    await challenge.getByTestId('second-factor-error').waitFor();
    await challenge.getByTestId('second-factor-switch').click();
    await challenge.getByTestId('second-factor-input').fill(codes[0]);
    await challenge.getByTestId('second-factor-submit').click();
    await new OrgNotesPage(fresh).waitReady();

    // The member lost the phone: the admin turns the app off on the
    // member's row (asked twice), and the next sign-in meets the gate.
    await admin.goto('/org/settings');
    const row = admin.getByTestId('org-member').filter({ hasText: MEMBER.email });
    const turnOff = row.getByTestId('org-member-turn-off-two-step');
    await turnOff.click();
    await turnOff.click();
    await row.getByTestId('org-member-two-step').filter({ hasText: 'Off' }).waitFor();
    await screenshot(admin, 'org-settings-member-two-step-off');
    const later = await (await newContext()).newPage();
    const again = new OrgLoginPage(later);
    await again.goto();
    await again.login(MEMBER);
    await later.getByTestId('org-two-step-gate').getByTestId('two-step-set-up').waitFor();
  } finally {
    await gpt.stop();
  }
}, { timeout: 150_000 });
