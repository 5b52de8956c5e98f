// The header navigation present on every page of the app.

export class Header {
  /** @param {import('playwright-core').Page} page */
  constructor(page) {
    this.page = page;
    this.notes = page.getByTestId('nav-notes');
    this.account = page.getByTestId('nav-account');
    this.login = page.getByTestId('nav-login');
  }

  async waitSignedIn() {
    await this.account.waitFor({ state: 'visible' });
  }

  async waitSignedOut() {
    await this.login.waitFor({ state: 'visible' });
  }
}
