// 22. An organization's admin manages its members (fixture organization Acme):
//
//     - the admin invites a colleague by e-mail on /org/settings; the mail
//       arrives at the run's SMTP server;
//     - the colleague opens the link, sees the organization, the address and
//       the role, sets a name and a password, and lands on /org signed in;
//       the link then works no more;
//     - the colleague connects Notes GPT through /org/idp; the GPT reads the
//       organization's notes;
//     - the admin removes the colleague (asked twice): the GPT's existing
//       access token is refused on its very next call, and the audit log
//       on /org/settings lists the invitation, its acceptance and the removal.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { browserTest, screenshot, screenshotDesktopAndMobile } from '../lib/browser.mjs';
import { config } from '../lib/env.mjs';
import { codeIn, linkIn, waitForMail } from '../lib/mail.mjs';
import { B2B_GPT_SCOPE, SimulatedGpt } from '../gpt.mjs';
import { OrgLoginPage, OrgNotesPage, OrgSettingsPage, connectThroughOrgIdp, textOf } from '../pages/index.mjs';

const ADMIN = config.b2b.admin;

/** Signs `account` in at /org/login in a fresh context; waits for /org. */
async function signedIn(newContext, account) {
  const page = await (await newContext()).newPage();
  const login = new OrgLoginPage(page);
  await login.goto();
  await login.login(account, 'acme');
  await new OrgNotesPage(page).waitReady();
  return page;
}

browserTest('an invited colleague joins and connects the GPT; removed, the GPT is cut off at once', async ({ newContext }) => {
  const gpt = new SimulatedGpt({ authorizePath: '/org/idp', scope: B2B_GPT_SCOPE });
  await gpt.start();
  try {
    const admin = await signedIn(newContext, ADMIN);
    const settings = new OrgSettingsPage(admin);
    await settings.goto();
    await settings.waitReady();
    const email = `ines-${Date.now()}@example.test`;
    await admin.getByTestId('org-invite-email').fill(email);
    await admin.getByTestId('org-invite-role').selectOption('member');
    await admin.getByTestId('org-invite-submit').click();
    await admin.getByTestId('org-invite-sent').waitFor();
    const invitation = admin.getByTestId('org-invitation').filter({ hasText: email });
    await invitation.waitFor();
    await screenshotDesktopAndMobile(admin, 'org-settings-invitations');

    const mail = await waitForMail(email, 1);
    assert.match(mail.subject, /invited you to Acme Inc/);
    assert.ok(mail.body.includes(ADMIN.email), 'the mail names who invited');
    const link = linkIn(mail, '/org/invitation?token=');
    assert.equal(new URL(link).origin, config.baseUrl);

    const colleague = await (await newContext()).newPage();
    await colleague.goto(link);
    await colleague.getByTestId('invitation-form').waitFor();
    const summary = await textOf(colleague.getByTestId('invitation-summary'));
    assert.ok(summary.includes(email) && summary.includes('member'), summary);
    await colleague.getByTestId('invitation-name').fill('Ines Invitee');
    await screenshotDesktopAndMobile(colleague, 'org-invitation');
    await colleague.getByTestId('invitation-password').fill('a long new password');
    await colleague.getByTestId('invitation-accept').click();
    await new OrgNotesPage(colleague).waitReady();
    // The header names who is signed in to the organization, not "Sign in".
    const who = colleague.getByTestId('nav-member');
    await who.waitFor();
    assert.equal(await textOf(who), email);
    assert.equal(await colleague.getByTestId('nav-login').count(), 0);

    // The link worked once.
    const again = await (await newContext()).newPage();
    await again.goto(link);
    await again.getByTestId('invitation-error').waitFor();
    await screenshot(again, 'org-invitation-used');

    // The colleague connects the GPT, which reads the organization's notes.
    await colleague.goto(gpt.authorizeUrl());
    const tokens = await connectThroughOrgIdp(colleague, gpt);
    assert.equal((await gpt.api('GET', '/api/b2b/notes', { token: tokens.access_token })).status, 200);

    // The admin removes the colleague: asked twice.
    await settings.goto();
    await settings.waitReady();
    const row = settings.memberRow(email);
    await row.getByTestId('org-member-remove').click();
    await row.getByTestId('org-member-confirm').waitFor();
    await screenshotDesktopAndMobile(admin, 'org-settings-remove-member');
    await row.getByTestId('org-member-remove').click();
    await row.waitFor({ state: 'detached' });
    // The GPT's existing token is refused on its next call.
    assert.equal((await gpt.api('GET', '/api/b2b/notes', { token: tokens.access_token })).status, 401);
    const refreshed = await gpt.refresh(tokens.refresh_token).catch((e) => e);
    assert.ok(refreshed instanceof Error, 'the refresh token is dead too');

    const events = admin.getByTestId('org-audit-event');
    await events.first().waitFor();
    const actions = await events.evaluateAll((els) => els.map((e) => e.getAttribute('data-action')));
    for (const a of ['organization.member_removed', 'organization.invitation_accepted', 'organization.member_invited']) {
      assert.ok(actions.includes(a), `${a} in the audit log: ${actions}`);
    }
    assert.equal(actions[0], 'organization.member_removed', 'newest first');
    await admin.getByTestId('org-audit-event').first().scrollIntoViewIfNeeded();
    await screenshot(admin, 'org-settings-audit-log');
  } finally {
    await gpt.stop();
  }
});

