// SimulatedGpt: what a ChatGPT custom GPT with an OAuth Action does.
//
// - a confidential third-party client ("Notes GPT"), registered by run.mjs;
// - authorization URL `{base}/idp` (or `{base}/org/idp` for an organization:
//   the `authorizePath` option), token URL `{base}/oauth2/token`;
// - response_type=code, scope "openid profile email notes:read
//   offline_access" (an Action that needs to keep working asks for
//   offline_access; without it Keyhouse issues no refresh token), a random
//   state, and NO PKCE (ChatGPT Actions send no code_challenge);
// - client authentication client_secret_post (client_id + client_secret in
//   the form body, ChatGPT's "Default (POST request)");
// - a loopback HTTP listener on its reserved port that receives the redirect
//   at /callback, checks `state` (and RFC 9207 `iss` when present) and shows a
//   small "Connected" page;
// - it then calls the app's API with `Authorization: Bearer <access_token>`.

import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { config } from './lib/env.mjs';

export const GPT_SCOPE = 'openid profile email notes:read offline_access';
/** What the GPT asks of an organization (B2B, `/org/idp`): read and write. */
export const B2B_GPT_SCOPE = 'openid profile email notes:read notes:write offline_access';

/** An error answer from the token endpoint (RFC 6749 §5.2). */
export class TokenError extends Error {
  constructor(status, body, text) {
    super(`token endpoint answered ${status}: ${text}`);
    this.name = 'TokenError';
    this.status = status;
    this.body = body;
  }
}

