// /account
import { config } from '../lib/env.mjs';
import { isAt, textOf, waitForUrl } from './common.mjs';

export class AccountPage {
  /** @param {import('playwright-core').Page} page */
  constructor(page) {
    this.page = page;
    this.email = page.getByTestId('account-email');
    this.name = page.getByTestId('account-name');
    this.logoutButton = page.getByTestId('logout-button');
  }

  async goto() {
    await this.page.goto('/account');
    await this.waitReady();
  }

  async waitReady() {
    await waitForUrl(this.page, isAt(config.baseUrl, '/account'), 'the account page');
    await this.email.waitFor({ state: 'visible' });
    await this.logoutButton.waitFor({ state: 'visible' });
  }

  async emailText() {
    return textOf(this.email);
  }

  async nameText() {
    return textOf(this.name);
  }

  /** Clicks "log out" and waits for the app to show /login. */
  async logout() {
    await this.logoutButton.click();
    await waitForUrl(this.page, isAt(config.baseUrl, '/login'), '/login after logging out');
  }

  /** The sessions list's items (this browser's first). */
  sessions() {
    return this.page.getByTestId('session');
  }

  /** Waits until the sessions list shows `n` sessions. */
  async waitForSessions(n) {
    const deadline = Date.now() + 10_000;
    while ((await this.sessions().count()) !== n) {
      if (Date.now() > deadline) {
        throw new Error(`expected ${n} sessions on /account, see ${await this.sessions().count()}`);
      }
      await this.page.waitForTimeout(100);
    }
  }

  /** "Sign out everywhere else"; answers the status line's words. */
  async signOutOthers() {
    await this.page.getByTestId('sessions-sign-out-others').click();
    const status = this.page.getByTestId('sessions-status');
    await status.filter({ hasText: /Signed out|not signed in/ }).waitFor();
    return textOf(status);
  }

  /** Asks to move the account to `email`; waits for the code step. */
  async askEmailChange(email, password) {
    await this.page.getByTestId('change-email-input').fill(email);
    await this.page.getByTestId('change-email-password').fill(password);
    await this.page.getByTestId('change-email-submit').click();
    await this.page.getByTestId('change-email-code').waitFor();
  }

  /** Types the mailed code; answers the "done" notice's words. */
  async confirmEmailChange(code) {
    await this.page.getByTestId('change-email-code').fill(code);
    await this.page.getByTestId('change-email-confirm').click();
    const done = this.page.getByTestId('change-email-done');
    await done.waitFor();
    return textOf(done);
  }

  /** Opens the deletion form, confirms with `email` and `password`, and
   *  waits for the login page that follows. */
  async deleteAccount(email, password) {
    await this.page.getByTestId('delete-open').click();
    await this.page.getByTestId('delete-email').fill(email);
    await this.page.getByTestId('delete-password').fill(password);
    await this.page.getByTestId('delete-confirm').click();
    await waitForUrl(this.page, isAt(config.baseUrl, '/login'), '/login after deleting the account');
  }
}
