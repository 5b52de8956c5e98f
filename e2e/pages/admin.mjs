// The operator dashboard (/admin, /admin/apps/new, /admin/apps/{id},
// /admin/audit), its "Connect a custom GPT" panel, and the users'
// /account/connected-apps page.
import { config } from '../lib/env.mjs';
import { isAt, textOf, waitForUrl } from './common.mjs';

/** `[data-testid="…"][data-client-id="…"]`, the id quoted as a CSS string. */
function byClientId(testid, clientId) {
  return `[data-testid="${testid}"][data-client-id=${JSON.stringify(clientId)}]`;
}

/** Throws with what the page shows when it is the "operators only" screen. */
async function refuseDenied(denied, what) {
  if (await denied.isVisible()) {
    throw new Error(`expected ${what}, the page shows admin-denied: ${await textOf(denied)}`);
  }
}

/** /admin: the list of apps. */
export class AdminAppsPage {
  /** @param {import('playwright-core').Page} page */
  constructor(page) {
    this.page = page;
    this.rows = page.getByTestId('admin-app-row');
    this.empty = page.getByTestId('admin-apps-empty');
    this.error = page.getByTestId('admin-load-error');
    this.denied = page.getByTestId('admin-denied');
    this.newApp = page.getByTestId('admin-new-app');
    this.auditLink = page.getByTestId('admin-audit-link');
    this.loadMore = page.getByTestId('admin-load-more');
  }

  async goto() {
    await this.page.goto('/admin');
    await waitForUrl(this.page, isAt(config.baseUrl, '/admin'), 'the dashboard /admin');
  }

  /**
   * Waits until the page has decided: the list (rows or the empty text), the
   * "operators only" screen, or a load error.
   * @returns {Promise<'apps'|'denied'|'error'>}
   */
  async outcome() {
    await this.rows.first().or(this.empty).or(this.denied).or(this.error).first().waitFor({ state: 'visible' });
    if (await this.denied.isVisible()) return 'denied';
    if (await this.error.isVisible()) return 'error';
    return 'apps';
  }

  /** The list is shown (throws with what is shown instead). */
  async waitReady() {
    const o = await this.outcome();
    await refuseDenied(this.denied, 'the list of apps');
    if (o === 'error') throw new Error(`expected the list of apps, admin-load-error shows: ${await textOf(this.error)}`);
    await this.newApp.waitFor({ state: 'visible' });
  }

  /** The row of one app. */
  row(clientId) {
    return this.page.locator(byClientId('admin-app-row', clientId));
  }

  /**
   * The row of `clientId`, clicking "Load more" until it is listed.
   * @returns {Promise<import('playwright-core').Locator>}
   */
  async findRow(clientId) {
    for (;;) {
      if ((await this.row(clientId).count()) > 0) return this.row(clientId);
      if (!(await this.loadMore.isVisible())) {
        throw new Error(`no admin-app-row with data-client-id ${clientId} on /admin (all pages loaded)`);
      }
      const before = await this.rows.count();
      await this.loadMore.click();
      await this.page.waitForFunction(
        (n) => document.querySelectorAll('[data-testid="admin-app-row"]').length > n,
        before,
      );
    }
  }

  /** What a row says. */
  async describeRow(clientId) {
    const row = await this.findRow(clientId);
    return {
      name: await textOf(row.getByTestId('admin-app-name')),
      type: await textOf(row.getByTestId('admin-app-type')),
      typeValue: await row.getByTestId('admin-app-type').getAttribute('data-type'),
      created: await textOf(row.getByTestId('admin-app-created')),
      redirects: await textOf(row.getByTestId('admin-app-redirects')),
    };
  }
}

/** The app form's fields, on the "new app" page and the app's page alike. */
class AppForm {
  /** @param {import('playwright-core').Page} page */
  constructor(page) {
    this.page = page;
    this.name = page.getByTestId('app-name');
    this.description = page.getByTestId('app-description');
    this.logoUri = page.getByTestId('app-logo-uri');
    this.types = page.getByTestId('app-type');
    this.redirectUris = page.getByTestId('app-redirect-uris');
    this.formError = page.getByTestId('app-form-error');
    this.denied = page.getByTestId('admin-denied');
  }

  /** The radio of one type (`first_party`, `first_party_public`, `third_party`, `third_party_public`). */
  typeRadio(value) {
    return this.page.locator(`[data-testid="app-type"][value="${value}"]`);
  }

  /** The checked type's value. */
  async checkedType() {
    return this.page.locator('[data-testid="app-type"]:checked').getAttribute('value');
  }

