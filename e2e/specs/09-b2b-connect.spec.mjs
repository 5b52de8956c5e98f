// 9. B2B: members of organizations connect Notes GPT to their ORGANIZATION's
//    shared notes through /org/idp. The fixtures (run.mjs, lib/b2b.mjs): Acme Inc
//    (acme) with m@example.test (member) and admin@example.test (admin), and
//    Globex (globex) where the same m@example.test is an admin.
//
//    - discovery at /org/login offers both organizations to m@example.test; the
//      consent names the organization and lists notes:write as not grantable
//      (the member role cannot delete notes); the token is read-only and
//      carries the organization (access token and id_token);
//    - the token reads the organization's notes and cannot write or delete;
//    - organizations are isolated: an Acme token never sees Globex's notes;
//    - an administrator's Connected Apps policy (third-party: not allowed)
//      stops the GPT at /org/idp with access_denied, and nothing reaches it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { browserTest, screenshotDesktopAndMobile } from '../lib/browser.mjs';
import { config } from '../lib/env.mjs';
import { B2B_GPT_SCOPE, decodeJwtPayload, SimulatedGpt } from '../gpt.mjs';
import {
  B2BConsentPage,
  MemberPage,
  OrgLoginPage,
  OrgNotesPage,
  OrgSettingsPage,
  fetchInPage,
  isAt,
  textOf,
  waitForUrl,
} from '../pages/index.mjs';

const { organizations: ORGS, member: MEMBER, admin: ADMIN } = config.b2b;

/** A short random tag, so this run's notes are told apart from any other's. */
const tag = (label) => `${label}-${randomBytes(4).toString('hex')}`;

const newB2BGpt = () => new SimulatedGpt({ authorizePath: '/org/idp', scope: B2B_GPT_SCOPE });

/** 403 for a missing scope or permission, whichever error code the server picks. */
function assertForbidden(r, what) {
  assert.equal(r.status, 403, `${what} should answer 403, got ${r.status}: ${r.text}`);
  assert.ok(
    ['insufficient_scope', 'access_denied'].includes(r.body?.error),
    `${what}: the 403 body should say insufficient_scope or access_denied, got ${r.text}`,
  );
}

/**
 * Signs `account` in at /org/login in a fresh context (picking `slug` when the
 * email opens several organizations) and waits for the notes page /org.
 */
async function signInToOrg(newContext, account, slug) {
  const context = await newContext();
  const page = await context.newPage();
  const login = new OrgLoginPage(page);
  await login.goto();
  await login.login(account, slug);
  const notes = new OrgNotesPage(page);
  await notes.waitReady();
  return { page, notes };
}

/**
 * The GPT flow for `account` in organization `slug`, from a signed-out browser:
 * /org/idp → /org/login → (choice) → /org/idp → consent, approved when shown
 * (an earlier approval may make it unnecessary) → callback → token exchange.
 */
async function connectGpt(newContext, gpt, account, slug) {
  const context = await newContext();
  const p = await context.newPage();
  await p.goto(gpt.authorizeUrl());
  await waitForUrl(p, isAt(config.baseUrl, '/org/login'), '/org/login?returnTo=… (no member session at /org/idp)');
  const login = new OrgLoginPage(p);
  await login.waitReady();
  await login.login(account, slug);
  const consent = new B2BConsentPage(p);
  const o = await consent.outcome();
  if (o.kind === 'error') {
    const e = await consent.waitForError();
    throw new Error(`/org/idp should lead to consent or the GPT, it shows idp-error ${e.code}: ${e.text}`);
  }
  if (o.kind === 'consent') {
    await consent.waitForConsent();
    assert.equal(await consent.organizationName(), ORGS[slug].name, `consent-organization should name ${ORGS[slug].name}`);
    await consent.approve();
  }
  const cb = await gpt.waitForCallback(15_000);
  assert.ok(cb.get('code'), `the callback should carry a code, got ${cb}`);
  await p.waitForURL((u) => u.origin === gpt.origin, { waitUntil: 'load' });
  return gpt.exchange(cb.get('code'));
}

/** The organization claim of a token payload, checked against the fixture. */
function assertOrganization(payload, slug, what) {
  const org = payload.organization;
  assert.ok(org && typeof org === 'object', `${what} should carry an "organization" claim, got ${JSON.stringify(payload)}`);
  assert.equal(org.slug, slug, `${what}: organization.slug should be ${slug}, got ${JSON.stringify(org)}`);
  assert.ok(org.organization_id, `${what}: organization.organization_id should be present, got ${JSON.stringify(org)}`);
  const expected = ORGS[slug].organizationId;
  if (expected) {
    assert.equal(org.organization_id, expected, `${what}: organization.organization_id should be the id \`keyhouse orgs create\` printed for ${slug}`);
  }
  return org;
}

