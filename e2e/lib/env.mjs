// The configuration the runner (run.mjs) hands to the specs and to measure.mjs.
//
// run.mjs writes one JSON file and points E2E_CONFIG at it; it also exports the
// same values as individual E2E_* variables. Either is enough: without
// E2E_CONFIG the individual variables are read, so the specs can also be run
// by hand against a server that is already up (see README.md).

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultB2B } from './b2b.mjs';

export const E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = path.resolve(E2E_DIR, '..');

function required(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(
      `e2e: ${name} is not set. Run the suite through the runner (node e2e/run.mjs), ` +
        'which starts the server and sets E2E_CONFIG, or set the E2E_* variables yourself (see e2e/README.md).',
    );
  }
  return v;
}

/**
 * The B2B fixtures: `E2E_B2B` (the config's `b2b` object as JSON) when set,
 * otherwise the fixed ones run.mjs creates (organization ids unknown).
 */
function b2bFromEnv() {
  const raw = process.env.E2E_B2B;
  if (!raw) return defaultB2B();
  try {
    return JSON.parse(raw);
  } catch (e) {
    throw new Error(`e2e: E2E_B2B is not valid JSON: ${e.message}`);
  }
}

/** The operator run.mjs creates (`keyhouse users create --admin`). */
export const DEFAULT_ADMIN = Object.freeze({
  email: 'admin@example.test',
  password: 'correct horse battery staple',
  name: 'Ops Admin',
  userId: null,
});

/**
 * The operator: `E2E_ADMIN` (the config's `admin` object as JSON) when set,
 * otherwise the one run.mjs creates (user id unknown).
 */
function adminFromEnv() {
  const raw = process.env.E2E_ADMIN;
  if (!raw) return { ...DEFAULT_ADMIN };
  try {
    return { ...DEFAULT_ADMIN, ...JSON.parse(raw) };
  } catch (e) {
    throw new Error(`e2e: E2E_ADMIN is not valid JSON: ${e.message}`);
  }
}

function fromEnv() {
  const baseUrl = required('E2E_BASE_URL').replace(/\/+$/, '');
  const gptPort = Number(required('E2E_GPT_PORT'));
  const resultsDir = process.env.E2E_RESULTS_DIR || path.join(E2E_DIR, 'test-results');
  return {
    baseUrl,
    resultsDir,
    screenshotDir: process.env.E2E_SCREENSHOT_DIR || path.join(resultsDir, 'screenshots'),
    distDir: process.env.E2E_DIST_DIR || path.join(REPO_ROOT, 'dist'),
    chromium: process.env.E2E_CHROMIUM || '/usr/bin/chromium',
    gpt: {
      name: process.env.E2E_GPT_NAME || 'Notes GPT',
      clientId: required('E2E_GPT_CLIENT_ID'),
      clientSecret: required('E2E_GPT_CLIENT_SECRET'),
      port: gptPort,
      redirectUri: process.env.E2E_GPT_REDIRECT_URI || `http://127.0.0.1:${gptPort}/callback`,
    },
    keyhouse: null,
    b2b: b2bFromEnv(),
    admin: adminFromEnv(),
    maildir: process.env.E2E_MAILDIR || null,
  };
}

function load() {
  const file = process.env.E2E_CONFIG;
  if (!file) return fromEnv();
  let parsed;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`e2e: cannot read E2E_CONFIG=${file}: ${e.message}`);
  }
  for (const key of ['baseUrl', 'resultsDir', 'screenshotDir', 'gpt']) {
    if (parsed[key] === undefined) throw new Error(`e2e: ${file} has no "${key}"`);
  }
  // Configs written before the B2B fixtures existed have no "b2b".
  parsed.b2b ??= b2bFromEnv();
  // ... and configs written before the operator fixture no "admin".
  parsed.admin ??= adminFromEnv();
  return parsed;
}

/**
 * @typedef {object} E2EConfig
 * @property {string} baseUrl        e.g. http://127.0.0.1:41234 (no trailing slash; also the issuer)
 * @property {string} resultsDir     e2e/test-results
 * @property {string} screenshotDir  e2e/test-results/screenshots
 * @property {string} distDir        the app's built static files
 * @property {string} chromium       chromium executable
 * @property {{name:string, clientId:string, clientSecret:string, port:number, redirectUri:string}} gpt
 * @property {{bin:string, env:Record<string,string>}|null} keyhouse  how to run the CLI against the same database
 * @property {import('./b2b.mjs').B2BConfig} b2b  the organizations and members (lib/b2b.mjs)
 * @property {{email:string, password:string, name:string, userId:string|null}} admin  the operator
 *   (`keyhouse users create --admin`; may use /admin and the admin API)
 */

/** @type {E2EConfig} */
export const config = load();
