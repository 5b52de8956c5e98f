// The B2B pages: /org/login (discovery and the choice of organization), /org
// (the organization's shared notes), /org/member, /org/settings, and /org/idp
// (the B2BIdentityProvider component: consent with the organization, errors).
import { config } from '../lib/env.mjs';
import { isAt, textOf, waitForUrl } from './common.mjs';
import { ConsentPage } from './consent.mjs';

const appOrigin = () => new URL(config.baseUrl).origin;

/** /org/login */
export class OrgLoginPage {
  /** @param {import('playwright-core').Page} page */
  constructor(page) {
    this.page = page;
    this.email = page.getByTestId('org-login-email');
    this.password = page.getByTestId('org-login-password');
    this.submit = page.getByTestId('org-login-submit');
    this.error = page.getByTestId('org-login-error');
    this.choices = page.getByTestId('org-login-choices');
    this.choice = page.getByTestId('org-choice');
  }

  /** Opens /org/login, with `?returnTo=` (URL-encoded here) when given. */
  async goto(returnTo) {
    const url = returnTo === undefined ? '/org/login' : `/org/login?returnTo=${encodeURIComponent(returnTo)}`;
    await this.page.goto(url);
    await this.waitReady();
  }

  /** The credentials form is rendered (the app has loaded). */
  async waitReady() {
    await waitForUrl(this.page, isAt(config.baseUrl, '/org/login'), 'the organization login page /org/login');
    await this.submit.waitFor({ state: 'visible' });
  }

  /** Fills and submits email and password; does not wait for the result. */
  async submitCredentials({ email, password }) {
    await this.email.fill(email);
    await this.password.fill(password);
    await this.submit.click();
  }

  /** What the error note says (waits for it). */
  async errorText() {
    await this.error.waitFor({ state: 'visible' });
    return textOf(this.error);
  }

  /**
   * After submitting: waits for the list of organizations and returns their
   * slugs (`data-slug` of each `org-choice`), in page order.
   */
  async waitForChoices() {
    try {
      await this.choices.or(this.error).first().waitFor({ state: 'visible' });
    } catch (e) {
      throw new Error(`expected the organization choices (org-login-choices) after discovery; the page is at ${this.page.url()}: ${e.message.split('\n')[0]}`);
    }
    if (await this.error.isVisible()) {
      throw new Error(`expected the organization choices, org-login-error shows: ${await textOf(this.error)}`);
    }
    await this.choice.first().waitFor({ state: 'visible' });
    return this.choice.evaluateAll((els) => els.map((e) => e.getAttribute('data-slug')));
  }

  /** Clicks the organization with this slug. */
  async choose(slug) {
    await this.page.locator(`[data-testid="org-choice"][data-slug="${slug}"]`).click();
  }

  /**
   * Signs in and waits until the app has left /org/login. When the email opens
   * several organizations, picks `slug` (required then).
   * @param {{email: string, password: string}} account
   * @param {string} [slug]
   */
  async login(account, slug) {
    await this.submitCredentials(account);
    const left = waitForUrl(
      this.page,
      (u) => !(u.origin === appOrigin() && u.pathname === '/org/login'),
      'anywhere but /org/login after signing in',
    ).then(() => 'left');
    const choosing = this.choices.waitFor({ state: 'visible' }).then(() => 'choose');
    const failed = this.error.waitFor({ state: 'visible' }).then(() => 'error');
    for (const p of [left, choosing, failed]) p.catch(() => {});
    const first = await Promise.race([left, choosing, failed]);
    if (first === 'error') {
      throw new Error(`signing in to the organization failed; org-login-error shows: ${await textOf(this.error)}`);
    }
    if (first === 'choose') {
      if (!slug) {
        const offered = await this.choice.evaluateAll((els) => els.map((e) => e.getAttribute('data-slug')));
        throw new Error(`${account.email} opens several organizations (${offered.join(', ')}): say which one to pick`);
      }
      await this.choose(slug);
      try {
        await left;
      } catch (e) {
        const shown = (await this.error.isVisible().catch(() => false)) ? await textOf(this.error) : '(none)';
        throw new Error(`${e.message}; org-login-error shows: ${shown}`);
      }
    }
  }
}