browserTest(
  'a member of two organizations connects Notes GPT to Acme: read-only token bound to Acme',
  async ({ newContext }) => {
    const gpt = newB2BGpt();
    await gpt.start();
    try {
      // (b) An Acme admin writes a shared note in the UI (one organization: no choice to make).
      const roadmapTag = tag('roadmap');
      const { page: adminPage, notes } = await signInToOrg(newContext, ADMIN);
      assert.equal(await notes.orgNameText(), ORGS.acme.name, 'member-org-name should name the admin\'s organization');
      const nav = adminPage.getByTestId('nav-org');
      await nav.waitFor({ state: 'visible' });
      assert.equal(await textOf(nav), `Organization: ${ORGS.acme.name}`, 'the header should link to the organization (nav-org)');
      await notes.createNote({ title: 'Acme roadmap', body: `Ship B2B (${roadmapTag})` });
      const roadmapItem = notes.item(roadmapTag).first();
      assert.equal(await roadmapItem.getByTestId('org-note-delete').count(), 1, 'an admin (notes:delete) should get a delete button on the note');
      await screenshotDesktopAndMobile(adminPage, 'org-notes');

      // (a) The GPT opens /org/idp in a browser where m@example.test is signed out.
      const context = await newContext();
      const p = await context.newPage();
      const authorizeUrl = gpt.authorizeUrl();
      assert.equal(new URL(authorizeUrl).pathname, '/org/idp', 'the B2B GPT should use the /org/idp authorization URL');
      await p.goto(authorizeUrl);
      await waitForUrl(p, isAt(config.baseUrl, '/org/login'), '/org/login?returnTo=… (no member session at /org/idp)');
      const returnTo = new URL(p.url()).searchParams.get('returnTo');
      assert.ok(returnTo && returnTo.startsWith('/org/idp?'), `returnTo should be the /org/idp path and query, got ${JSON.stringify(returnTo)}`);
      const carried = new URLSearchParams(returnTo.slice('/org/idp?'.length));
      assert.equal(carried.get('client_id'), gpt.clientId, 'returnTo should carry the client_id');
      assert.equal(carried.get('state'), gpt.state, 'returnTo should carry the GPT\'s state');
      assert.equal(carried.get('scope'), gpt.scope, 'returnTo should carry the requested scope');

      // Discovery: the same email and password open both organizations.
      const login = new OrgLoginPage(p);
      await login.waitReady();
      await login.submitCredentials(MEMBER);
      const slugs = await login.waitForChoices();
      assert.deepEqual([...slugs].sort(), ['acme', 'globex'], `org-choice should offer exactly acme and globex to ${MEMBER.email}, got ${JSON.stringify(slugs)}`);
      const choicesText = await textOf(login.choices);
      assert.ok(choicesText.includes(ORGS.acme.name) && choicesText.includes(ORGS.globex.name), `the choices should show the organizations' names, shows: ${choicesText}`);
      assert.equal(new URL(p.url()).searchParams.get('returnTo'), returnTo, 'choosing should keep returnTo in the URL');
      await screenshotDesktopAndMobile(p, 'org-login-choices');
      await login.choose('acme');

      // Back on /org/idp with the original request.
      await waitForUrl(p, isAt(config.baseUrl, '/org/idp'), 'back on /org/idp after choosing acme');
      const back = new URL(p.url()).searchParams;
      assert.equal(back.get('state'), gpt.state, 'after signing in, /org/idp should have the original query (state)');
      assert.equal(back.get('client_id'), gpt.clientId, 'after signing in, /org/idp should have the original query (client_id)');

      const consent = new B2BConsentPage(p);
      await consent.waitForConsent();
      assert.equal(await consent.organizationName(), ORGS.acme.name, 'consent-organization should name the organization chosen');
      const d = await consent.details();
      assert.equal(d.clientName, config.gpt.name, 'consent-client-name should name the client');
      assert.ok(d.scopes.includes('notes:read'), `notes:read should be listed as grantable (consent-scope), got ${JSON.stringify(d.scopes)}`);
      assert.ok(!d.scopes.includes('notes:write'), `notes:write must not be listed as grantable for a member, got ${JSON.stringify(d.scopes)}`);
      const ungrantable = await consent.ungrantableScopes();
      assert.ok(ungrantable.includes('notes:write'), `notes:write should be inside consent-ungrantable, got ${JSON.stringify(ungrantable)}`);
      assert.ok(!ungrantable.includes('notes:read'), `notes:read must not be inside consent-ungrantable, got ${JSON.stringify(ungrantable)}`);
      assert.ok(d.text.includes(MEMBER.email), `consent should say who is signing in (${MEMBER.email}), shows: ${d.text}`);
      assert.equal(gpt.requestCount, 0, 'the GPT must not hear anything before the member decides');
      await screenshotDesktopAndMobile(p, 'consent-b2b');

      await consent.approve();
      const cb = await gpt.waitForCallback(15_000);
      assert.ok(cb.get('code'), `the callback should carry a code, got ${cb}`);
      assert.equal(cb.get('error'), null, `the callback should carry no error, got ${cb}`);
      await waitForUrl(p, (u) => u.origin === gpt.origin && u.pathname === '/callback', 'the GPT\'s /callback');

      // The token: read-only, bound to Acme.
      const tok = await gpt.exchange(cb.get('code'));
      assert.equal(tok.token_type, 'Bearer', `token_type should be Bearer, got ${JSON.stringify(tok.token_type)}`);
      const granted = String(tok.scope ?? '').split(' ');
      assert.ok(granted.includes('notes:read'), `the granted scope should contain notes:read, got ${JSON.stringify(tok.scope)}`);
      assert.ok(!granted.includes('notes:write'), `the granted scope must not contain notes:write (the member role cannot grant it), got ${JSON.stringify(tok.scope)}`);
      const access = decodeJwtPayload(tok.access_token);
      const accessOrg = assertOrganization(access, 'acme', 'the access token');
      assert.ok(tok.id_token, `openid was requested: the token response should have an id_token, got ${Object.keys(tok).join(', ')}`);
      const idToken = decodeJwtPayload(tok.id_token);
      const idOrg = assertOrganization(idToken, 'acme', 'the id_token');
      assert.equal(idOrg.organization_id, accessOrg.organization_id, 'the id_token and the access token should name the same organization');
      assert.equal(idToken.iss, config.baseUrl, 'the id_token\'s iss should be the issuer');
      const aud = Array.isArray(idToken.aud) ? idToken.aud : [idToken.aud];
      assert.ok(aud.includes(gpt.clientId), `the id_token's aud should include the client_id, got ${JSON.stringify(idToken.aud)}`);

      // (b) The GPT reads Acme's notes; it cannot write nor delete.
      const list = await gpt.api('GET', '/api/b2b/notes', { token: tok.access_token });
      assert.equal(list.status, 200, `GET /api/b2b/notes with the token should answer 200, got ${list.status}: ${list.text}`);
      assert.ok(Array.isArray(list.body), `GET /api/b2b/notes should answer an array, got ${list.text}`);
      const roadmap = list.body.find((n) => n.title === 'Acme roadmap' && String(n.body).includes(roadmapTag));
      assert.ok(roadmap, `the GPT should see the admin's note "Acme roadmap", got ${list.text.slice(0, 500)}`);
      const one = await gpt.api('GET', `/api/b2b/notes/${encodeURIComponent(roadmap.id)}`, { token: tok.access_token });
      assert.equal(one.status, 200, `GET /api/b2b/notes/{id} should answer 200, got ${one.status}: ${one.text}`);
      assert.equal(one.body?.title, 'Acme roadmap', 'GET /api/b2b/notes/{id} should return the note');

      assertForbidden(
        await gpt.api('POST', '/api/b2b/notes', { token: tok.access_token, json: { title: 'Should not exist', body: roadmapTag } }),
        'POST /api/b2b/notes with a token without notes:write',
      );
      assertForbidden(
        await gpt.api('DELETE', `/api/b2b/notes/${encodeURIComponent(roadmap.id)}`, { token: tok.access_token }),
        'DELETE /api/b2b/notes/{id} with a token without notes:write',
      );
      const after = await gpt.api('GET', '/api/b2b/notes', { token: tok.access_token });
      assert.equal(after.status, 200, `listing again should answer 200, got ${after.status}: ${after.text}`);
      assert.ok(after.body.some((n) => n.id === roadmap.id), 'the refused DELETE must not have deleted the note');
      assert.ok(!after.body.some((n) => n.title === 'Should not exist'), 'the refused POST must not have created a note');
    } finally {
      await gpt.stop();
    }
  },
  { timeout: 90_000 },
);