  /** Fills the fields that are given (redirectUris: an array, one per line). */
  async fill({ name, description, logoUri, type, redirectUris }) {
    if (name !== undefined) await this.name.fill(name);
    if (description !== undefined) await this.description.fill(description);
    if (logoUri !== undefined) await this.logoUri.fill(logoUri);
    if (type !== undefined) await this.typeRadio(type).check();
    if (redirectUris !== undefined) await this.redirectUris.fill(redirectUris.join('\n'));
  }

  /** The redirect URIs in the textarea, one per line. */
  async redirectUriList() {
    return (await this.redirectUris.inputValue()).split('\n').map((s) => s.trim()).filter(Boolean);
  }

  async formErrorText() {
    await this.formError.waitFor({ state: 'visible' });
    return textOf(this.formError);
  }
}

/** /admin/apps/new, and the one-time "app registered" screen after it. */
export class NewAppPage extends AppForm {
  /** @param {import('playwright-core').Page} page */
  constructor(page) {
    super(page);
    this.create = page.getByTestId('app-create');
    this.created = page.getByTestId('app-created');
    this.clientId = page.getByTestId('app-client-id');
    this.clientSecret = page.getByTestId('app-client-secret');
    this.copyClientId = page.getByTestId('copy-client-id');
    this.copyClientSecret = page.getByTestId('copy-client-secret');
    this.secretWarning = page.getByTestId('app-secret-warning');
    this.detailLink = page.getByTestId('app-detail-link');
  }

  async goto() {
    await this.page.goto('/admin/apps/new');
    await this.waitReady();
  }

  /** The empty form is shown. */
  async waitReady() {
    await waitForUrl(this.page, isAt(config.baseUrl, '/admin/apps/new'), 'the new-app page /admin/apps/new');
    await this.create.or(this.denied).first().waitFor({ state: 'visible' });
    await refuseDenied(this.denied, 'the new-app form');
  }

  /** Clicks "Register app"; resolves to 'created' or 'error' (app-form-error shown). */
  async submit() {
    await this.create.click();
    await this.created.or(this.formError).first().waitFor({ state: 'visible' });
    return (await this.created.isVisible()) ? 'created' : 'error';
  }

  /**
   * Fills the form, registers the app and reads the one-time credentials.
   * @returns {Promise<{clientId: string, clientSecret: string|null}>}
   */
  async createApp(app) {
    await this.fill(app);
    const o = await this.submit();
    if (o === 'error') throw new Error(`registering "${app.name}" failed: app-form-error shows ${await textOf(this.formError)}`);
    await this.clientId.waitFor({ state: 'visible' });
    return {
      clientId: await textOf(this.clientId),
      clientSecret: (await this.clientSecret.count()) > 0 ? await textOf(this.clientSecret) : null,
    };
  }
}

/** /admin/apps/{id}: one app's settings, secret rotation, GPT panel, deletion. */
export class AppDetailPage extends AppForm {
  /** @param {import('playwright-core').Page} page */
  constructor(page) {
    super(page);
    this.clientId = page.getByTestId('app-client-id');
    this.save = page.getByTestId('app-save');
    this.saved = page.getByTestId('app-saved');
    this.notFound = page.getByTestId('app-not-found');
    this.loadError = page.getByTestId('app-load-error');
    this.deleteButton = page.getByTestId('app-delete');
    this.deleteConfirm = page.getByTestId('app-delete-confirm');
    this.deleteError = page.getByTestId('app-delete-error');
    this.rotateStart = page.getByTestId('secret-rotate-start');
    this.rotateComplete = page.getByTestId('secret-rotate-complete');
    this.rotateCancel = page.getByTestId('secret-rotate-cancel');
    this.rotationStatus = page.getByTestId('secret-rotation-status');
    this.secretNew = page.getByTestId('secret-new');
    this.secretError = page.getByTestId('secret-error');
  }

  async goto(clientId) {
    await this.page.goto(`/admin/apps/${encodeURIComponent(clientId)}`);
    await this.waitReady(clientId);
  }

  /** The app's page is shown with its settings form. */
  async waitReady(clientId) {
    await waitForUrl(
      this.page,
      (u) => u.origin === new URL(config.baseUrl).origin && u.pathname === `/admin/apps/${encodeURIComponent(clientId)}`,
      `the app's page /admin/apps/${clientId}`,
    );
    await this.save.or(this.denied).or(this.notFound).or(this.loadError).first().waitFor({ state: 'visible' });
    await refuseDenied(this.denied, `the page of ${clientId}`);
    if (await this.notFound.isVisible()) throw new Error(`expected the page of ${clientId}, it shows app-not-found`);
    if (await this.loadError.isVisible()) throw new Error(`expected the page of ${clientId}, app-load-error shows: ${await textOf(this.loadError)}`);
  }

