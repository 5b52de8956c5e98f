// A company's own OpenID Provider for the single sign-on spec: panva's
// `oidc-provider` (npm; an OpenID Certified implementation, not Keyhouse),
// served over https on loopback as `login.umbrella.test` with the run's test
// CA. The server reaches it through its test-only resolver and CA options
// (run.mjs), the browser through a host-resolver rule (`browserArgs`).
//
// Its sign-in is oidc-provider's development interaction: a form taking any
// login (the account id; the password is not checked), then a consent page.
// The accounts are the spec's: each a verified address, a name and the
// groups the ID token carries.

import { createServer } from 'node:https';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';
import { config } from './env.mjs';

/**
 * Chromium flags for a spec that visits the provider: its name is loopback,
 * and every other name fails without a lookup (its development pages link a
 * web font; no packet may leave the machine).
 */
export function browserArgs() {
  const host = ssoHost();
  return [`--host-resolver-rules=MAP ${host} 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1`];
}

function ssoHost() {
  const host = config.agents?.ssoHost;
  if (!host) throw new Error('e2e: the config has no agents.ssoHost (run through run.mjs)');
  return host;
}

/**
 * @typedef {object} CompanyAccount
 * @property {string} email
 * @property {string} name
 * @property {string[]} groups
 * @property {boolean} [emailVerified]  true unless said
 */

/**
 * Starts the provider with one confidential client (secret in the Basic
 * header, as Keyhouse sends it) whose only redirect URI is `redirectUri`.
 * @param {{redirectUri: string, accounts: Record<string, CompanyAccount>}} o
 * @returns {Promise<{issuer: string, clientId: string, clientSecret: string,
 *   signIns: () => string[], close: () => Promise<void>}>}
 */
export async function startCompanyProvider({ redirectUri, accounts }) {
  const host = ssoHost();
  const agents = config.agents;
  const server = createServer({ cert: readFileSync(agents.cert), key: readFileSync(agents.key) });
  const port = await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
  const issuer = `https://${host}:${port}`;
  const clientId = 'keyhouse-notes';
  const clientSecret = randomBytes(24).toString('base64url');
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const signIns = [];
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'umbrella-1', use: 'sig', alg: 'RS256' }] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    // Email, name and groups in the ID token itself, as Okta and Entra ID
    // put the groups there.
    conformIdTokenClaims: false,
    claims: { openid: ['sub', 'groups'], email: ['email', 'email_verified'], profile: ['name'] },
    features: { devInteractions: { enabled: true } },
    ttl: { AuthorizationCode: 60, IdToken: 600, AccessToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
    async findAccount(_ctx, id) {
      const a = accounts[id];
      if (!a) return undefined;
      return {
        accountId: id,
        async claims() {
          signIns.push(id);
          return {
            sub: id,
            email: a.email,
            email_verified: a.emailVerified ?? true,
            name: a.name,
            groups: a.groups,
          };
        },
      };
    },
  });
  server.on('request', provider.callback());
  return {
    issuer,
    clientId,
    clientSecret,
    signIns: () => [...signIns],
    close: () => new Promise((r) => {
      server.closeAllConnections?.();
      server.close(() => r());
    }),
  };
}

/**
 * The browser steps at the provider: its development sign-in form (any
 * login is the account id) and its consent page.
 * @param {import('playwright-core').Page} page  at the provider's sign-in form
 * @param {string} login  an account id of the provider
 */
export async function signInAtCompany(page, login) {
  await page.waitForURL((u) => u.hostname === ssoHost(), { waitUntil: 'load' });
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('the provider checks no password here');
  await page.locator('button[type="submit"]').click();
  // Consent, the first time this browser signs in to the client.
  const consent = page.locator('input[name="prompt"][value="consent"]');
  const left = page.waitForURL((u) => u.hostname !== ssoHost(), { waitUntil: 'commit' }).then(() => 'left');
  const asked = consent.waitFor({ state: 'attached' }).then(() => 'consent');
  left.catch(() => {});
  asked.catch(() => {});
  if ((await Promise.race([left, asked])) === 'consent') {
    await page.locator('button[type="submit"]').click();
  }
}
