"""`kb mcp`: the MCP server for clients that only start a process and speak over its stdin and stdout.
It answers them by asking a running service's `/mcp` endpoint with a key from the environment, so the
service's keys, limits and records apply as they do over HTTP."""

import os
from typing import Any

import httpx2
import mcp_types as types
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

URL_VARIABLE, KEY_VARIABLE = "KB_MCP_URL", "KB_API_KEY"
DEFAULT_URL = "http://127.0.0.1:5001/mcp"
TIMEOUT_SECONDS = 120


def settings_from_environment() -> tuple[str, str]:
    """The service's MCP URL and the key, or a plain error naming the variable to set."""
    key = os.environ.get(KEY_VARIABLE, "").strip()
    if not key:
        raise SystemExit(f"kb mcp needs an API key in {KEY_VARIABLE} (make one with kb keys create).")
    return os.environ.get(URL_VARIABLE, DEFAULT_URL), key


async def serve_stdio(url: str, key: str) -> None:
    """Relays tool listings and calls from stdin to the service until the client closes stdin."""
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=TIMEOUT_SECONDS) as http,
        streamable_http_client(url, http_client=http) as streams,
        ClientSession(streams[0], streams[1]) as upstream,
    ):
        started = await upstream.initialize()

        async def list_tools(_ctx: Any, _params: Any) -> types.ListToolsResult:
            return await upstream.list_tools()

        async def call_tool(_ctx: Any, params: types.CallToolRequestParams) -> Any:
            return await upstream.call_tool(params.name, params.arguments or {})

        relay = Server(
            started.server_info.name,
            instructions=started.instructions,
            on_list_tools=list_tools,
            on_call_tool=call_tool,
        )
        async with stdio_server() as (read, write):
            await relay.run(read, write, relay.create_initialization_options())