// A colleague at the company's domain joins without an invitation: the
// admin claims the domain on /org/settings, the operator verifies it (the
// CLI), the admin lets anyone at it join as `member`; the colleague asks
// for a sign-in code at /org/login, is offered to join Acme, and joins.
browserTest('a colleague at the verified domain joins through a mailed code', async ({ newContext }) => {
  const domain = `acme-${Date.now()}.test`;
  const admin = await signedIn(newContext, ADMIN);
  const settings = new OrgSettingsPage(admin);
  await settings.goto();
  await settings.waitReady();
  await admin.getByTestId('org-domain-name').fill(domain);
  await admin.getByTestId('org-domain-add').click();
  const claimed = admin.getByTestId('org-domain').filter({ hasText: domain });
  await claimed.waitFor();
  assert.match(await textOf(claimed), /Waiting for the operator/);

  assert.ok(config.keyhouse, 'the runner must say how to run the keyhouse CLI');
  execFileSync(config.keyhouse.bin, ['orgs', 'verify-domain', '--org', 'acme', '--domain', domain], {
    env: { ...process.env, ...config.keyhouse.env },
    encoding: 'utf8',
  });
  await settings.goto();
  await settings.waitReady();
  await admin.getByTestId('org-jit-role').selectOption('member');
  await admin.getByTestId('org-domain').filter({ hasText: 'Verified' }).first().waitFor();
  await admin.getByTestId('org-jit-role').scrollIntoViewIfNeeded();
  await screenshotDesktopAndMobile(admin, 'org-settings-domains');

  const email = `newcomer@${domain}`;
  const page = await (await newContext()).newPage();
  const login = new OrgLoginPage(page);
  await login.goto();
  await page.getByTestId('org-login-by-email').click();
  await page.getByTestId('magic-link-email').fill(email);
  await page.getByTestId('magic-link-submit').click();
  await page.getByTestId('code-input').waitFor();
  const mail = await waitForMail(email, 1);
  assert.match(mail.subject, /Acme Inc/);
  await page.getByTestId('code-input').fill(codeIn(mail));
  await page.getByTestId('code-submit').click();
  const choice = page.getByTestId('org-choice');
  await choice.waitFor();
  assert.match(await textOf(choice), /join as a new member/);
  await screenshot(page, 'org-login-join-by-domain');
  await choice.click();
  await new OrgNotesPage(page).waitReady();
  assert.equal(await textOf(page.getByTestId('nav-member')), email);
});

// A member of two organizations with one password switches from one to the
// other on /org/member, without signing in again.
browserTest('a member of two organizations switches without signing in again', async ({ newContext }) => {
  const page = await signedIn(newContext, config.b2b.member);
  await page.goto('/org/member');
  const choice = page.getByTestId('org-switch-to');
  await choice.first().waitFor();
  const slugs = await choice.evaluateAll((els) => els.map((e) => e.getAttribute('data-slug')));
  assert.deepEqual(slugs, ['globex']);
  await screenshotDesktopAndMobile(page, 'org-member-switch');
  await choice.first().click();
  const notes = new OrgNotesPage(page);
  await notes.waitReady();
  assert.equal(await notes.orgNameText(), config.b2b.organizations.globex.name);
});
