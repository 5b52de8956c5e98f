// The B2B fixtures: two organizations and three members, created by run.mjs
// through the `keyhouse` CLI before the server starts, and handed to the specs
// in the config (`b2b`). Plain data, so run.mjs can import it without loading
// a config.
//
//   Acme Inc (acme):  m@example.test (member), admin@example.test (admin)
//   Globex (globex):  m@example.test (admin)   (same email, another member)
//   Initech (initech): boss@initech.test (admin), peter@initech.test (member);
//                      spec 19 makes it ask for two-step verification

export const B2B_PASSWORD = 'correct horse battery staple';

/**
 * @typedef {object} B2BOrganization
 * @property {string} name
 * @property {string} slug
 * @property {string|null} organizationId  from `keyhouse orgs create --json`; null when unknown
 *
 * @typedef {object} B2BAccount
 * @property {string} email
 * @property {string} password
 * @property {Record<string, string>} roles  organization slug -> role id
 *
 * @typedef {object} B2BConfig
 * @property {{acme: B2BOrganization, globex: B2BOrganization, initech: B2BOrganization}} organizations
 * @property {B2BAccount} member  one email, member in acme and admin in globex
 * @property {B2BAccount} admin   admin in acme only
 * @property {{admin: B2BAccount, member: B2BAccount}} initech  its own organization's accounts
 */

/** Every account of the fixtures. */
export function b2bAccounts(b2b) {
  return [b2b.member, b2b.admin, b2b.initech.admin, b2b.initech.member];
}

/**
 * The fixtures, as run.mjs creates them (organization ids unknown until then).
 * @returns {B2BConfig}
 */
export function defaultB2B() {
  return {
    organizations: {
      acme: { name: 'Acme Inc', slug: 'acme', organizationId: null },
      globex: { name: 'Globex', slug: 'globex', organizationId: null },
      initech: { name: 'Initech', slug: 'initech', organizationId: null },
    },
    member: { email: 'm@example.test', password: B2B_PASSWORD, roles: { acme: 'member', globex: 'admin' } },
    admin: { email: 'admin@example.test', password: B2B_PASSWORD, roles: { acme: 'admin' } },
    initech: {
      admin: { email: 'boss@initech.test', password: B2B_PASSWORD, roles: { initech: 'admin' } },
      member: { email: 'peter@initech.test', password: B2B_PASSWORD, roles: { initech: 'member' } },
    },
  };
}