browserTest('an Acme token never sees Globex\'s notes (same email, other organization)', async ({ newContext }) => {
  const gpt = newB2BGpt();
  await gpt.start();
  try {
    // m@example.test, admin in Globex, writes a note there.
    const secretTag = tag('secret');
    const { page: globexPage, notes } = await signInToOrg(newContext, MEMBER, 'globex');
    assert.equal(await notes.orgNameText(), ORGS.globex.name, 'after choosing globex, member-org-name should name Globex');
    await notes.createNote({ title: 'Globex secret', body: `Do not share (${secretTag})` });
    const globexList = await fetchInPage(globexPage, 'GET', '/api/b2b/notes');
    assert.equal(globexList.status, 200, `GET /api/b2b/notes with the Globex member session should answer 200, got ${globexList.status}: ${globexList.text}`);
    const secret = globexList.body.find((n) => String(n.body).includes(secretTag));
    assert.ok(secret?.id, `the Globex session should list the note it just created, got ${globexList.text.slice(0, 500)}`);

    // The same person connects the GPT to Acme.
    const tok = await connectGpt(newContext, gpt, MEMBER, 'acme');
    assertOrganization(decodeJwtPayload(tok.access_token), 'acme', 'the access token');

    const list = await gpt.api('GET', '/api/b2b/notes', { token: tok.access_token });
    assert.equal(list.status, 200, `GET /api/b2b/notes with the Acme token should answer 200, got ${list.status}: ${list.text}`);
    assert.ok(Array.isArray(list.body), `GET /api/b2b/notes should answer an array, got ${list.text}`);
    assert.ok(
      !list.body.some((n) => n.id === secret.id || n.title === 'Globex secret'),
      `the Acme token must not list Globex's note, got ${list.text.slice(0, 500)}`,
    );
    const one = await gpt.api('GET', `/api/b2b/notes/${encodeURIComponent(secret.id)}`, { token: tok.access_token });
    assert.equal(one.status, 404, `GET /api/b2b/notes/<Globex note> with the Acme token should answer 404, got ${one.status}: ${one.text}`);
    assert.ok(!one.text.includes(secretTag), 'the 404 must not leak the Globex note');

    // And the other way round: the Globex session sees none of Acme's notes.
    const acmeIds = new Set(list.body.map((n) => n.id));
    const globexAgain = await fetchInPage(globexPage, 'GET', '/api/b2b/notes');
    assert.equal(globexAgain.status, 200, `the Globex session should still list its notes, got ${globexAgain.status}: ${globexAgain.text}`);
    const leaked = globexAgain.body.filter((n) => acmeIds.has(n.id));
    assert.deepEqual(leaked, [], 'the Globex session must not list any of Acme\'s notes');
  } finally {
    await gpt.stop();
  }
});

