// What the MCP spec needs around the official SDK clients: an https server on
// loopback that publishes a client metadata document for `agent.test` (with the
// run's test CA), a loopback callback server for the clients' redirect URI, an
// OAuthClientProvider for the TypeScript SDK that hands the authorization URL
// to the test, and the browser steps of one authorization.

import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import assert from 'node:assert/strict';
import { config } from './env.mjs';
import { ConsentPage } from '../pages/index.mjs';

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

/** A loopback page for the clients' redirect URI (the browser lands there). */
export async function callbackServer() {
  const server = createHttpServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('You can close this window.');
  });
  const port = await listen(server);
  return {
    redirectUri: `http://127.0.0.1:${port}/callback`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/**
 * Publishes `https://agent.test:<port>/client.json` for `redirectUri`.
 * @returns {Promise<{url: string, fetches: () => number, close: () => Promise<void>}>}
 */
/** CRC-32 of a PNG chunk (type and data). */
function crc32(buf) {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k += 1) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** A 64×64 PNG: a teal disc with a white ring, the agent's logo. */
export function agentLogoPng() {
  const size = 64;
  const rows = [];
  for (let y = 0; y < size; y += 1) {
    const row = Buffer.alloc(1 + size * 4);
    for (let x = 0; x < size; x += 1) {
      const d = Math.hypot(x - 31.5, y - 31.5);
      const [r, g, b, a] = d > 31 ? [0, 0, 0, 0] : (d > 16 && d < 22) ? [255, 255, 255, 255] : [13, 148, 136, 255];
      row.set([r, g, b, a], 1 + x * 4);
    }
    rows.push(row);
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export async function metadataDocumentServer(redirectUri, name = 'Research agent') {
  const agents = config.agents;
  if (!agents) throw new Error('e2e: the config has no "agents" (run through run.mjs)');
  let fetches = 0;
  let logoFetches = 0;
  let origin = '';
  const server = createHttpsServer(
    { cert: readFileSync(agents.cert), key: readFileSync(agents.key) },
    (req, res) => {
      if (req.url === '/logo.png') {
        logoFetches += 1;
        res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'max-age=300' });
        res.end(agentLogoPng());
        return;
      }
      // /client.json, and /<name>.json for as many distinct clients as
      // the benchmark wants (each its own client id).
      if (!/^\/[A-Za-z0-9_-]+\.json$/.test(req.url)) {
        res.writeHead(404).end();
        return;
      }
      fetches += 1;
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
      res.end(JSON.stringify({
        client_id: `${origin}${req.url}`,
        client_name: name,
        client_uri: `https://${agents.host}/`,
        logo_uri: `${origin}/logo.png`,
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      }));
    },
  );
  const port = await listen(server);
  origin = `https://${agents.host}:${port}`;
  const url = `${origin}/client.json`;
  return { url, origin, fetches: () => fetches, logoFetches: () => logoFetches, close: () => new Promise((r) => server.close(() => r())) };
}

/**
 * The TypeScript SDK's OAuthClientProvider, keeping everything in memory and
 * remembering the authorization URL instead of opening it: the test opens it.
 */
export class TestProvider {
  constructor(redirectUri, { clientMetadataUrl } = {}) {
    this._redirect = redirectUri;
    if (clientMetadataUrl) this.clientMetadataUrl = clientMetadataUrl;
    this.authUrls = [];
    this.lastState = null;
  }
  get redirectUrl() { return this._redirect; }
  get clientMetadata() {
    return {
      client_name: 'Notes agent (TypeScript SDK)',
      redirect_uris: [this._redirect],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() { this.lastState = randomUUID(); return this.lastState; }
  clientInformation() { return this._client; }
  saveClientInformation(info) { this._client = info; }
  tokens() { return this._tokens; }
  saveTokens(tokens) { this._tokens = tokens; }
  redirectToAuthorization(url) { this.authUrls.push(new URL(url)); }
  saveCodeVerifier(v) { this._verifier = v; }
  codeVerifier() { return this._verifier; }
  invalidateCredentials(scope) {
    if (scope === 'all' || scope === 'client') this._client = undefined;
    if (scope === 'all' || scope === 'tokens') this._tokens = undefined;
    if (scope === 'all' || scope === 'verifier') this._verifier = undefined;
  }
}

/**
 * Opens `authUrl` in `page` (already signed in), checks what consent says
 * through `inspect`, approves, and returns the callback's query, after
 * checking `iss` (RFC 9207) and, when given, `state`.
 */
export async function approveInBrowser(page, authUrl, redirectUri, { state, inspect } = {}) {
  const landed = page.waitForRequest((r) => r.url().startsWith(redirectUri), { timeout: 30_000 });
  landed.catch(() => {});
  await page.goto(String(authUrl));
  const consent = new ConsentPage(page);
  await consent.waitForConsent();
  if (inspect) await inspect(page, consent);
  await consent.approveButton.click();
  const cb = new URL((await landed).url());
  // Let the callback page finish loading: the client may ask for the next
  // authorization at once, and a navigation still under way would cut the
  // next page.goto short.
  await page.waitForURL((u) => String(u).startsWith(redirectUri), { timeout: 30_000 });
  assert.equal(cb.searchParams.get('iss'), config.baseUrl, 'the authorization response names the issuer (RFC 9207)');
  if (state !== undefined) assert.equal(cb.searchParams.get('state'), state, 'state comes back unchanged');
  assert.ok(cb.searchParams.get('code'), `a code in ${cb}`);
  return cb;
}
