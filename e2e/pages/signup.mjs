// /signup
import { config } from '../lib/env.mjs';
import { isAt, textOf, waitForUrl } from './common.mjs';
import { Header } from './header.mjs';
import { LoginPage } from './login.mjs';
import { NotesPage } from './notes.mjs';
import { codeIn, waitForMail } from '../lib/mail.mjs';

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

  /**
   * Waits for the "check your email" step, or the form's error (thrown).
   * @returns {Promise<import('playwright-core').Locator>} the code field
   */
  async waitForCodeStep() {
    const code = this.page.getByTestId('code-input');
    await Promise.race([
      code.waitFor({ state: 'visible' }),
      this.error.waitFor({ state: 'visible' }).then(async () => {
        throw new Error(`signup-error shows: ${await textOf(this.error)}`);
      }),
    ]);
    return code;
  }

  /** Types the code of the newest message to `email` and sends it. */
  async enterMailedCode(email) {
    const input = await this.waitForCodeStep();
    const mail = await waitForMail(email);
    await input.fill(codeIn(mail));
    await this.page.getByTestId('code-submit').click();
  }

  /** Signs up, proves the address with the mailed code, and waits until the app has left /signup. */
  async signup(user) {
    await this.submitForm(user);
    await this.enterMailedCode(user.email);
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

/**
 * Signs `user` up on `page`, then in on a second device (a fresh browser
 * context from `newContext`); answers that device's page.
 */
export async function signedInOnTwoDevices(page, newContext, user) {
  await signUpThroughUi(page, user);
  const other = await (await newContext()).newPage();
  const login = new LoginPage(other);
  await login.goto();
  await login.login(user);
  await new Header(other).waitSignedIn();
  return other;
}
