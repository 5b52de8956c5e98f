// 11. Agents that onboard themselves. The official MCP clients (the TypeScript
//     SDK in this process, the Python SDK as a child process) start from the MCP
//     server URL alone: 401 → protected resource metadata → authorization server
//     metadata → a client metadata document served over https on loopback (or
//     dynamic registration) → PKCE with `resource` → login and consent in
//     Chromium → tokens → tools/list and tools/call → refresh → a step-up from a
//     read-only token to write through the server's 403 insufficient_scope.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { auth, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { browserTest, screenshotDesktopAndMobile } from '../lib/browser.mjs';
import { config, E2E_DIR } from '../lib/env.mjs';
import { newUser } from '../lib/users.mjs';
import { approveInBrowser, callbackServer, metadataDocumentServer, TestProvider } from '../lib/agents.mjs';
import { isAt, LoginPage, signUpThroughUi, waitForUrl } from '../pages/index.mjs';

const MCP_URL = new URL(`${config.baseUrl}/mcp`);
const TIMEOUT = 120_000;

async function consentSays(page) {
  await page.waitForFunction(() => [...document.querySelectorAll('img.kh-consent__logo')].every((i) => i.complete), null, { timeout: 10_000 });
  const text = (id) => page.getByTestId(id).innerText();
  return {
    type: await text('consent-client-type'),
    domain: (await page.getByTestId('consent-verified-domain').count()) ? await text('consent-verified-domain') : null,
    local: await page.getByTestId('consent-local-redirect').isVisible(),
    items: await page.getByTestId('consent-item').allInnerTexts(),
    text: await page.getByTestId('consent').innerText(),
    scopes: await page.locator('[data-testid="consent-scope"]').evaluateAll((els) => els.map((e) => e.dataset.scope)),
    logo: await page.locator('img.kh-consent__logo').evaluateAll((els) => els.map((e) => ({ src: e.src, loaded: e.complete && e.naturalWidth > 0 }))),
  };
}

