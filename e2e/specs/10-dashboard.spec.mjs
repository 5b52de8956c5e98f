// 10. The operator dashboard (/admin) and the users' connected apps
//     (/account/connected-apps), against the operator run.mjs creates with
//     `keyhouse users create --admin` (config.admin).
//
//     - the operator registers "Dashboard GPT" (third_party) in the UI: the
//       client-side checks refuse a public http:// redirect URI, the secret is
//       shown once (and copied), and the "Connect a custom GPT" panel gives
//       the values a SimulatedGpt is then configured from, and nothing else;
//       a fresh user connects it and the GPT reads their notes; the app's page
//       is prefilled, adds ChatGPT's callback URL, saves;
//     - the user sees the app at /account/connected-apps and revokes it: the
//       GPT's access token → 401, its refresh token → invalid_grant, and the
//       next authorization asks for consent again;
//     - secret rotation from the app's page: during it both secrets work;
//       once finished the old one → 401 invalid_client, the new one works;
//     - the audit log lists client.created, client.secret_rotation_started,
//       consent.granted and consent.revoked for the app;
//     - a normal user gets admin-denied on /admin and 403 from the admin API;
//     - an app without a secret: no secret, no GPT panel, no rotation; deleted
//       after a confirmation step.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { browserTest, screenshotDesktopAndMobile } from '../lib/browser.mjs';
import { config } from '../lib/env.mjs';
import { newUser } from '../lib/users.mjs';
import { SimulatedGpt, TokenError } from '../gpt.mjs';
import {
  AdminAppsPage,
  AppDetailPage,
  AuditPage,
  ConnectedAppsPage,
  ConsentPage,
  GptPanel,
  LoginPage,
  NewAppPage,
  fetchInPage,
  isAt,
  signUpThroughUi,
  textOf,
  waitForUrl,
} from '../pages/index.mjs';

const ADMIN = config.admin;
/** The operator's browser may use the clipboard (the copy buttons). */
const CLIPBOARD = ['clipboard-read', 'clipboard-write'];

/** A short random tag, so this run's data is told apart from any other's. */
const tag = (label) => `${label}-${randomBytes(4).toString('hex')}`;

/**
 * A free loopback port for the callback of a GPT registered in the
 * dashboard (bound on port 0, then released), like run.mjs reserves its own.
 */
async function reservePort() {
  const server = net.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(() => resolve()));
  return port;
}

const isInvalidGrant = (what) => (e) => {
  assert.ok(e instanceof TokenError, `${what}: expected an error answer from the token endpoint, got ${e}`);
  assert.equal(e.status, 400, `${what}: expected HTTP 400 (RFC 6749 §5.2), got ${e.status}: ${JSON.stringify(e.body)}`);
  assert.equal(e.body?.error, 'invalid_grant', `${what}: expected error invalid_grant, got ${JSON.stringify(e.body)}`);
  return true;
};

const isInvalidClient = (what) => (e) => {
  assert.ok(e instanceof TokenError, `${what}: expected an error answer from the token endpoint, got ${e}`);
  assert.equal(e.status, 401, `${what}: expected HTTP 401, got ${e.status}: ${JSON.stringify(e.body)}`);
  assert.equal(e.body?.error, 'invalid_client', `${what}: expected error invalid_client, got ${JSON.stringify(e.body)}`);
  return true;
};

/**
 * Signs the operator in from a fresh context (clipboard allowed): /admin
 * signed out → /login?returnTo=/admin → back on /admin with the list.
 */
async function signInAdmin(newContext) {
  const context = await newContext({ permissions: CLIPBOARD });
  const page = await context.newPage();
  await page.goto('/admin');
  await waitForUrl(page, isAt(config.baseUrl, '/login'), '/login?returnTo=/admin (no session at /admin)');
  assert.equal(new URL(page.url()).searchParams.get('returnTo'), '/admin', 'the login page should carry returnTo=/admin');
  const login = new LoginPage(page);
  await login.waitReady();
  await login.login(ADMIN);
  await waitForUrl(page, isAt(config.baseUrl, '/admin'), 'back on /admin after the operator signed in');
  const apps = new AdminAppsPage(page);
  await apps.waitReady();
  return { page, apps };
}