/** /org: the organization's shared notes (needs a member session). */
export class OrgNotesPage {
  /** @param {import('playwright-core').Page} page */
  constructor(page) {
    this.page = page;
    this.orgName = page.getByTestId('member-org-name');
    this.title = page.getByTestId('org-note-title');
    this.body = page.getByTestId('org-note-body');
    this.create = page.getByTestId('org-note-create');
    this.items = page.getByTestId('org-note-item');
    this.empty = page.getByTestId('org-notes-empty');
    this.error = page.getByTestId('org-notes-error');
    this.formError = page.getByTestId('org-note-form-error');
  }

  async goto() {
    await this.page.goto('/org');
    await this.waitReady();
  }

  /** On /org, the list has loaded (items, the empty text, or an error). */
  async waitReady() {
    await waitForUrl(this.page, isAt(config.baseUrl, '/org'), 'the organization notes page /org');
    await this.orgName.waitFor({ state: 'visible' });
    await this.items.first().or(this.empty).or(this.error).first().waitFor({ state: 'visible' });
  }

  /** The organization's name as written (the eyebrow style upper-cases it on screen). */
  async orgNameText() {
    return ((await this.orgName.textContent()) ?? '').replace(/\s+/g, ' ').trim();
  }

  /** The list items whose text contains `text`. */
  item(text) {
    return this.items.filter({ hasText: text });
  }

  /** Creates a note through the form and waits until it is listed. */
  async createNote({ title, body = '' }) {
    await this.title.fill(title);
    await this.body.fill(body);
    await this.create.click();
    const listed = this.item(body || title).first();
    try {
      await listed.or(this.formError).first().waitFor({ state: 'visible' });
    } catch (e) {
      throw new Error(`the note "${title}" was not listed after Add: ${e.message.split('\n')[0]}`);
    }
    if (await this.formError.isVisible()) {
      throw new Error(`creating the note "${title}" failed: ${await textOf(this.formError)}`);
    }
  }
}

/** /org/member */
export class MemberPage {
  /** @param {import('playwright-core').Page} page */
  constructor(page) {
    this.page = page;
    this.email = page.getByTestId('member-email');
    this.name = page.getByTestId('member-name');
    this.org = page.getByTestId('member-org');
    this.roles = page.getByTestId('member-roles');
    this.logoutButton = page.getByTestId('member-logout');
    this.settingsLink = page.getByTestId('member-settings-link');
  }

  async goto() {
    await this.page.goto('/org/member');
    await this.waitReady();
  }

  async waitReady() {
    await waitForUrl(this.page, isAt(config.baseUrl, '/org/member'), 'the member page /org/member');
    await this.email.waitFor({ state: 'visible' });
    await this.logoutButton.waitFor({ state: 'visible' });
  }

  /** The role ids shown (member-roles is comma-separated). */
  async roleIds() {
    return (await textOf(this.roles)).split(',').map((r) => r.trim()).filter(Boolean);
  }

  /** Signs out and waits for /org/login. */
  async logout() {
    await this.logoutButton.click();
    await waitForUrl(this.page, isAt(config.baseUrl, '/org/login'), '/org/login after signing out of the organization');
  }
}

/** /org/settings (administrators). */
export class OrgSettingsPage {
  /** @param {import('playwright-core').Page} page */
  constructor(page) {
    this.page = page;
    this.denied = page.getByTestId('org-settings-denied');
    this.loadError = page.getByTestId('org-settings-load-error');
    this.firstPartyAccess = page.getByTestId('org-first-party-access');
    this.thirdPartyAccess = page.getByTestId('org-third-party-access');
    this.firstPartyAllowlist = page.getByTestId('org-first-party-allowlist');
    this.thirdPartyAllowlist = page.getByTestId('org-third-party-allowlist');
    this.save = page.getByTestId('org-settings-save');
    this.saved = page.getByTestId('org-settings-saved');
    this.error = page.getByTestId('org-settings-error');
    this.members = page.getByTestId('org-member');
    this.roles = page.getByTestId('org-role');
  }

  async goto() {
    await this.page.goto('/org/settings');
    await waitForUrl(this.page, isAt(config.baseUrl, '/org/settings'), 'the settings page /org/settings');
  }

  /**
   * Waits until the page has decided: the settings form, the "administrators
   * only" message, or a load error.
   * @returns {Promise<'settings'|'denied'|'error'>}
   */
  async outcome() {
    await this.save.or(this.denied).or(this.loadError).first().waitFor({ state: 'visible' });
    if (await this.denied.isVisible()) return 'denied';
    if (await this.loadError.isVisible()) return 'error';
    return 'settings';
  }

