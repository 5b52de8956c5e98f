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
}