/** The payload of a JWT, unverified (for looking at claims in assertions). */
export function decodeJwtPayload(jwt) {
  const parts = String(jwt).split('.');
  if (parts.length !== 3) throw new Error(`not a JWT (compact JWS with 3 parts): ${String(jwt).slice(0, 40)}…`);
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

async function readJson(res) {
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  return { text, body };
}

export class SimulatedGpt {
  /**
   * @param {object} [o]  defaults come from the runner's config
   * @param {string} [o.baseUrl]
   * @param {string} [o.clientId]
   * @param {string} [o.clientSecret]
   * @param {number} [o.port]
   * @param {string} [o.redirectUri]
   * @param {string} [o.scope]
   * @param {string} [o.authorizePath]  the app's Authorization URL path: `/idp` (users, default)
   *   or `/org/idp` (members of an organization, B2B)
   */
  constructor(o = {}) {
    this.baseUrl = (o.baseUrl ?? config.baseUrl).replace(/\/+$/, '');
    this.clientId = o.clientId ?? config.gpt.clientId;
    this.clientSecret = o.clientSecret ?? config.gpt.clientSecret;
    this.port = o.port ?? config.gpt.port;
    this.redirectUri = o.redirectUri ?? config.gpt.redirectUri ?? `http://127.0.0.1:${this.port}/callback`;
    this.scope = o.scope ?? GPT_SCOPE;
    this.authorizePath = o.authorizePath ?? '/idp';
    this.authorizationUrl = `${this.baseUrl}${this.authorizePath}`;
    this.tokenUrl = `${this.baseUrl}/oauth2/token`;
    /** The state of the latest authorizeUrl(); a callback must carry it. */
    this.state = null;
    /** Every request the listener received: {method, path, query: URLSearchParams, at}. */
    this.requests = [];
    this._pending = []; // /callback hits not yet taken by waitForCallback
    this._waiters = [];
    this._server = null;
  }

  /** The listener's origin, e.g. http://127.0.0.1:54321. */
  get origin() {
    return new URL(this.redirectUri).origin;
  }

  /** Starts the loopback callback listener on the reserved port. */
  async start() {
    if (this._server) return;
    const server = http.createServer((req, res) => this._handle(req, res));
    server.keepAliveTimeout = 1_000;
    const { hostname, port } = new URL(this.redirectUri);
    // The previous spec process may still be releasing the port: retry briefly.
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await new Promise((resolve, reject) => {
          server.once('error', reject);
          server.listen(Number(port), hostname, () => {
            server.off('error', reject);
            resolve();
          });
        });
        break;
      } catch (e) {
        if (e.code !== 'EADDRINUSE' || Date.now() > deadline) {
          throw new Error(`SimulatedGpt: cannot listen on ${hostname}:${port}: ${e.message}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    this._server = server;
  }

  _handle(req, res) {
    const url = new URL(req.url, this.origin);
    const hit = { method: req.method, path: url.pathname, query: url.searchParams, at: Date.now() };
    if (url.pathname === '/favicon.ico') {
      res.writeHead(404).end();
      return;
    }
    this.requests.push(hit);
    if (url.pathname !== '/callback') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const ok = url.searchParams.has('code');
    const title = ok ? 'Connected' : 'Not connected';
    const detail = ok
      ? 'Notes GPT can now read your notes. You can close this window.'
      : `The connection was not made: ${escapeHtml(url.searchParams.get('error') ?? 'unknown error')}`;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>` +
        `<body><h1 data-testid="gpt-callback">${title}</h1><p>${detail}</p></body></html>`,
    );
    const waiter = this._waiters.shift();
    if (waiter) waiter(hit);
    else this._pending.push(hit);
  }

  /**
   * The authorize URL, as the GPT sends the user to it.
   * @param {Record<string, string|null|undefined>} [extra]  added or overriding parameters; null removes one
   */
  authorizeUrl(extra = {}) {
    this.state = randomBytes(16).toString('base64url');
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: this.clientId,
      redirect_uri: this.redirectUri,
      scope: this.scope,
      state: this.state,
    });
    for (const [k, v] of Object.entries(extra)) {
      if (v === null || v === undefined) params.delete(k);
      else params.set(k, String(v));
    }
    if (params.has('state')) this.state = params.get('state');
    return `${this.authorizationUrl}?${params}`;
  }

  /**
   * Waits for the next redirect to /callback and checks it: `state` must equal
   * the one sent, and `iss` (RFC 9207), when present, must be the issuer.
   * @returns {Promise<URLSearchParams>}
   */
  async waitForCallback(timeoutMs = 15_000) {
    let hit = this._pending.shift();
    if (!hit) {
      hit = await new Promise((resolve, reject) => {
        const waiter = (h) => {
          clearTimeout(timer);
          resolve(h);
        };
        const timer = setTimeout(() => {
          this._waiters = this._waiters.filter((w) => w !== waiter);
          const seen = this.requests.map((r) => `${r.method} ${r.path}?${r.query}`).join(', ') || 'none';
          reject(new Error(`SimulatedGpt: no redirect to ${this.redirectUri} within ${timeoutMs} ms (requests seen: ${seen})`));
        }, timeoutMs);
        this._waiters.push(waiter);
      });
    }
    const q = hit.query;
    const got = q.get('state');
    if (got !== this.state) {
      throw new Error(`SimulatedGpt: state mismatch: sent ${JSON.stringify(this.state)}, callback carried ${JSON.stringify(got)} (query: ${q})`);
    }
    if (q.has('iss') && q.get('iss') !== this.baseUrl) {
      throw new Error(`SimulatedGpt: iss mismatch (RFC 9207): expected ${this.baseUrl}, got ${q.get('iss')}`);
    }
    return q;
  }

  /** How many requests the listener received (any path but /favicon.ico). */
  get requestCount() {
    return this.requests.length;
  }

  async _token(form) {
    const res = await fetch(this.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(form),
    });
    const { text, body } = await readJson(res);
    if (!res.ok || !body) throw new TokenError(res.status, body, text);
    return body;
  }

  /** authorization_code grant, client_secret_post, no code_verifier. */
  async exchange(code) {
    return this._token({
      grant_type: 'authorization_code',
      code,
      redirect_uri: this.redirectUri,
      client_id: this.clientId,
      client_secret: this.clientSecret,
    });
  }

  /** refresh_token grant, client_secret_post. */
  async refresh(refreshToken) {
    return this._token({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: this.clientId,
      client_secret: this.clientSecret,
    });
  }

  /**
   * A call to the server with an optional bearer token.
   * @returns {Promise<{status:number, headers:Headers, body:any, text:string}>}
   */
  async api(method, path, { token, json } = {}) {
    const headers = { accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    if (json !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(new URL(path, this.baseUrl), {
      method,
      headers,
      body: json === undefined ? undefined : JSON.stringify(json),
    });
    const { text, body } = await readJson(res);
    return { status: res.status, headers: res.headers, body, text };
  }

  /** GET /api/notes with the bearer token; throws unless 200 with an array. */
  async listNotes(accessToken) {
    const r = await this.api('GET', '/api/notes', { token: accessToken });
    if (r.status !== 200 || !Array.isArray(r.body)) {
      throw new Error(`GET /api/notes answered ${r.status}: ${r.text.slice(0, 500)}`);
    }
    return r.body;
  }

  /** POST /api/notes; returns status, headers and body whatever the outcome. */
  async createNote(accessToken, note) {
    return this.api('POST', '/api/notes', { token: accessToken, json: note });
  }

  /** GET /oauth2/userinfo with the bearer token. */
  async userinfo(accessToken) {
    return this.api('GET', '/oauth2/userinfo', { token: accessToken });
  }

  async stop() {
    const server = this._server;
    this._server = null;
    if (!server) return;
    server.closeAllConnections?.();
    await new Promise((resolve) => server.close(() => resolve()));
  }
}