  /** Clicks Save; resolves to 'saved' or 'error'. */
  async submit() {
    await this.save.click();
    await this.saved.or(this.formError).first().waitFor({ state: 'visible' });
    return (await this.saved.isVisible()) ? 'saved' : 'error';
  }

  /** `data-rotation` of the status: 'pending' or 'idle'. */
  async rotationState() {
    return this.rotationStatus.getAttribute('data-rotation');
  }

  /** Starts a rotation and returns the new secret (secret-new). */
  async startRotation() {
    await this.rotateStart.click();
    await this.secretNew.or(this.secretError).first().waitFor({ state: 'visible' });
    if (await this.secretError.isVisible()) throw new Error(`starting the rotation failed: secret-error shows ${await textOf(this.secretError)}`);
    await this.rotateComplete.waitFor({ state: 'visible' });
    return textOf(this.secretNew);
  }

  /** Finishes (complete) or cancels the rotation and waits for the idle state. */
  async finishRotation(complete = true) {
    await (complete ? this.rotateComplete : this.rotateCancel).click();
    await this.rotateStart.or(this.secretError).first().waitFor({ state: 'visible' });
    if (await this.secretError.isVisible()) {
      throw new Error(`${complete ? 'completing' : 'cancelling'} the rotation failed: secret-error shows ${await textOf(this.secretError)}`);
    }
  }

  /** Deletes the app (with the confirmation step) and waits for /admin. */
  async deleteApp() {
    await this.deleteButton.click();
    await this.deleteConfirm.waitFor({ state: 'visible' });
    await this.deleteConfirm.click();
    const left = waitForUrl(this.page, isAt(config.baseUrl, '/admin'), '/admin after deleting the app').then(() => 'left');
    const failed = this.deleteError.waitFor({ state: 'visible' }).then(() => 'error');
    left.catch(() => {});
    failed.catch(() => {});
    if ((await Promise.race([left, failed])) === 'error') {
      throw new Error(`deleting the app failed: app-delete-error shows ${await textOf(this.deleteError)}`);
    }
  }
}

/** The "Connect a custom GPT" panel (on the new-app result and on the app's page). */
export class GptPanel {
  /** @param {import('playwright-core').Page} page */
  constructor(page) {
    this.page = page;
    this.root = page.getByTestId('gpt-panel');
    this.clientId = this.root.getByTestId('gpt-client-id');
    this.clientSecret = this.root.getByTestId('gpt-client-secret');
    this.authorizationUrl = this.root.getByTestId('gpt-authorization-url');
    this.tokenUrl = this.root.getByTestId('gpt-token-url');
    this.scope = this.root.getByTestId('gpt-scope');
    this.tokenMethod = this.root.getByTestId('gpt-token-method');
    this.callbackUrl = this.root.getByTestId('gpt-callback-url');
    this.callbackAdd = this.root.getByTestId('gpt-callback-add');
    this.callbackAdded = this.root.getByTestId('gpt-callback-added');
    this.callbackError = this.root.getByTestId('gpt-callback-error');
  }

  /**
   * Every value the panel tells the operator to paste into ChatGPT (waits
   * until the URLs from the discovery document are filled in).
   */
  async values() {
    await this.root.waitFor({ state: 'visible' });
    await this.page.waitForFunction(() =>
      ['gpt-authorization-url', 'gpt-token-url'].every((id) => {
        const el = document.querySelector(`[data-testid="gpt-panel"] [data-testid="${id}"]`);
        return !!el && el.textContent.trim().length > 0;
      }),
    );
    return {
      clientId: await textOf(this.clientId),
      clientSecret: await textOf(this.clientSecret),
      authorizationUrl: await textOf(this.authorizationUrl),
      tokenUrl: await textOf(this.tokenUrl),
      scope: await textOf(this.scope),
      tokenMethod: await textOf(this.tokenMethod),
    };
  }

  /**
   * Pastes a callback URL and clicks Add.
   * @returns {Promise<{outcome: 'added'|'error', text: string}>}
   */
  async addCallback(url) {
    await this.callbackUrl.fill(url);
    await this.callbackAdd.click();
    await this.callbackAdded.or(this.callbackError).first().waitFor({ state: 'visible' });
    if (await this.callbackError.isVisible()) return { outcome: 'error', text: await textOf(this.callbackError) };
    return { outcome: 'added', text: await textOf(this.callbackAdded) };
  }
}

