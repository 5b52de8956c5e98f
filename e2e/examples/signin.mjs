// The component's SignIn form (examples with Keyhouse's own users).
import { screenshot } from '../lib/browser.mjs';
import { codeIn, waitForMail } from '../lib/mail.mjs';

export const PASSWORD = 'correct horse battery staple';

/** Creates an account through `<SignIn/>` on the current page. */
export async function createAccount(page, { name, email }) {
  await page.getByTestId('sign-in').waitFor();
  await page.getByTestId('sign-in-switch').click();
  await page.getByTestId('sign-in-name').fill(name);
  await page.getByTestId('sign-in-email').fill(email);
  await page.getByTestId('sign-in-password').fill(PASSWORD);
  await screenshot(page, `${process.env.E2E_EXAMPLE}-create-account`);
  await page.getByTestId('sign-in-submit').click();
  // The address is proven before the account exists: the code from the mail.
  await page.getByTestId('code-input').waitFor();
  await screenshot(page, `${process.env.E2E_EXAMPLE}-check-email`);
  await page.getByTestId('code-input').fill(codeIn(await waitForMail(email)));
  await page.getByTestId('code-submit').click();
}