/** Opens "Register an app" from the list. */
async function openNewApp(page, apps) {
  await apps.newApp.click();
  const form = new NewAppPage(page);
  await form.waitReady();
  return form;
}

/**
 * One authorization by the (signed-in) user of `page`: consent approved when
 * it is shown. Returns the code and whether consent was asked.
 */
async function authorize(page, gpt) {
  await page.goto(gpt.authorizeUrl());
  const consent = new ConsentPage(page);
  const o = await consent.outcome();
  if (o.kind === 'error') {
    const e = await consent.waitForError();
    throw new Error(`/idp should lead to consent or to the GPT, it shows idp-error ${e.code}: ${e.text}`);
  }
  const consentShown = o.kind === 'consent';
  if (consentShown) {
    await consent.waitForConsent();
    await consent.approve();
  }
  const cb = await gpt.waitForCallback(15_000);
  assert.equal(cb.get('error'), null, `the callback should carry no error, got ${cb}`);
  assert.ok(cb.get('code'), `the callback should carry a code, got ${cb}`);
  // The listener answers before the browser has arrived: let it arrive, so
  // the next navigation is not interrupted by this one.
  await page.waitForURL((u) => u.origin === gpt.origin, { waitUntil: 'load' });
  return { code: cb.get('code'), consentShown };
}

/** `GET /api/admin/clients/{id}` with the operator's session. */
const getClient = (page, clientId) => fetchInPage(page, 'GET', `/api/admin/clients/${encodeURIComponent(clientId)}`);

