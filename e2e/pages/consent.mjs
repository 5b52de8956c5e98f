// /idp: the IdentityProvider component's screens (loading, consent, error).
import { config } from '../lib/env.mjs';
import { textOf } from './common.mjs';

/** Selector-level description of "the consent screen is interactive", shared with measure.mjs. */
export const APPROVE_SELECTOR = '[data-testid="consent-approve"]';

export class ConsentPage {
  /** @param {import('playwright-core').Page} page */
  constructor(page) {
    this.page = page;
    this.loading = page.getByTestId('idp-loading');
    this.root = page.getByTestId('consent');
    this.clientName = page.getByTestId('consent-client-name');
    this.clientType = page.getByTestId('consent-client-type');
    this.redirectHost = page.getByTestId('consent-redirect-host');
    this.scopes = page.getByTestId('consent-scope');
    this.ungrantable = page.getByTestId('consent-ungrantable');
    this.approveButton = page.getByTestId('consent-approve');
    this.denyButton = page.getByTestId('consent-deny');
    this.error = page.getByTestId('idp-error');
    this.errorCode = page.getByTestId('idp-error-code');
  }

  /** Opens an authorize URL (absolute, or relative to the server). */
  async goto(authorizeUrl) {
    await this.page.goto(authorizeUrl);
  }

  /**
   * Waits for whichever comes first: the error screen, the consent screen, or
   * the browser leaving /idp (a redirect to the client, or to /login).
   * @returns {Promise<{kind: 'error'|'consent'|'navigated', url: string}>}
   */
  async outcome() {
    const appOrigin = new URL(config.baseUrl).origin;
    const left = this.page
      .waitForURL((u) => u.origin !== appOrigin || u.pathname !== '/idp', { waitUntil: 'commit' })
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

  /** The consent screen is shown and both buttons are visible and enabled. */
  async waitForConsent() {
    const o = await this.outcome();
    if (o.kind === 'error') {
      const e = await this.waitForError();
      throw new Error(`expected the consent screen, /idp shows idp-error ${e.code}: ${e.text}`);
    }
    if (o.kind === 'navigated') throw new Error(`expected the consent screen, the browser left /idp for ${o.url}`);
    await this.root.waitFor({ state: 'visible' });
    await this.approveButton.waitFor({ state: 'visible' });
    await this.denyButton.waitFor({ state: 'visible' });
    await this.page.waitForFunction(
      (sel) => {
        const b = document.querySelector(sel);
        return !!b && !b.disabled && b.getAttribute('aria-disabled') !== 'true';
      },
      APPROVE_SELECTOR,
    );
  }

  /** Everything the consent screen says, as plain data. */
  async details() {
    return {
      clientName: await textOf(this.clientName),
      clientType: await textOf(this.clientType),
      redirectHost: await textOf(this.redirectHost),
      scopes: await this.scopes.evaluateAll((els) => els.map((e) => e.getAttribute('data-scope'))),
      ungrantable: (await this.ungrantable.count()) > 0 ? await textOf(this.ungrantable.first()) : '',
      text: await textOf(this.root),
    };
  }

  async approve() {
    await this.approveButton.click();
  }

  async deny() {
    await this.denyButton.click();
  }

  /** Waits for the non-redirecting error screen and returns what it says. */
  async waitForError() {
    await this.error.waitFor({ state: 'visible' });
    await this.errorCode.waitFor({ state: 'visible' });
    const heading = this.error.locator('h1, h2, h3, [role="heading"]').first();
    return {
      code: await textOf(this.errorCode),
      heading: (await heading.count()) > 0 ? await textOf(heading) : '',
      text: await textOf(this.error),
    };
  }
}
