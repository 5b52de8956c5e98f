// 6. /login?returnTo= accepts only same-origin relative paths: anything else is
//    ignored and the user lands on /. Every request to another host is blocked
//    (and recorded) so nothing leaves the machine.
import assert from 'node:assert/strict';
import { browserTest } from '../lib/browser.mjs';
import { config } from '../lib/env.mjs';
import { newUser } from '../lib/users.mjs';
import { AccountPage, LoginPage, NotesPage, signUpThroughUi, waitForUrl } from '../pages/index.mjs';

const HOSTILE = [
  '//evil.example',
  'https://evil.example',
  '/\\evil.example', // browsers read /\ as //
  'javascript:alert(1)',
  'https:evil.example', // another scheme without slashes resolves to https://evil.example/
  '\\\\evil.example', // \\evil.example, read as //evil.example
];

/** A fresh signed-out browser that cannot reach anything but the loopback servers. */
async function sealedPage(newContext) {
  const context = await newContext();
  const offsite = [];
  await context.route(
    (url) => !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) && /^https?:$/.test(url.protocol),
    (route) => {
      offsite.push(route.request().url());
      return route.fulfill({ status: 200, contentType: 'text/html', body: '<h1>offsite (blocked by the e2e suite)</h1>' });
    },
  );
  const page = await context.newPage();
  const dialogs = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  return { page, offsite, dialogs };
}

browserTest('login ignores a returnTo that is not a same-origin path', async ({ page, newContext }) => {
  const user = newUser('returnto');
  await signUpThroughUi(page, user);

  for (const returnTo of HOSTILE) {
    const { page: p, offsite, dialogs } = await sealedPage(newContext);
    const login = new LoginPage(p);
    await login.goto(returnTo);
    assert.equal(new URL(p.url()).searchParams.get('returnTo'), returnTo, `the login URL should carry returnTo=${returnTo}`);
    await login.submitCredentials(user);
    await waitForUrl(
      p,
      (u) => u.origin === config.baseUrl && u.pathname === '/',
      `${config.baseUrl}/ after logging in with returnTo=${returnTo}`,
    );
    await new NotesPage(p).waitReady();
    const at = new URL(p.url());
    assert.equal(at.origin, config.baseUrl, `returnTo=${returnTo}: the user must stay on the app's origin, is at ${p.url()}`);
    assert.equal(at.pathname, '/', `returnTo=${returnTo}: the user must land on /, is at ${p.url()}`);
    assert.deepEqual(offsite, [], `returnTo=${returnTo}: the browser must not request another host`);
    assert.deepEqual(dialogs, [], `returnTo=${returnTo}: no script may run from returnTo`);
    await p.context().close();
  }
});

browserTest('login honours a same-origin returnTo (/account)', async ({ page, newContext }) => {
  const user = newUser('returnto-ok');
  await signUpThroughUi(page, user);

  const { page: p, offsite } = await sealedPage(newContext);
  const login = new LoginPage(p);
  await login.goto('/account');
  await login.login(user);
  const account = new AccountPage(p);
  await account.waitReady();
  assert.equal(new URL(p.url()).pathname, '/account', `returnTo=/account should land on /account, is at ${p.url()}`);
  assert.equal(await account.emailText(), user.email, 'the account page should show the user who just logged in');
  assert.deepEqual(offsite, [], 'the browser must not request another host');
});