  /** The settings form is shown (throws with what is shown instead). */
  async waitReady() {
    const o = await this.outcome();
    if (o === 'denied') throw new Error(`expected the settings form, org-settings-denied shows: ${await textOf(this.denied)}`);
    if (o === 'error') throw new Error(`expected the settings form, org-settings-load-error shows: ${await textOf(this.loadError)}`);
    await this.members.first().waitFor({ state: 'visible' });
  }

  /** Chooses the third-party access (`all_allowed`, `restricted`, `not_allowed`), saves, waits for "saved". */
  async setThirdPartyAccess(value) {
    await this.thirdPartyAccess.selectOption(value);
    // Any edit hides the previous "saved" note, so the next one is this save's.
    await this.saved.waitFor({ state: 'detached' });
    await this.save.click();
    await this.saved.or(this.error).first().waitFor({ state: 'visible' });
    if (await this.error.isVisible()) throw new Error(`saving the Connected Apps settings failed: ${await textOf(this.error)}`);
  }

  /** The member row of `email`. */
  memberRow(email) {
    return this.members.filter({ has: this.page.getByTestId('org-member-email').getByText(email, { exact: true }) });
  }
}

/**
 * /org/idp: the B2BIdentityProvider's screens. Same test ids as /idp, plus the
 * organization being authorized and the scopes the member cannot grant.
 */
export class B2BConsentPage extends ConsentPage {
  /** @param {import('playwright-core').Page} page */
  constructor(page) {
    super(page);
    this.organization = page.getByTestId('consent-organization');
  }

  /**
   * Whichever comes first: the error screen, the consent screen, or the
   * browser leaving /org/idp (a redirect to the client, or to /org/login).
   * @returns {Promise<{kind: 'error'|'consent'|'navigated', url: string}>}
   */
  async outcome() {
    const left = this.page
      .waitForURL((u) => u.origin !== appOrigin() || u.pathname !== '/org/idp', { waitUntil: 'commit' })
      .then(() => 'navigated');
    const shown = this.error
      .or(this.root)
      .first()
      .waitFor({ state: 'visible' })
      .then(async () => ((await this.error.isVisible()) ? 'error' : 'consent'));
    left.catch(() => {});
    shown.catch(() => {});
    const kind = await Promise.race([left, shown]);
    return { kind, url: this.page.url() };
  }

  async organizationName() {
    return textOf(this.organization);
  }

  /** `data-scope` of every scope listed as not grantable. */
  async ungrantableScopes() {
    if ((await this.ungrantable.count()) === 0) return [];
    return this.ungrantable.locator('[data-scope]').evaluateAll((els) => els.map((e) => e.getAttribute('data-scope')));
  }
}

/**
 * A call to the app's API from inside the page (same-origin fetch, so the
 * member session cookie goes along and the browser adds Sec-Fetch-Site).
 * @returns {Promise<{status: number, body: any, text: string}>}
 */
export async function fetchInPage(page, method, path, json) {
  return page.evaluate(
    async ({ method, path, json }) => {
      const headers = { accept: 'application/json' };
      if (json !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(path, { method, headers, body: json === undefined ? undefined : JSON.stringify(json), credentials: 'same-origin' });
      const text = await res.text();
      let body = null;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        body = null;
      }
      return { status: res.status, body, text };
    },
    { method, path, json },
  );
}

/**
 * Follows a GPT's flow on `page` (signed in as a member, at /org/idp or on
 * its way there) to the callback: consents when asked; answers the tokens.
 * @param {import('playwright-core').Page} page
 * @param {import('../gpt.mjs').SimulatedGpt} gpt
 */
export async function connectThroughOrgIdp(page, gpt) {
  await waitForUrl(page, isAt(config.baseUrl, '/org/idp'), '/org/idp');
  const consent = new B2BConsentPage(page);
  const o = await consent.outcome();
  if (o.kind === 'error') {
    const e = await consent.waitForError();
    throw new Error(`/org/idp shows idp-error ${e.code}: ${e.text}`);
  }
  if (o.kind === 'consent') {
    await consent.waitForConsent();
    await consent.approve();
  }
  const cb = await gpt.waitForCallback(15_000);
  await page.waitForURL((u) => u.origin === gpt.origin, { waitUntil: 'load' });
  return gpt.exchange(cb.get('code'));
}