browserTest('a plain member of Acme can add notes but not delete them nor open the settings', async ({ page }) => {
  // Signed out, /org sends to the organization login and back.
  await page.goto('/org');
  await waitForUrl(page, isAt(config.baseUrl, '/org/login'), '/org/login?returnTo=/org (no member session)');
  assert.equal(new URL(page.url()).searchParams.get('returnTo'), '/org', 'the organization login should carry returnTo=/org');
  const login = new OrgLoginPage(page);
  await login.waitReady();
  await login.login(MEMBER, 'acme');
  const notes = new OrgNotesPage(page);
  await notes.waitReady();
  assert.equal(await notes.orgNameText(), ORGS.acme.name, 'member-org-name should name Acme');

  const mine = tag('member-note');
  await notes.createNote({ title: 'Member note', body: mine });
  assert.equal(await notes.item(mine).getByTestId('org-note-delete').count(), 0, 'a member without notes:delete must not get a delete button');
  assert.equal(await notes.items.getByTestId('org-note-delete').count(), 0, 'no note should offer a delete button to a member without notes:delete');

  const member = new MemberPage(page);
  await member.goto();
  assert.equal(await textOf(member.email), MEMBER.email, 'member-email should be the signed-in member');
  assert.ok((await textOf(member.org)).includes(ORGS.acme.name), 'member-org should name Acme');
  assert.deepEqual(await member.roleIds(), [MEMBER.roles.acme], 'member-roles should list the member\'s roles in Acme');
  assert.equal(await member.settingsLink.count(), 0, 'a member without organization:read must not get a link to the settings');

  const settings = new OrgSettingsPage(page);
  await settings.goto();
  assert.equal(await settings.outcome(), 'denied', 'a plain member should be told the settings are for administrators');
  assert.match(await textOf(settings.denied), /Only administrators can change organization settings/, 'org-settings-denied should explain who may change the settings');
  assert.equal(await settings.save.count(), 0, 'no settings form may be shown to a plain member');

  await member.goto();
  await member.logout();
  await new OrgLoginPage(page).waitReady();
  assert.equal(await page.getByTestId('nav-org').count(), 0, 'after signing out, the header must not link to the organization');
});

