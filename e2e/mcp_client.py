"""An MCP client built on the official Python SDK (`mcp`), driven by the e2e
spec 11-mcp-agents.spec.mjs over its standard input and output.

    python mcp_client.py MCP_URL REDIRECT_URI [CLIENT_METADATA_URL]

It starts from the MCP server URL alone. Whenever the SDK wants the user to
authorize, it prints `AUTHORIZE <url>` and waits for `CALLBACK <url>` on its
standard input (the spec drives Chromium through login and consent). It then
lists the tools, reads the notes, forces a refresh, and creates a note, which
needs a scope the first token does not have: the server's 403 makes the SDK
ask again (a step-up). It prints `RESULT <json>` at the end, `ERROR <text>` on
failure (exit 1).
"""

import json
import sys
import time
from urllib.parse import parse_qs, urlparse

import anyio
import httpx2
from pydantic import AnyUrl

from mcp import ClientSession
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata


def say(kind: str, payload: str) -> None:
    print(f"{kind} {payload}", flush=True)


class Memory:
    def __init__(self):
        self.tokens = None
        self.client_info = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, info):
        self.client_info = info


class Browser:
    """Hands each authorization URL to the spec and reads back the callback."""

    def __init__(self):
        self.auth_urls = []
        self.callback = None

    async def redirect_handler(self, url: str) -> None:
        self.auth_urls.append(url)
        say("AUTHORIZE", url)
        line = await anyio.to_thread.run_sync(sys.stdin.readline)
        if not line.startswith("CALLBACK "):
            raise RuntimeError(f"expected CALLBACK, got {line!r}")
        self.callback = line[len("CALLBACK "):].strip()

    async def callback_handler(self) -> AuthorizationCodeResult:
        q = parse_qs(urlparse(self.callback).query)
        return AuthorizationCodeResult(
            code=q["code"][0], state=q.get("state", [None])[0], iss=q.get("iss", [None])[0]
        )


def text_of(result) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


async def main(mcp_url: str, redirect_uri: str, metadata_url: str | None) -> dict:
    browser = Browser()
    storage = Memory()
    provider = OAuthClientProvider(
        server_url=mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name="Notes agent (Python SDK)",
            redirect_uris=[AnyUrl(redirect_uri)],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=browser.redirect_handler,
        callback_handler=browser.callback_handler,
        client_metadata_url=metadata_url,
    )
    out = {}
    with anyio.fail_after(150):
        async with httpx2.AsyncClient(auth=provider, timeout=httpx2.Timeout(30.0, read=300.0)) as http:
            async with streamable_http_client(mcp_url, http_client=http) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    out["client_id"] = storage.client_info.client_id
                    out["first_scope"] = storage.tokens.scope
                    out["tools"] = sorted(t.name for t in (await session.list_tools()).tools)
                    listed = await session.call_tool("list_notes", {})
                    out["list_is_error"] = bool(listed.is_error)
                    # A refresh, forced by moving the SDK's own expiry back.
                    before = storage.tokens.access_token
                    provider.context.token_expiry_time = time.time() - 1
                    await session.list_tools()
                    out["refreshed"] = storage.tokens.access_token != before
                    # A write: 403 insufficient_scope, the SDK steps up.
                    created = await session.call_tool(
                        "create_note", {"title": "Written by the Python SDK", "body": "step-up"}
                    )
                    out["create_is_error"] = bool(created.is_error)
                    out["created"] = json.loads(text_of(created)) if not created.is_error else text_of(created)
                    out["final_scope"] = storage.tokens.scope
                    out["authorizations"] = len(browser.auth_urls)
                    out["auth_scopes"] = [
                        parse_qs(urlparse(u).query).get("scope", [""])[0] for u in browser.auth_urls
                    ]
                    out["auth_resources"] = [
                        parse_qs(urlparse(u).query).get("resource", [""])[0] for u in browser.auth_urls
                    ]
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) not in (2, 3):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        result = anyio.run(main, args[0], args[1], args[2] if len(args) == 3 else None)
    except BaseException as e:  # noqa: BLE001 - reported to the spec, which fails
        detail = e
        while isinstance(detail, BaseExceptionGroup) and detail.exceptions:
            detail = detail.exceptions[0]
        say("ERROR", f"{type(detail).__name__}: {detail}")
        sys.exit(1)
    say("RESULT", json.dumps(result))
