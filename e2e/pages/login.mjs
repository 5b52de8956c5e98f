// /login
import { config } from '../lib/env.mjs';
import { isAt, textOf, waitForUrl } from './common.mjs';

export class LoginPage {
  /** @param {import('playwright-core').Page} page */
  constructor(page) {
    this.page = page;
    this.email = page.getByTestId('login-email');
    this.password = page.getByTestId('login-password');
    this.submit = page.getByTestId('login-submit');
    this.error = page.getByTestId('login-error');
    this.signupLink = page.getByTestId('login-signup-link');
  }

  /** Opens /login, with `?returnTo=` (URL-encoded here) when given. */
  async goto(returnTo) {
    const url = returnTo === undefined ? '/login' : `/login?returnTo=${encodeURIComponent(returnTo)}`;
    await this.page.goto(url);
    await this.waitReady();
  }

  /** The form is rendered (the app has loaded). */
  async waitReady() {
    await waitForUrl(this.page, isAt(config.baseUrl, '/login'), 'the login page');
    await this.submit.waitFor({ state: 'visible' });
  }

  /** Fills and submits the form; does not wait for the result. */
  async submitCredentials({ email, password }) {
    await this.email.fill(email);
    await this.password.fill(password);
    await this.submit.click();
  }

  /** Logs in and waits until the app has left /login. */
  async login(user) {
    await this.submitCredentials(user);
    try {
      await waitForUrl(
        this.page,
        (u) => !(u.origin === new URL(config.baseUrl).origin && u.pathname === '/login'),
        'anywhere but /login after signing in',
      );
    } catch (e) {
      const shown = (await this.error.isVisible().catch(() => false)) ? await textOf(this.error) : '(none)';
      throw new Error(`${e.message}; login-error shows: ${shown}`);
    }
  }

  async errorText() {
    await this.error.waitFor({ state: 'visible' });
    return textOf(this.error);
  }
}