browserTest('an admin forbids third-party apps: /org/idp refuses the GPT with access_denied', async ({ newContext, t }) => {
  const gpt = newB2BGpt();
  await gpt.start();
  let adminPage = null;
  let changed = false;
  let failure = null;
  try {
    // The Acme admin sets third-party access to "not allowed".
    ({ page: adminPage } = await signInToOrg(newContext, ADMIN));
    const settings = new OrgSettingsPage(adminPage);
    await settings.goto();
    await settings.waitReady();
    assert.ok((await settings.memberRow(ADMIN.email).count()) === 1, `the members table should list ${ADMIN.email}`);
    assert.ok((await settings.memberRow(MEMBER.email).count()) === 1, `the members table should list ${MEMBER.email}`);
    assert.ok((await settings.roles.count()) >= 2, 'the roles section should list the policy\'s roles (admin, member)');
    changed = true;
    await settings.setThirdPartyAccess('not_allowed');
    assert.equal(await settings.thirdPartyAccess.inputValue(), 'not_allowed', 'the third-party select should show the saved value');
    const now = await fetchInPage(adminPage, 'GET', '/api/b2b/organization');
    assert.equal(now.body?.connected_apps?.third_party?.access, 'not_allowed', `the server should have stored not_allowed, has ${now.text.slice(0, 300)}`);
    await screenshotDesktopAndMobile(adminPage, 'org-settings');

    // A member of Acme tries to connect the (third-party) GPT.
    const context = await newContext();
    const p = await context.newPage();
    await p.goto(gpt.authorizeUrl());
    const consent = new B2BConsentPage(p);
    let o = await consent.outcome();
    if (o.kind === 'navigated') {
      await waitForUrl(p, isAt(config.baseUrl, '/org/login'), '/org/login (no member session at /org/idp)');
      const login = new OrgLoginPage(p);
      await login.waitReady();
      await login.login(MEMBER, 'acme');
      await waitForUrl(p, isAt(config.baseUrl, '/org/idp'), 'back on /org/idp after signing in');
      o = await consent.outcome();
    }
    assert.equal(o.kind, 'error', `with third-party apps not allowed, /org/idp should show idp-error; instead: ${o.kind} (${o.url})`);
    const shown = await consent.waitForError();
    assert.equal(shown.code, 'access_denied', `idp-error-code should be access_denied, shows ${shown.code}: ${shown.text}`);
    assert.ok(isAt(config.baseUrl, '/org/idp')(new URL(p.url())), `the error must be shown on /org/idp, the browser is at ${p.url()}`);
    assert.equal(await consent.root.count(), 0, 'no consent screen may be shown for a forbidden app');
    assert.equal(gpt.requestCount, 0, `no callback may reach the GPT, it received: ${gpt.requests.map((r) => `${r.path}?${r.query}`).join(', ')}`);
  } catch (e) {
    failure = e;
    throw e;
  } finally {
    try {
      if (changed && adminPage) {
        // Other tests expect the default policy: restore it through the API.
        const current = await fetchInPage(adminPage, 'GET', '/api/b2b/organization');
        assert.equal(current.status, 200, `restoring: GET /api/b2b/organization should answer 200, got ${current.status}: ${current.text}`);
        const restored = await fetchInPage(adminPage, 'PUT', '/api/b2b/organization/connected-apps', {
          first_party: current.body.connected_apps.first_party,
          third_party: { access: 'all_allowed', allowed_client_ids: [] },
        });
        assert.equal(restored.status, 200, `restoring third-party access to all_allowed should answer 200, got ${restored.status}: ${restored.text}`);
        assert.equal(restored.body?.third_party?.access, 'all_allowed', `third-party access should be all_allowed again, got ${restored.text}`);
      }
    } catch (e) {
      if (!failure) throw e;
      t.diagnostic(`could not restore the Connected Apps policy: ${e.message}`);
    } finally {
      await gpt.stop();
    }
  }
});
