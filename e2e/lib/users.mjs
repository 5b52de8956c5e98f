// Unique throwaway users: every test signs up its own, so specs never share state.

import { randomBytes } from 'node:crypto';

export const PASSWORD = 'correct horse battery staple';

/**
 * A new, never-registered user.
 * @param {string} [label] a short tag that ends up in the email, for reading logs
 * @returns {{email: string, password: string, name: string}}
 */
export function newUser(label = 'user') {
  const tag = label.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 20) || 'user';
  const rnd = randomBytes(6).toString('hex');
  return {
    email: `u-${tag}-${rnd}@example.test`,
    password: PASSWORD,
    name: `Test ${tag} ${rnd.slice(0, 4)}`,
  };
}