/** connect() the TypeScript SDK way: a 401 makes it ask for authorization. */
async function connectTs(page, provider, redirectUri, inspect) {
  let transport = new StreamableHTTPClientTransport(MCP_URL, { authProvider: provider });
  let client = new Client({ name: 'keyhouse-e2e', version: '1.0.0' });
  await assert.rejects(client.connect(transport), UnauthorizedError, 'the first connect needs authorization');
  const authUrl = provider.authUrls.at(-1);
  assert.equal(authUrl.origin + authUrl.pathname, `${config.baseUrl}/idp`, 'discovered from the server URL alone');
  assert.equal(authUrl.searchParams.get('resource'), MCP_URL.href, 'RFC 8707 resource is the MCP server');
  assert.equal(authUrl.searchParams.get('scope'), 'notes:read', 'the scope from the 401 challenge');
  assert.equal(authUrl.searchParams.get('code_challenge_method'), 'S256');
  const cb = await approveInBrowser(page, authUrl, redirectUri, { state: provider.lastState, inspect });
  await transport.finishAuth(cb.searchParams.get('code'));
  transport = new StreamableHTTPClientTransport(MCP_URL, { authProvider: provider });
  client = new Client({ name: 'keyhouse-e2e', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}

function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

async function typescriptAgent({ page, label, useMetadataDocument }) {
  const cb = await callbackServer();
  const doc = useMetadataDocument ? await metadataDocumentServer(cb.redirectUri) : null;
  const open = [];
  try {
    await signUpThroughUi(page, newUser(label));
    const provider = new TestProvider(cb.redirectUri, doc ? { clientMetadataUrl: doc.url } : {});
    let seen;
    const { client } = await connectTs(page, provider, cb.redirectUri, async (p) => {
      seen = await consentSays(p);
      await screenshotDesktopAndMobile(p, `consent-agent-${label}`);
    });
    open.push(client);
    if (doc) {
      assert.equal(provider.clientInformation().client_id, doc.url, 'the client id is the document URL');
      assert.match(seen.domain, /agent\.test/, 'consent names the domain that publishes the document');
      assert.equal(doc.fetches(), 1, 'the document was fetched once');
      assert.equal(seen.logo.length, 1, 'consent shows the agent\'s logo');
      assert.ok(seen.logo[0].src.startsWith(`${config.baseUrl}/api/idp/logo?`), `the logo comes through Keyhouse: ${seen.logo[0].src}`);
      assert.ok(seen.logo[0].loaded, 'the logo loaded');
      assert.equal(doc.logoFetches(), 1, 'Keyhouse fetched the logo once');
    } else {
      assert.match(provider.clientInformation().client_id, /^dcr-/, 'a dynamically registered client');
      assert.equal(seen.type, 'Self-registered app, unverified');
    }
    assert.ok(seen.local, 'consent warns that the answer goes to this device (a localhost redirect)');
    assert.ok(seen.items.some((i) => i.includes('Notes MCP server')), `consent names the resource: ${seen.items}`);
    assert.ok(seen.text.includes('until you revoke it'), 'consent says access continues until revoked');
    assert.deepEqual(seen.scopes.filter((s) => s !== 'offline_access'), ['notes:read']);

    const tokens = provider.tokens();
    assert.equal(claims(tokens.access_token).aud, MCP_URL.href, 'the token is bound to the MCP server');
    assert.ok(tokens.refresh_token, 'a public agent gets a rotating refresh token');
    const tools = (await client.listTools()).tools.map((t) => t.name).sort();
    assert.deepEqual(tools, ['create_note', 'delete_note', 'list_notes', 'read_note']);
    const listed = await client.callTool({ name: 'list_notes', arguments: {} });
    assert.ok(!listed.isError, JSON.stringify(listed));

    // Refresh: a new access token, a rotated refresh token, same resource.
    const before = provider.tokens();
    assert.equal(await auth(provider, { serverUrl: MCP_URL }), 'AUTHORIZED');
    assert.notEqual(provider.tokens().access_token, before.access_token);
    assert.notEqual(provider.tokens().refresh_token, before.refresh_token, 'refresh tokens rotate');
    assert.equal(claims(provider.tokens().access_token).aud, MCP_URL.href);

    // Step-up. SDK 1.32 refreshes before re-authorizing when it holds a
    // refresh token (the refresh cannot widen the scope, so it then gives
    // up); without one it re-authorizes with the scope of the challenge.
    provider.saveTokens({ ...provider.tokens(), refresh_token: undefined });
    await assert.rejects(
      client.callTool({ name: 'create_note', arguments: { title: 'Written by the TypeScript SDK' } }),
      UnauthorizedError,
    );
    const stepUp = provider.authUrls.at(-1);
    assert.equal(stepUp.searchParams.get('scope'), 'notes:read notes:write', 'the 403 named every scope to ask for');
    const cb2 = await approveInBrowser(page, stepUp, cb.redirectUri, { state: provider.lastState });
    const t2 = new StreamableHTTPClientTransport(MCP_URL, { authProvider: provider });
    await t2.finishAuth(cb2.searchParams.get('code'));
    const c2 = new Client({ name: 'keyhouse-e2e', version: '1.0.0' });
    open.push(c2);
    await c2.connect(t2);
    const created = await c2.callTool({ name: 'create_note', arguments: { title: 'Written by the TypeScript SDK' } });
    assert.ok(!created.isError, JSON.stringify(created));
    // The user sees it in the app.
    const mine = await (await page.request.get(`${config.baseUrl}/api/notes`)).json();
    assert.ok(mine.some((n) => n.title === 'Written by the TypeScript SDK'), JSON.stringify(mine));
  } finally {
    await Promise.all(open.map((c) => c.close().catch(() => {})));
    await doc?.close();
    await cb.close();
  }
}

browserTest('the TypeScript MCP SDK onboards with a client metadata document', async ({ page }) => {
  await typescriptAgent({ page, label: 'ts-cimd', useMetadataDocument: true });
}, { timeout: TIMEOUT });

browserTest('the TypeScript MCP SDK onboards with dynamic registration', async ({ page }) => {
  await typescriptAgent({ page, label: 'ts-dcr', useMetadataDocument: false });
}, { timeout: TIMEOUT });

/** Runs e2e/mcp_client.py, approving in `page` every authorization it asks for. */
async function pythonAgent(page, redirectUri, metadataUrl) {
  const python = path.join(E2E_DIR, '.venv', 'bin', 'python');
  const args = [path.join(E2E_DIR, 'mcp_client.py'), MCP_URL.href, redirectUri];
  if (metadataUrl) args.push(metadataUrl);
  const child = spawn(python, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((r) => child.on('exit', (code) => r(code)));
  let result = null;
  try {
    for await (const line of createInterface({ input: child.stdout })) {
      if (line.startsWith('AUTHORIZE ')) {
        const url = new URL(line.slice('AUTHORIZE '.length));
        const cb = await approveInBrowser(page, url, redirectUri, { state: url.searchParams.get('state') });
        child.stdin.write(`CALLBACK ${cb}\n`);
      } else if (line.startsWith('RESULT ')) {
        result = JSON.parse(line.slice('RESULT '.length));
      } else if (line.startsWith('ERROR ')) {
        throw new Error(`the Python SDK client failed: ${line}\n${stderr.slice(-2000)}`);
      }
    }
  } finally {
    child.stdin.end();
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  const code = await exited;
  assert.equal(code, 0, `mcp_client.py exited ${code}\n${stderr.slice(-2000)}`);
  assert.ok(result, 'mcp_client.py printed its RESULT');
  return result;
}

function checkPython(r) {
  assert.deepEqual(r.tools, ['create_note', 'delete_note', 'list_notes', 'read_note']);
  const first = r.first_scope.split(' ');
  assert.ok(first.includes('notes:read') && !first.includes('notes:write'),
    `the first token is read-only (the scope of the 401 challenge): ${r.first_scope}`);
  assert.equal(r.list_is_error, false);
  assert.equal(r.refreshed, true, 'the SDK refreshed');
  assert.equal(r.create_is_error, false, JSON.stringify(r.created));
  assert.equal(r.created.title, 'Written by the Python SDK');
  assert.equal(r.authorizations, 2, 'one authorization, then one step-up');
  assert.ok(r.auth_scopes[1].split(' ').includes('notes:write'), `step-up scope: ${r.auth_scopes[1]}`);
  assert.ok(r.final_scope.split(' ').includes('notes:write'));
  assert.ok(r.auth_resources.every((x) => x === MCP_URL.href), `resource: ${r.auth_resources}`);
}

browserTest('the Python MCP SDK onboards with a client metadata document', async ({ page }) => {
  const cb = await callbackServer();
  const doc = await metadataDocumentServer(cb.redirectUri, 'Python agent');
  try {
    await signUpThroughUi(page, newUser('py-cimd'));
    const r = await pythonAgent(page, cb.redirectUri, doc.url);
    assert.equal(r.client_id, doc.url);
    checkPython(r);
  } finally {
    await doc.close();
    await cb.close();
  }
}, { timeout: TIMEOUT });

browserTest('the Python MCP SDK onboards with dynamic registration', async ({ page }) => {
  const cb = await callbackServer();
  try {
    await signUpThroughUi(page, newUser('py-dcr'));
    const r = await pythonAgent(page, cb.redirectUri, null);
    assert.match(r.client_id, /^dcr-/);
    checkPython(r);
  } finally {
    await cb.close();
  }
}, { timeout: TIMEOUT });

browserTest('the operator sees where agents came from and blocks a domain, which disconnects its agents', async ({ page, newContext }) => {
  // An agent from agent.test connects.
  const cb = await callbackServer();
  const doc = await metadataDocumentServer(cb.redirectUri, 'Blocked agent');
  const open = [];
  try {
    await signUpThroughUi(page, newUser('blocked'));
    const provider = new TestProvider(cb.redirectUri, { clientMetadataUrl: doc.url });
    const { client } = await connectTs(page, provider, cb.redirectUri);
    open.push(client);
    assert.ok(!(await client.callTool({ name: 'list_notes', arguments: {} })).isError);

    // The operator's list says where it came from.
    const admin = await (await newContext()).newPage();
    await admin.goto('/admin');
    await waitForUrl(admin, isAt(config.baseUrl, '/login'), '/login?returnTo=/admin');
    const login = new LoginPage(admin);
    await login.waitReady();
    await login.login(config.admin);
    await waitForUrl(admin, isAt(config.baseUrl, '/admin'), 'back on /admin');
    const row = admin.locator(`[data-testid="admin-app-row"][data-client-id="${doc.url}"]`);
    await row.waitFor();
    assert.match(await row.getByTestId('admin-app-origin').innerText(), /Metadata document from agent\.test/);
    assert.match(await row.getByTestId('admin-app-use').innerText(), /1 user · last token/);

    // Blocking the domain disconnects the agent at once.
    await admin.getByTestId('admin-block-domain').fill('agent.test');
    await admin.getByTestId('admin-block-submit').click();
    const msg = admin.getByTestId('admin-block-message');
    await msg.waitFor();
    assert.match(await msg.innerText(), /Blocked agent\.test\. \d+ agents? removed/);
    await row.waitFor({ state: 'detached' });
    await screenshotDesktopAndMobile(admin, 'admin-blocked-domains');
    await assert.rejects(client.callTool({ name: 'list_notes', arguments: {} }), 'the agent\'s token is refused at once');
    // And it is let in again.
    await admin.getByRole('button', { name: 'Unblock agent.test' }).click();
    await admin.getByTestId('admin-blocked-empty').waitFor();
  } finally {
    await Promise.all(open.map((c) => c.close().catch(() => {})));
    await doc.close();
    await cb.close();
  }
}, { timeout: TIMEOUT });

browserTest('the operator narrows which agents may connect, then registers and removes a resource', async ({ page, newContext }) => {
  const cb = await callbackServer();
  const doc = await metadataDocumentServer(cb.redirectUri, 'Narrowed agent');
  const open = [];
  try {
    await signUpThroughUi(page, newUser('narrowed'));
    const provider = new TestProvider(cb.redirectUri, { clientMetadataUrl: doc.url });
    const { client } = await connectTs(page, provider, cb.redirectUri);
    open.push(client);
    assert.ok(!(await client.callTool({ name: 'list_notes', arguments: {} })).isError);

    const admin = await (await newContext()).newPage();
    await admin.goto('/admin/agents');
    await waitForUrl(admin, isAt(config.baseUrl, '/login'), '/login?returnTo=/admin/agents');
    const login = new LoginPage(admin);
    await login.waitReady();
    await login.login(config.admin);
    await waitForUrl(admin, isAt(config.baseUrl, '/admin/agents'), 'back on /admin/agents');
    const source = admin.getByTestId('admin-policy-source');
    await source.getByText('From the server\'s configuration.').waitFor();

    // Only claude.ai from now on: the agent from agent.test is cut off at once.
    await admin.getByTestId('admin-policy-allowed').fill('claude.ai\n*.vscode.dev');
    await admin.getByTestId('admin-policy-save').click();
    const msg = admin.getByTestId('admin-policy-message');
    await msg.waitFor();
    assert.match(await msg.innerText(), /1 agent is no longer accepted/);
    await source.getByText('Set here; it overrides the server\'s configuration.').waitFor();
    await assert.rejects(client.callTool({ name: 'list_notes', arguments: {} }), 'the agent\'s token is refused at once');
    const meta = await (await fetch(`${config.baseUrl}/.well-known/oauth-authorization-server`)).json();
    assert.equal(meta.client_id_metadata_document_supported, true);

    // A resource registered here is served and can be asked for.
    const files = `${config.baseUrl}/files`;
    await admin.getByTestId('admin-resource-uri').fill(files);
    await admin.getByTestId('admin-resource-name').fill('Files API');
    await admin.getByTestId('admin-resource-scopes').fill('notes:read notes:write');
    await admin.getByTestId('admin-resource-defaults').fill('notes:read');
    await admin.getByTestId('admin-resource-submit').click();
    const row = admin.locator(`[data-testid="admin-resource-row"][data-uri="${files}"]`);
    await row.waitFor();
    assert.equal(await row.getByTestId('admin-resource-source').innerText(), 'Registered here');
    const prm = await fetch(`${config.baseUrl}/.well-known/oauth-protected-resource/files`);
    assert.equal(prm.status, 200);
    assert.deepEqual((await prm.json()).scopes_supported, ['notes:read', 'notes:write']);
    await screenshotDesktopAndMobile(admin, 'admin-agents-resources');

    await row.getByTestId('admin-resource-remove').click();
    await row.waitFor({ state: 'detached' });
    assert.equal((await fetch(`${config.baseUrl}/.well-known/oauth-protected-resource/files`)).status, 404);

    // Back to the configuration.
    await admin.getByTestId('admin-policy-reset').click();
    await source.getByText('From the server\'s configuration.').waitFor();
    assert.match(await msg.innerText(), /configuration's policy applies again/);
  } finally {
    await Promise.all(open.map((c) => c.close().catch(() => {})));
    await doc.close();
    await cb.close();
  }
}, { timeout: TIMEOUT });

browserTest('the operator blocks one agent from its page, which disconnects it, and lets it in again', async ({ page, newContext }) => {
  const cb = await callbackServer();
  const doc = await metadataDocumentServer(cb.redirectUri, 'Single agent');
  const open = [];
  try {
    await signUpThroughUi(page, newUser('single'));
    const provider = new TestProvider(cb.redirectUri, { clientMetadataUrl: doc.url });
    const { client } = await connectTs(page, provider, cb.redirectUri);
    open.push(client);
    assert.ok(!(await client.callTool({ name: 'list_notes', arguments: {} })).isError);

    const admin = await (await newContext()).newPage();
    const detail = `/admin/apps/${encodeURIComponent(doc.url)}`;
    await admin.goto(detail);
    await waitForUrl(admin, isAt(config.baseUrl, '/login'), 'to /login');
    const login = new LoginPage(admin);
    await login.waitReady();
    await login.login(config.admin);
    await admin.getByRole('heading', { name: 'Block this agent' }).waitFor();
    await admin.getByTestId('app-delete').click();
    await admin.getByText('Block “Single agent”?').waitFor();
    await screenshotDesktopAndMobile(admin, 'admin-block-agent');
    await admin.getByTestId('app-delete-confirm').click();
    await waitForUrl(admin, isAt(config.baseUrl, '/admin'), 'back on /admin');
    const blocked = admin.getByTestId('admin-blocked-client');
    await blocked.waitFor();
    assert.equal(await blocked.locator('code').innerText(), doc.url);
    await assert.rejects(client.callTool({ name: 'list_notes', arguments: {} }), 'the agent\'s token is refused at once');
    await admin.getByRole('button', { name: `Unblock ${doc.url}` }).click();
    await blocked.waitFor({ state: 'detached' });
  } finally {
    await Promise.all(open.map((c) => c.close().catch(() => {})));
    await doc.close();
    await cb.close();
  }
}, { timeout: TIMEOUT });
