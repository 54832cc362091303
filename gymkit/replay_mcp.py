"""Replaying a rollout's tool calls over MCP, for a server that serves its tools only there.

NeMo Gym's MCPResourcesServer (``@gym_tool`` methods, example_mcp_weather) has no HTTP route per
tool: its ``/seed_session`` answers with an ``mcp`` block (``url_path`` and a header carrying a
signed session token), and the tools are called over Streamable HTTP with that header, in the
session whose state verify then reads. The official SDK client makes the calls.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

__all__ = ["call_over_mcp", "mcp_endpoint", "replay_over_mcp"]


def mcp_endpoint(seed_reply: object) -> tuple[str, dict[str, str]] | None:
    """(url path, headers) from a /seed_session answer's ``mcp`` block; None when it has none."""
    block = seed_reply.get("mcp") if isinstance(seed_reply, dict) else None
    if not isinstance(block, dict):
        return None
    path, headers = block.get("url_path", "/mcp"), block.get("headers")
    if not isinstance(path, str) or not path.startswith("/") or not isinstance(headers, dict):
        return None
    return path, {str(k): str(v) for k, v in headers.items()}


async def call_over_mcp(
    url: str, headers: dict[str, str], calls: list[tuple[str, dict[str, Any]]], timeout: float
) -> str | None:
    """Call each tool in order over MCP at ``url``; None, or why the replay could not be made."""
    try:
        from mcp import ClientSession, McpError
        from mcp.client.streamable_http import streamable_http_client
    except ImportError:
        return "the server serves its tools over MCP only; replaying them needs gymkit's mcp extra (gymkit[mcp])"

    async def run() -> None:
        # Loopback: a proxy named in the environment must not carry these calls.
        async with (
            httpx.AsyncClient(headers=headers, timeout=timeout, trust_env=False) as http,
            streamable_http_client(url, http_client=http) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            for name, arguments in calls:
                # A tool's error is part of the rollout as it ran: the replay goes on, as the agent did.
                await session.call_tool(name, arguments)

    try:
        await asyncio.wait_for(run(), timeout * (len(calls) + 1))
    except TimeoutError:
        return f"replaying the rollout's tool calls over MCP did not answer within {timeout:g}s a call"
    except (McpError, httpx.HTTPError, OSError, RuntimeError, ExceptionGroup) as exc:
        return f"replaying the rollout's tool calls over MCP failed: {type(exc).__name__}: {exc}"
    return None


def replay_over_mcp(
    url: str, headers: dict[str, str], calls: list[tuple[str, dict[str, Any]]], timeout: float
) -> str | None:
    """:func:`call_over_mcp` from synchronous code."""
    return asyncio.run(call_over_mcp(url, headers, calls, timeout))
