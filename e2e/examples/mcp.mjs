// What every example's spec checks for agents: the official TypeScript MCP
// SDK starts from `{app}/mcp` alone, registers itself (dynamic
// registration), sends the signed-in user through the app's /idp, and calls
// the `greet` tool with a token bound to the MCP server.
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { screenshot } from '../lib/browser.mjs';
import { config } from '../lib/env.mjs';
import { approveInBrowser, callbackServer, TestProvider } from '../lib/agents.mjs';

/** Connects the SDK in `page` (whose user is signed in) and greets. */
export async function connectMcpAgent(page, { name }) {
  const mcpUrl = new URL(`${config.baseUrl}/mcp`);
  const cb = await callbackServer();
  let client = null;
  try {
    const provider = new TestProvider(cb.redirectUri);
    const first = new Client({ name: 'keyhouse-example-e2e', version: '1.0.0' });
    await assert.rejects(
      first.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider })),
      UnauthorizedError,
      'the first connect needs authorization',
    );
    const authUrl = provider.authUrls.at(-1);
    assert.equal(authUrl.origin + authUrl.pathname, `${config.baseUrl}/idp`, 'discovered from the MCP URL alone');
    assert.equal(authUrl.searchParams.get('resource'), mcpUrl.href, 'RFC 8707 resource is the MCP server');
    assert.match(provider.clientInformation().client_id, /^dcr-/, 'the agent registered itself');
    const back = await approveInBrowser(page, authUrl, cb.redirectUri, {
      state: provider.lastState,
      inspect: (p) => screenshot(p, `${process.env.E2E_EXAMPLE}-consent-agent`),
    });
    const transport = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
    await transport.finishAuth(back.searchParams.get('code'));
    client = new Client({ name: 'keyhouse-example-e2e', version: '1.0.0' });
    await client.connect(transport);
    const tools = (await client.listTools()).tools.map((t) => t.name);
    assert.deepEqual(tools, ['greet']);
    const greeted = await client.callTool({ name: 'greet', arguments: {} });
    assert.ok(!greeted.isError, JSON.stringify(greeted));
    assert.equal(greeted.content[0].text, `Hello, ${name}!`);
    // A token for the MCP server is not one for the app's API (RFC 8707).
    const res = await fetch(`${config.baseUrl}/api/greeting`, {
      headers: { authorization: `Bearer ${provider.tokens().access_token}` },
    });
    assert.equal(res.status, 401, 'an MCP-bound token is refused by the app API');
  } finally {
    await client?.close().catch(() => {});
    await cb.close();
  }
}
