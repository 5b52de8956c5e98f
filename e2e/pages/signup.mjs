// /signup
import { config } from '../lib/env.mjs';
import { isAt, textOf, waitForUrl } from './common.mjs';
import { NotesPage } from './notes.mjs';

export class SignupPage {
  /** @param {import('playwright-core').Page} page */
  constructor(page) {
    this.page = page;
    this.name = page.getByTestId('signup-name');
    this.email = page.getByTestId('signup-email');
    this.password = page.getByTestId('signup-password');
    this.submit = page.getByTestId('signup-submit');
    this.error = page.getByTestId('signup-error');
  }

  async goto(returnTo) {
    const url = returnTo === undefined ? '/signup' : `/signup?returnTo=${encodeURIComponent(returnTo)}`;
    await this.page.goto(url);
    await this.waitReady();
  }

  async waitReady() {
    await waitForUrl(this.page, isAt(config.baseUrl, '/signup'), 'the signup page');
    await this.submit.waitFor({ state: 'visible' });
  }

  /** Fills and submits the form; does not wait for the result. */
  async submitForm({ name, email, password }) {
    await this.name.fill(name);
    await this.email.fill(email);
    await this.password.fill(password);
    await this.submit.click();
  }

  /** Signs up and waits until the app has left /signup. */
  async signup(user) {
    await this.submitForm(user);
    try {
      await waitForUrl(
        this.page,
        (u) => !(u.origin === new URL(config.baseUrl).origin && u.pathname === '/signup'),
        'anywhere but /signup after signing up',
      );
    } catch (e) {
      const shown = (await this.error.isVisible().catch(() => false)) ? await textOf(this.error) : '(none)';
      throw new Error(`${e.message}; signup-error shows: ${shown}`);
    }
  }

  async errorText() {
    await this.error.waitFor({ state: 'visible' });
    return textOf(this.error);
  }
}

/**
 * Signs a brand-new user up through the UI and waits for the notes page.
 * @returns {Promise<NotesPage>}
 */
export async function signUpThroughUi(page, user) {
  const signup = new SignupPage(page);
  await signup.goto();
  await signup.signup(user);
  const notes = new NotesPage(page);
  await notes.waitReady();
  return notes;
}
