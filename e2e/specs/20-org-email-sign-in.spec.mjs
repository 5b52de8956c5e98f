// 20. Members of organizations sign in with a code or link mailed to them
//     (read from the run's SMTP server), through discovery's choice:
//
//     - a GPT sends the member to /org/idp, which sends them to /org/login;
//       they ask for a code, type it, pick one of their two organizations,
//       and consent: the GPT's ID token says amr ["email"];
//     - a link asked for on /org/login is refused in another browser and
//       opens the choice in the browser that asked; it works once.
import assert from 'node:assert/strict';
import { browserTest, screenshot, screenshotDesktopAndMobile } from '../lib/browser.mjs';
import { config } from '../lib/env.mjs';
import { codeIn, linkIn, messages, waitForMail } from '../lib/mail.mjs';
import { B2B_GPT_SCOPE, decodeJwtPayload, SimulatedGpt } from '../gpt.mjs';
import { OrgLoginPage, connectThroughOrgIdp, isAt, textOf, waitForUrl } from '../pages/index.mjs';

/** One email, member in acme and admin in globex. */
const MEMBER = config.b2b.member;

/** The number the next message to `to` will have. */
const nextMail = (to) => messages().filter((m) => m.to.includes(to)).length + 1;

/** On /org/login: switches to the mailed code and asks for one. */
async function askForCode(page, email) {
  await page.getByTestId('org-login-by-email').click();
  await page.getByTestId('magic-link-email').fill(email);
  await page.getByTestId('magic-link-submit').click();
  await page.getByTestId('code-input').waitFor();
}

browserTest('a member signs in with a mailed code on the way to a GPT', async ({ page }) => {
  const gpt = new SimulatedGpt({ authorizePath: '/org/idp', scope: B2B_GPT_SCOPE });
  await gpt.start();
  try {
    await page.goto(gpt.authorizeUrl());
    const login = new OrgLoginPage(page);
    await login.waitReady();
    await page.getByTestId('org-login-by-email').click();
    await page.getByTestId('magic-link-email').waitFor();
    await screenshotDesktopAndMobile(page, 'org-login-by-email');
    const n = nextMail(MEMBER.email);
    await page.getByTestId('magic-link-email').fill(MEMBER.email);
    await page.getByTestId('magic-link-submit').click();
    const input = page.getByTestId('code-input');
    await input.waitFor();
    await screenshot(page, 'org-login-check-email');
    const mail = await waitForMail(MEMBER.email, n);
    assert.match(mail.subject, /sign-in code for your organizations/);

    // A wrong code is refused; the right one offers both organizations.
    const right = codeIn(mail);
    await input.fill(String((Number(right) + 1) % 1_000_000).padStart(6, '0'));
    await page.getByTestId('code-submit').click();
    const error = page.getByTestId('code-error');
    await error.waitFor();
    assert.match(await textOf(error), /wrong or expired/);
    await input.fill(right);
    await page.getByTestId('code-submit').click();
    assert.deepEqual((await login.waitForChoices()).sort(), ['acme', 'globex']);
    await login.choose('acme');

    // Back at /org/idp with the member session: consent, then the callback.
    const tokens = await connectThroughOrgIdp(page, gpt);
    const id = decodeJwtPayload(tokens.id_token);
    assert.deepEqual(id.amr, ['email']);
    assert.equal(id.acr, 'urn:keyhouse:acr:1fa');
    assert.equal((await gpt.api('GET', '/api/b2b/notes', { token: tokens.access_token })).status, 200);
  } finally {
    await gpt.stop();
  }
});

browserTest('a mailed link opens the organizations only in the browser that asked, once', async ({ page, newContext }) => {
  const login = new OrgLoginPage(page);
  await login.goto('/org/member');
  const n = nextMail(MEMBER.email);
  await askForCode(page, MEMBER.email);
  const link = linkIn(await waitForMail(MEMBER.email, n), '/org/login/email?token=');
  assert.equal(new URL(link).origin, config.baseUrl);

  const other = await (await newContext()).newPage();
  await other.goto(link);
  const refused = other.getByTestId('org-login-error');
  await refused.waitFor();
  assert.match(await textOf(refused), /browser where you asked/);
  await screenshot(other, 'org-email-link-other-browser');

  await page.goto(link);
  assert.deepEqual((await login.waitForChoices()).sort(), ['acme', 'globex']);
  await screenshotDesktopAndMobile(page, 'org-email-link-choices');
  await login.choose('globex');
  await waitForUrl(page, isAt(config.baseUrl, '/org/member'), '/org/member (the returnTo of the request) after the link');
  await page.getByTestId('member-org').waitFor();
  assert.match(await textOf(page.getByTestId('member-org')), /Globex/);

  // The link works once.
  await page.goto(link);
  const spent = page.getByTestId('org-login-error');
  await spent.waitFor();
  assert.match(await textOf(spent), /used, expired or wrong/);
  await page.getByTestId('magic-link-email').waitFor();
});