browserTest(
  'an operator registers a custom GPT in the dashboard; a user connects it, then revokes it',
  async ({ newContext }) => {
    const port = await reservePort();
    const redirectUri = `http://127.0.0.1:${port}/callback`;
    const { page: admin, apps } = await signInAdmin(newContext);
    const navAdmin = admin.getByTestId('nav-admin');
    await navAdmin.waitFor({ state: 'visible' });
    assert.equal(await navAdmin.getAttribute('href'), '/admin', 'an operator should get the nav-admin header link to /admin');

    // (a) The form: the four types in plain words, client-side checks.
    const form = await openNewApp(admin, apps);
    assert.equal(await form.types.count(), 4, 'the form should offer the four client types');
    assert.equal(await form.checkedType(), 'third_party', 'the form should start on third_party, the custom GPT case');
    const thirdParty = await textOf(admin.locator('label:has([data-testid="app-type"][value="third_party"])'));
    assert.match(thirdParty, /custom GPT/, `the third_party choice should explain itself, says: ${thirdParty}`);
    await form.fill({
      name: 'Dashboard GPT',
      description: 'A custom GPT registered in the dashboard',
      type: 'third_party',
      redirectUris: ['http://gpt.example/callback'],
    });
    assert.equal(await form.submit(), 'error', 'an http:// redirect URI on a public host must be refused before anything is sent');
    const refused = await form.formErrorText();
    assert.match(refused, /gpt\.example\/callback.*https:\/\//, `app-form-error should name the URI and ask for https://, says: ${refused}`);
    assert.equal(await form.redirectUris.getAttribute('aria-invalid'), 'true', 'the redirect URIs field should be marked invalid');

    // Registered with the GPT's loopback callback: the secret, once.
    await form.fill({ redirectUris: [redirectUri] });
    assert.equal(await form.submit(), 'created', 'registering with a loopback redirect URI should succeed');
    const clientId = await textOf(form.clientId);
    const clientSecret = await textOf(form.clientSecret);
    assert.ok(clientId.length > 0, 'app-client-id should show the new client id');
    assert.ok(clientSecret.length >= 20, `app-client-secret should show the secret, shows ${JSON.stringify(clientSecret)}`);
    assert.match(await textOf(form.secretWarning), /won't be shown again/, 'app-secret-warning should say the secret is shown once');

    await form.copyClientSecret.click();
    await form.copyClientSecret.filter({ hasText: 'Copied' }).waitFor({ state: 'visible' });
    assert.equal(await admin.evaluate(() => navigator.clipboard.readText()), clientSecret, 'copy-client-secret should put the secret on the clipboard');
    await form.copyClientId.click();
    await form.copyClientId.filter({ hasText: 'Copied' }).waitFor({ state: 'visible' });
    assert.equal(await admin.evaluate(() => navigator.clipboard.readText()), clientId, 'copy-client-id should put the client id on the clipboard');

    // The "Connect a custom GPT" panel: exactly what to paste into ChatGPT.
    const panel = new GptPanel(admin);
    const v = await panel.values();
    assert.equal(v.clientId, clientId, 'gpt-client-id should be the client id');
    assert.equal(v.clientSecret, clientSecret, 'gpt-client-secret should be the secret just shown');
    assert.equal(v.authorizationUrl, `${config.baseUrl}/idp`, 'gpt-authorization-url should be the absolute Authorization URL (issuer + /idp)');
    assert.equal(v.tokenUrl, `${config.baseUrl}/oauth2/token`, 'gpt-token-url should be the absolute token endpoint');
    assert.equal(v.scope, 'openid profile email offline_access', 'gpt-scope should be the scope to paste (offline_access: the GPT gets a refresh token)');
    assert.equal(v.tokenMethod, 'Default (POST request)', 'gpt-token-method should be ChatGPT\'s name for client_secret_post');
    assert.match(await textOf(panel.root), /notes:read/, 'the panel should mention notes:read for the notes API');
    const discovery = await (await fetch(`${config.baseUrl}/.well-known/openid-configuration`)).json();
    assert.equal(v.authorizationUrl, discovery.authorization_endpoint, 'the panel\'s Authorization URL should be the discovery document\'s');
    assert.equal(v.tokenUrl, discovery.token_endpoint, 'the panel\'s Token URL should be the discovery document\'s');
    await screenshotDesktopAndMobile(admin, 'admin-new-app');

    // A GPT configured from exactly the panel's values (+ notes:read).
    const gpt = new SimulatedGpt({
      clientId: v.clientId,
      clientSecret: v.clientSecret,
      port,
      redirectUri,
      scope: `${v.scope} notes:read`,
    });
    gpt.authorizationUrl = v.authorizationUrl;
    gpt.tokenUrl = v.tokenUrl;
    await gpt.start();
    try {
      // A fresh user, in their own browser, connects it.
      const up = await (await newContext()).newPage();
      const notes = await signUpThroughUi(up, newUser('dashboard'));
      const noteTitle = tag('Dashboard note');
      await notes.createNote({ title: noteTitle, body: 'for the GPT registered in the dashboard' });
      assert.equal(await up.getByTestId('nav-admin').count(), 0, 'a normal user must not get the nav-admin link');

      await up.goto(gpt.authorizeUrl());
      const consent = new ConsentPage(up);
      await consent.waitForConsent();
      const d = await consent.details();
      assert.equal(d.clientName, 'Dashboard GPT', 'consent-client-name should be the name typed in the dashboard');
      assert.equal(d.clientType, 'Third-party app', 'consent-client-type should say third-party');
      assert.equal(d.redirectHost, `127.0.0.1:${port}`, 'consent-redirect-host should be the registered loopback callback');
      assert.ok(d.scopes.includes('notes:read'), `consent should list notes:read, got ${JSON.stringify(d.scopes)}`);
      await consent.approve();
      const cb = await gpt.waitForCallback(15_000);
      assert.ok(cb.get('code'), `the callback should carry a code, got ${cb}`);
      await up.waitForURL((u) => u.origin === gpt.origin, { waitUntil: 'load' });
      const tok = await gpt.exchange(cb.get('code'));
      assert.ok(tok.access_token && tok.refresh_token, `the exchange should give an access and a refresh token, got ${Object.keys(tok).join(', ')}`);
      const list = await gpt.listNotes(tok.access_token);
      assert.ok(list.some((n) => n.title === noteTitle), `the GPT should list the user's note "${noteTitle}", got ${JSON.stringify(list)}`);

      // The list of apps.
      await apps.goto();
      await apps.waitReady();
      const row = await apps.describeRow(clientId);
      assert.equal(row.name, 'Dashboard GPT', 'admin-app-row should show the name');
      assert.equal(row.typeValue, 'third_party', 'admin-app-type should carry the type');
      assert.match(row.type, /Third-party/, `admin-app-type should say the type in words, says ${row.type}`);
      assert.equal(row.redirects, '1 URI', 'admin-app-redirects should count the redirect URIs');
      assert.ok(row.created.length > 0, 'admin-app-created should show a date');
      await screenshotDesktopAndMobile(admin, 'admin-apps');

      // The app's page: prefilled, secret not shown again.
      await (await apps.findRow(clientId)).getByTestId('admin-app-name').click();
      const detail = new AppDetailPage(admin);
      await detail.waitReady(clientId);
      assert.equal(await detail.name.inputValue(), 'Dashboard GPT', 'app-name should be prefilled');
      assert.equal(await detail.description.inputValue(), 'A custom GPT registered in the dashboard', 'app-description should be prefilled');
      assert.equal(await detail.checkedType(), 'third_party', 'the app\'s type should be checked');
      assert.deepEqual(await detail.redirectUriList(), [redirectUri], 'app-redirect-uris should be prefilled');
      assert.ok(await detail.typeRadio('third_party_public').isDisabled(), 'an app with a secret cannot become public: the public types should be disabled');
      const detailPanel = new GptPanel(admin);
      const dv = await detailPanel.values();
      assert.equal(dv.clientId, clientId, 'the app page\'s gpt-client-id should be the client id');
      assert.notEqual(dv.clientSecret, clientSecret, 'the app page must not show the secret again');
      assert.ok(!(await admin.content()).includes(clientSecret), 'the secret must appear nowhere on the app page');

      // ChatGPT's callback URL: http refused, https added to the redirect URIs.
      const refusedCallback = await detailPanel.addCallback('http://chatgpt.com/aip/g-dashboard/oauth/callback');
      assert.equal(refusedCallback.outcome, 'error', `an http:// callback URL should be refused (gpt-callback-error), got ${refusedCallback.text}`);
      assert.match(refusedCallback.text, /https:\/\//, `gpt-callback-error should ask for https://, says ${refusedCallback.text}`);
      const chatgptCallback = 'https://chatgpt.com/aip/g-dashboard/oauth/callback';
      const added = await detailPanel.addCallback(chatgptCallback);
      assert.equal(added.outcome, 'added', `ChatGPT's https callback URL should be added (gpt-callback-added), got ${added.text}`);
      await admin.waitForFunction(
        (uri) => document.querySelector('[data-testid="app-redirect-uris"]')?.value.includes(uri),
        chatgptCallback,
      );
      const withCallback = await getClient(admin, clientId);
      assert.equal(withCallback.status, 200, `GET /api/admin/clients/{id} should answer 200, got ${withCallback.status}: ${withCallback.text}`);
      assert.deepEqual(withCallback.body.redirect_uris, [redirectUri, chatgptCallback], 'the callback URL should be stored after the existing redirect URI');

      // Saving: the same checks as the create form, then saved.
      await detail.fill({ redirectUris: [redirectUri, chatgptCallback, 'ftp://files.example/cb'] });
      assert.equal(await detail.submit(), 'error', 'an ftp:// redirect URI must be refused before anything is sent');
      assert.match(await detail.formErrorText(), /ftp:\/\/files\.example\/cb/, 'app-form-error should name the refused URI');
      await detail.fill({ description: 'Reads your notes for ChatGPT', redirectUris: [redirectUri, chatgptCallback] });
      assert.equal(await detail.submit(), 'saved', `saving should succeed (app-saved); app-form-error: ${(await detail.formError.isVisible()) ? await textOf(detail.formError) : '(none)'}`);
      const saved = await getClient(admin, clientId);
      assert.equal(saved.body?.description, 'Reads your notes for ChatGPT', 'the new description should be stored');
      await screenshotDesktopAndMobile(admin, 'admin-app-detail');

      // (b) The user's connected apps, reached from /account.
      await up.goto('/account');
      await up.getByTestId('account-connected-apps-link').click();
      const connected = new ConnectedAppsPage(up);
      await connected.waitReady();
      const shown = await connected.describe(clientId);
      assert.equal(shown.name, 'Dashboard GPT', 'connected-app-name should name the app');
      assert.equal(shown.type, 'Third-party app', 'connected-app-type should say third-party');
      for (const s of ['openid', 'notes:read']) {
        assert.ok(shown.scopes.includes(s), `connected-app-scope should list ${s}, got ${JSON.stringify(shown.scopes)}`);
      }
      const notesRead = shown.scopeTexts.find((t) => t.includes('notes:read')) ?? '';
      assert.ok(notesRead.replace('notes:read', '').trim().length > 0, `notes:read should be described in plain words, shows ${JSON.stringify(notesRead)}`);
      assert.match(shown.granted, /^Granted \S/, `connected-app-granted should give a date, says ${shown.granted}`);
      assert.match(shown.lastUsed, /^Last used \S/, `the GPT obtained tokens: connected-app-last-used should give a date, says ${shown.lastUsed}`);
      await screenshotDesktopAndMobile(up, 'connected-apps');

      await connected.revoke(clientId);
      assert.match(await textOf(connected.status), /Dashboard GPT/, 'connected-apps-status should say which app lost access');
      await connected.empty.waitFor({ state: 'visible' });
      const remaining = await fetchInPage(up, 'GET', '/api/account/connected-apps');
      assert.equal(remaining.status, 200, `GET /api/account/connected-apps should answer 200, got ${remaining.status}: ${remaining.text}`);
      assert.ok(!remaining.body.some((a) => a.client?.client_id === clientId), 'the revoked app must not be listed any more');

      // Everything the GPT holds stops working.
      const after = await gpt.api('GET', '/api/notes', { token: tok.access_token });
      assert.equal(after.status, 401, `GET /api/notes with the revoked app's access token should answer 401, got ${after.status}: ${after.text}`);
      await assert.rejects(gpt.refresh(tok.refresh_token), isInvalidGrant('refreshing after the user revoked the app'));

      // Connecting again asks for consent again.
      const heard = gpt.requestCount;
      await up.goto(gpt.authorizeUrl());
      const again = new ConsentPage(up);
      const o = await again.outcome();
      assert.equal(o.kind, 'consent', `after a revocation, /idp should ask for consent again; instead: ${o.kind} (${o.url})`);
      await again.waitForConsent();
      assert.equal(gpt.requestCount, heard, 'nothing may reach the GPT before the user decides again');

      // The audit log has the app's story so far.
      await admin.getByTestId('admin-audit-link').click();
      const audit = new AuditPage(admin);
      await audit.waitReady();
      const wanted = ['client.created', 'client.updated', 'consent.granted', 'consent.revoked'];
      const actions = await audit.actionsFor(clientId, wanted);
      for (const w of wanted) assert.ok(actions.includes(w), `the audit log should list ${w} for ${clientId}, lists ${JSON.stringify(actions)}`);
    } finally {
      await gpt.stop();
    }
  },
  { timeout: 120_000 },
);

browserTest(
  'secret rotation on the app page: both secrets work, then only the new one; the audit log tells',
  async ({ newContext }) => {
    const port = await reservePort();
    const redirectUri = `http://127.0.0.1:${port}/callback`;
    const { page: admin, apps } = await signInAdmin(newContext);
    const form = await openNewApp(admin, apps);
    const { clientId, clientSecret: oldSecret } = await form.createApp({
      name: 'Rotation GPT',
      type: 'third_party',
      redirectUris: [redirectUri],
    });
    assert.ok(oldSecret, 'a third_party app should be shown a secret');

    const gpt = new SimulatedGpt({ clientId, clientSecret: oldSecret, port, redirectUri, scope: 'openid profile email notes:read offline_access' });
    await gpt.start();
    try {
      const up = await (await newContext()).newPage();
      await signUpThroughUi(up, newUser('rotation'));
      const first = await authorize(up, gpt);
      assert.ok(first.consentShown, 'a third-party app the user never approved should ask for consent');
      await gpt.listNotes((await gpt.exchange(first.code)).access_token);

      // The operator starts a rotation.
      await form.detailLink.click();
      const detail = new AppDetailPage(admin);
      await detail.waitReady(clientId);
      assert.equal(await detail.rotationState(), 'idle', 'secret-rotation-status should start idle');
      const newSecret = await detail.startRotation();
      assert.ok(newSecret.length >= 20 && newSecret !== oldSecret, 'secret-new should show a new, different secret');
      assert.equal(await detail.rotationState(), 'pending', 'secret-rotation-status should say a rotation is pending');
      assert.match(await textOf(detail.rotationStatus), /both/, 'secret-rotation-status should say both secrets work');
      await detail.rotateCancel.waitFor({ state: 'visible' });
      const pv = await new GptPanel(admin).values();
      assert.equal(pv.clientSecret, newSecret, 'during the rotation, gpt-client-secret should be the new secret to paste');
      const pending = await getClient(admin, clientId);
      assert.equal(pending.body?.rotation_pending, true, `the API should report rotation_pending, got ${pending.text}`);

      // A new session of the GPT with the OLD secret still works...
      const second = await authorize(up, gpt);
      const tok2 = await gpt.exchange(second.code);
      await gpt.listNotes(tok2.access_token);
      // ... and so does the new one (the refresh grant authenticates the client too).
      gpt.clientSecret = newSecret;
      const refreshed = await gpt.refresh(tok2.refresh_token);
      assert.ok(refreshed.access_token, 'refreshing with the new secret during the rotation should work');

      // Finished: only the new secret.
      await detail.finishRotation(true);
      assert.equal(await detail.rotationState(), 'idle', 'after completing, secret-rotation-status should be idle');
      assert.match(await textOf(detail.rotationStatus), /only the new secret/, 'secret-rotation-status should say only the new secret works');
      gpt.clientSecret = oldSecret;
      const third = await authorize(up, gpt);
      await assert.rejects(gpt.exchange(third.code), isInvalidClient('exchanging a code with the old secret after the rotation'));
      gpt.clientSecret = newSecret;
      const fourth = await authorize(up, gpt);
      await gpt.listNotes((await gpt.exchange(fourth.code)).access_token);

      // The user revokes it, so the log has a revocation too.
      const connected = new ConnectedAppsPage(up);
      await connected.goto();
      await connected.revoke(clientId);

      // (d) The audit log, newest first.
      await admin.getByTestId('admin-audit-link').click();
      const audit = new AuditPage(admin);
      await audit.waitReady();
      const wanted = ['client.created', 'client.secret_rotation_started', 'client.secret_rotation_completed', 'consent.granted', 'consent.revoked'];
      const actions = await audit.actionsFor(clientId, wanted);
      for (const w of wanted) assert.ok(actions.includes(w), `the audit log should list ${w} for ${clientId}, lists ${JSON.stringify(actions)}`);
      assert.ok(actions.indexOf('consent.revoked') < actions.indexOf('client.created'), `the audit log should be newest first, lists ${JSON.stringify(actions)}`);
      const createdRow = (await audit.events()).find((e) => e.clientId === clientId && e.action === 'client.created');
      assert.match(createdRow?.text ?? '', /You/, `the operator's own actions should show "You" as the actor, row: ${createdRow?.text}`);
      await screenshotDesktopAndMobile(admin, 'admin-audit');
    } finally {
      await gpt.stop();
    }
  },
  { timeout: 120_000 },
);

browserTest('a normal user cannot use the dashboard: admin-denied, and the admin API answers 403', async ({ page }) => {
  await signUpThroughUi(page, newUser('not-admin'));
  assert.equal(await page.getByTestId('nav-admin').count(), 0, 'a normal user must not get the nav-admin link');

  const apps = new AdminAppsPage(page);
  await apps.goto();
  assert.equal(await apps.outcome(), 'denied', 'a normal user opening /admin should see admin-denied');
  assert.match(await textOf(apps.denied), /Only operators can manage Connected Apps/, 'admin-denied should say who may use the dashboard');
  assert.equal(await apps.newApp.count(), 0, 'no admin-new-app button for a normal user');
  assert.equal(await apps.rows.count(), 0, 'no app may be listed to a normal user');

  const list = await fetchInPage(page, 'GET', '/api/admin/clients');
  assert.equal(list.status, 403, `GET /api/admin/clients as a normal user should answer 403, got ${list.status}: ${list.text}`);
  assert.equal(list.body?.error, 'access_denied', `the 403 should say access_denied, got ${list.text}`);
  const create = await fetchInPage(page, 'POST', '/api/admin/clients', {
    name: 'Sneaky',
    client_type: 'third_party',
    redirect_uris: ['https://evil.example/cb'],
  });
  assert.equal(create.status, 403, `POST /api/admin/clients as a normal user should answer 403, got ${create.status}: ${create.text}`);
  const audit = await fetchInPage(page, 'GET', '/api/admin/audit');
  assert.equal(audit.status, 403, `GET /api/admin/audit as a normal user should answer 403, got ${audit.status}: ${audit.text}`);

  for (const path of ['/admin/apps/new', '/admin/audit']) {
    await page.goto(path);
    await waitForUrl(page, isAt(config.baseUrl, path), path);
    await apps.denied.waitFor({ state: 'visible' });
    assert.equal(await page.getByTestId('app-create').count(), 0, `${path} must not show the form to a normal user`);
  }
});

browserTest('an app without a secret: no secret, no GPT panel, no rotation; deleted after confirming', async ({ newContext }) => {
  const { page: admin, apps } = await signInAdmin(newContext);
  const form = await openNewApp(admin, apps);
  const appScheme = 'com.example.notes:/callback';
  await form.fill({ name: 'Desktop notes', type: 'third_party', redirectUris: [appScheme] });
  assert.equal(await form.submit(), 'error', 'an app scheme must be refused for an app with a secret');
  assert.match(await form.formErrorText(), /without a secret/, 'app-form-error should say app schemes are for apps without a secret');
  const { clientId, clientSecret } = await form.createApp({
    name: 'Desktop notes',
    type: 'third_party_public',
    redirectUris: [appScheme, 'http://127.0.0.1/callback'],
  });
  assert.equal(clientSecret, null, 'an app without a secret must show no app-client-secret');
  assert.equal(await form.secretWarning.count(), 0, 'no "copy the secret" warning without a secret');
  assert.equal(await new GptPanel(admin).root.count(), 0, 'no gpt-panel for an app without a secret');

  await form.detailLink.click();
  const detail = new AppDetailPage(admin);
  await detail.waitReady(clientId);
  assert.equal(await detail.checkedType(), 'third_party_public', 'the app\'s type should be checked');
  assert.ok(await detail.typeRadio('third_party').isDisabled(), 'an app without a secret cannot get one: the confidential types should be disabled');
  assert.equal(await detail.rotateStart.count(), 0, 'no secret rotation for an app without a secret');
  assert.deepEqual(await detail.redirectUriList(), [appScheme, 'http://127.0.0.1/callback'], 'app-redirect-uris should be prefilled');

  // The confirmation step can be backed out of.
  await detail.deleteButton.click();
  await admin.getByTestId('app-delete-cancel').click();
  await detail.deleteButton.waitFor({ state: 'visible' });
  assert.equal((await getClient(admin, clientId)).status, 200, 'backing out of the confirmation must not delete the app');

  await detail.deleteApp();
  await apps.waitReady();
  const gone = await getClient(admin, clientId);
  assert.equal(gone.status, 404, `after deleting, GET /api/admin/clients/{id} should answer 404, got ${gone.status}: ${gone.text}`);
  await admin.goto(`/admin/apps/${encodeURIComponent(clientId)}`);
  await admin.getByTestId('app-not-found').waitFor({ state: 'visible' });
});