/** /admin/audit */
export class AuditPage {
  /** @param {import('playwright-core').Page} page */
  constructor(page) {
    this.page = page;
    this.rows = page.getByTestId('audit-row');
    this.empty = page.getByTestId('audit-empty');
    this.error = page.getByTestId('audit-error');
    this.denied = page.getByTestId('admin-denied');
    this.loadMore = page.getByTestId('audit-load-more');
  }

  async goto() {
    await this.page.goto('/admin/audit');
    await this.waitReady();
  }

  async waitReady() {
    await waitForUrl(this.page, isAt(config.baseUrl, '/admin/audit'), 'the audit log /admin/audit');
    await this.rows.first().or(this.empty).or(this.error).or(this.denied).first().waitFor({ state: 'visible' });
    await refuseDenied(this.denied, 'the audit log');
    if (await this.error.isVisible()) throw new Error(`expected the audit log, audit-error shows: ${await textOf(this.error)}`);
  }

  /** Every row shown: `{action, clientId, text}`. */
  async events() {
    return this.rows.evaluateAll((els) =>
      els.map((e) => ({
        action: e.getAttribute('data-action'),
        clientId: e.getAttribute('data-client-id'),
        text: e.innerText.replace(/\s+/g, ' ').trim(),
      })),
    );
  }

  /**
   * The actions logged for `clientId`, clicking "Load more" until every one
   * of `wanted` is shown or there are no more pages.
   * @param {string} clientId
   * @param {string[]} wanted
   * @returns {Promise<string[]>}
   */
  async actionsFor(clientId, wanted) {
    for (;;) {
      const actions = (await this.events()).filter((e) => e.clientId === clientId).map((e) => e.action);
      if (wanted.every((w) => actions.includes(w)) || !(await this.loadMore.isVisible())) return actions;
      const before = await this.rows.count();
      await this.loadMore.click();
      await this.page.waitForFunction(
        (n) => document.querySelectorAll('[data-testid="audit-row"]').length > n,
        before,
      );
    }
  }
}

/** /account/connected-apps (any signed-in user). */
export class ConnectedAppsPage {
  /** @param {import('playwright-core').Page} page */
  constructor(page) {
    this.page = page;
    this.apps = page.getByTestId('connected-app');
    this.empty = page.getByTestId('connected-apps-empty');
    this.error = page.getByTestId('connected-apps-error');
    this.status = page.getByTestId('connected-apps-status');
  }

  async goto() {
    await this.page.goto('/account/connected-apps');
    await this.waitReady();
  }

  /** The list (or the empty text) has loaded. */
  async waitReady() {
    await waitForUrl(this.page, isAt(config.baseUrl, '/account/connected-apps'), 'the connected-apps page /account/connected-apps');
    await this.apps.first().or(this.empty).or(this.error).first().waitFor({ state: 'visible' });
    if (await this.error.isVisible()) throw new Error(`expected the connected apps, connected-apps-error shows: ${await textOf(this.error)}`);
  }

  app(clientId) {
    return this.page.locator(byClientId('connected-app', clientId));
  }

  /** What the page says about one app. */
  async describe(clientId) {
    const item = this.app(clientId);
    await item.waitFor({ state: 'visible' });
    return {
      name: await textOf(item.getByTestId('connected-app-name')),
      type: await textOf(item.getByTestId('connected-app-type')),
      scopes: await item.getByTestId('connected-app-scope').evaluateAll((els) => els.map((e) => e.getAttribute('data-scope'))),
      scopeTexts: (await item.getByTestId('connected-app-scope').allInnerTexts()).map((s) => s.replace(/\s+/g, ' ').trim()),
      granted: await textOf(item.getByTestId('connected-app-granted')),
      lastUsed: await textOf(item.getByTestId('connected-app-last-used')),
    };
  }

  /** Revoke → confirm, then waits until the app is gone from the list. */
  async revoke(clientId) {
    const item = this.app(clientId);
    await item.getByTestId('connected-app-revoke').click();
    const confirm = item.getByTestId('connected-app-revoke-confirm');
    await confirm.waitFor({ state: 'visible' });
    await confirm.click();
    const error = item.getByTestId('connected-app-error');
    const gone = item.waitFor({ state: 'detached' }).then(() => 'gone');
    const failed = error.waitFor({ state: 'visible' }).then(() => 'error');
    gone.catch(() => {});
    failed.catch(() => {});
    if ((await Promise.race([gone, failed])) === 'error') {
      throw new Error(`revoking ${clientId} failed: connected-app-error shows ${await textOf(error)}`);
    }
  }
}
