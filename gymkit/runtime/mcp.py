"""A server's tools as MCP tools on ``POST /mcp`` (``expose_tools_over_mcp: true`` in its config).

NeMo Gym v0.5.0's contract, so that its MCP-native agents (``claude_code_agent``) and any MCP
client drive a gymkit server as they drive an upstream one:

* ``/seed_session`` answers with one more key, ``mcp``: ``server_name`` (the instance name),
  ``url_path`` (``/mcp``), ``transport`` (``http``) and ``headers``, which hold the rollout's
  token under :data:`TOKEN_HEADER`. The token is the session's id signed with the session
  cookie's secret (under a name of its own, so a token is never a cookie nor a cookie a token).
* ``/mcp`` is a stateless Streamable-HTTP endpoint answering in JSON, served by the official SDK.
  ``tools/list`` lists each tool under its route's name, with its body model's JSON schema as
  ``inputSchema`` and its docstring as ``description``; the token is not needed for it.
* ``tools/call`` needs the token: the call runs the route's own handler, body validation
  included, on the state of the session the token names. A failure is an ``isError`` result,
  ``HTTP <status> from POST /<tool>: <text>``, with the status and text the HTTP route answers.
* An MCP-native agent records its calls as ``mcp__<server_name>__<tool>``;
  :func:`bare_tool_name` turns them back into the tool's name for ``/verify``.

The SDK is the ``mcp`` extra (``pip install 'gymkit[mcp]'``); only :func:`mount` imports it.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from gymkit.errors import GymkitError, ServerLoadError
from gymkit.runtime.config import find_config
from gymkit.runtime.sessions import SessionCookie

if TYPE_CHECKING:
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

    from gymkit.runtime.server import ToolSpec

__all__ = [
    "INSTALL",
    "METADATA_KEY",
    "PATH",
    "TOKEN_HEADER",
    "ToolCall",
    "bare_tool_name",
    "check_can_serve",
    "mount",
    "seed_metadata",
    "token_signer",
]

TOKEN_HEADER = "X-NeMo-Gym-Session-Token"
METADATA_KEY = "mcp"
PATH = "/mcp"
INSTALL = "pip install 'gymkit[mcp]'"
# What MCP clients accept as a tool name, and what mcp__<server>__<tool> can carry back to verify.
_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]+")

# (tool, JSON body, request, session id) -> (HTTP status, text): the route's answer to that body.
ToolCall = Callable[["ToolSpec", bytes, Request, str], Awaitable[tuple[int, str]]]


def bare_tool_name(name: str, server_name: str) -> str:
    """``get_weather`` for ``mcp__<server_name>__get_weather``; any other name unchanged.

    Only this server's own prefix is taken off, so a tool whose name holds ``__`` survives.
    """
    prefix = f"mcp__{server_name}__"
    return name[len(prefix) :] if name.startswith(prefix) and len(name) > len(prefix) else name


def token_signer(cookie: SessionCookie, secret: bytes) -> SessionCookie:
    """Signs tokens with the cookie's secret; the name in the MAC keeps tokens and cookies apart."""
    return SessionCookie(f"{cookie.name}\0mcp-token", secret)


def seed_metadata(server_name: str, token: str) -> dict[str, Any]:
    """The ``mcp`` value of a /seed_session answer (upstream's ``MCPServerMetadata``)."""
    return {"server_name": server_name, "url_path": PATH, "transport": "http", "headers": {TOKEN_HEADER: token}}


def _config_file(server_cls: type) -> str:
    """The config a server of this class is served from, for errors; its class when that is unknown."""
    try:
        return str(find_config(Path(inspect.getfile(server_cls)).resolve().parent))
    except (TypeError, OSError, GymkitError):
        return f"the config of {server_cls.__name__}"


def check_can_serve(server_cls: type, tools: Mapping[str, ToolSpec]) -> None:
    """Raise :class:`ServerLoadError` (one line) when the SDK is missing or a tool's name cannot be an MCP tool's."""
    where = _config_file(server_cls)
    if importlib.util.find_spec("mcp") is None:
        raise ServerLoadError(
            f"{where}: expose_tools_over_mcp is true, but the MCP SDK is not installed: {INSTALL}",
            hint="or add mcp>=1.28.1,<2 to the server's requirements.txt",
        )
    for name in sorted(tools):
        if not _TOOL_NAME.fullmatch(name):
            raise ServerLoadError(
                f"{server_cls.__name__}.{name}: tool {name!r} cannot be served over MCP (names are "
                f"[A-Za-z0-9_-]+), and {where} sets expose_tools_over_mcp",
                hint="rename the method, or turn expose_tools_over_mcp off",
            )


class _Endpoint:
    """The ASGI app behind /mcp: the SDK's session manager while the app's lifespan runs it."""

    def __init__(self, make: Callable[[], StreamableHTTPSessionManager]) -> None:
        self._make = make
        self.manager: StreamableHTTPSessionManager | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.manager is None:
            # A manager only answers inside its run(); starlette's TestClient without `with` never starts it.
            message = "the MCP endpoint is not running: serve the app with its lifespan on"
            await JSONResponse({"error": message, "route": PATH}, status_code=503)(scope, receive, send)
            return
        await self.manager.handle_request(scope, receive, send)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        # A manager runs once; a new one per lifespan lets one app be served again after a stop.
        manager = self._make()
        async with manager.run():
            self.manager = manager
            try:
                yield
            finally:
                self.manager = None


def _tool_request(request: Request, name: str, body: bytes) -> Request:
    """The request a tool's handler sees: the POST /mcp one's scope, addressed to POST /<tool>, with ``body``."""
    scope = dict(request.scope)
    scope.update(path=f"/{name}", raw_path=f"/{name}".encode(), root_path="", query_string=b"")
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)


def mount(
    app: FastAPI, *, server_name: str, tools: Mapping[str, ToolSpec], signer: SessionCookie, call: ToolCall
) -> None:
    """Serve ``tools`` on ``app``'s ``/mcp`` and run the SDK's session manager in ``app``'s lifespan."""
    import mcp.types as types
    from mcp.server.lowlevel import Server
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
    from mcp.server.transport_security import TransportSecuritySettings

    listed = [
        types.Tool(name=name, description=spec.description or None, inputSchema=spec.request_model.model_json_schema())
        for name, spec in tools.items()
    ]
    sdk: Server[Any, Any] = Server(server_name)

    def failed(text: str) -> types.CallToolResult:
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)], isError=True)

    async def list_tools() -> list[types.Tool]:
        return listed

    async def call_tool(name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        spec = tools.get(name)
        if spec is None:
            # A model's invented name: an answer it can read, as an unknown route is a 404 over HTTP.
            return failed(f"unknown tool {name!r}; the tools are: {', '.join(sorted(tools))}")
        request = sdk.request_context.request
        if not isinstance(request, Request):
            return failed(f"tool {name!r} needs the {TOKEN_HEADER} header, which this transport cannot carry")
        token = request.headers.get(TOKEN_HEADER)
        if not token:
            return failed(
                f"tools/call needs the {TOKEN_HEADER} header: /seed_session's answer carries it under mcp.headers"
            )
        session_id = signer.read(token)
        if session_id is None:
            return failed(f"the {TOKEN_HEADER} header is not a token this server signed; use /seed_session's")
        body = json.dumps(arguments).encode()
        status, text = await call(spec, body, _tool_request(request, name, body), session_id)
        if not 200 <= status < 300:
            return failed(f"HTTP {status} from POST /{name}: {text}")
        try:
            payload = json.loads(text)
        except json.JSONDecodeError:
            payload = None
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=text)],
            structuredContent=payload if isinstance(payload, dict) else None,
            isError=False,
        )

    sdk.list_tools()(list_tools)  # type: ignore[no-untyped-call]  # the SDK leaves this decorator unannotated
    # The route validates the body itself, so a bad argument gets the HTTP route's 422 text.
    sdk.call_tool(validate_input=False)(call_tool)

    def make_manager() -> StreamableHTTPSessionManager:
        return StreamableHTTPSessionManager(
            app=sdk,
            json_response=True,
            stateless=True,
            # Agents reach the server by whatever host name or address the gym resolved it to, so a
            # Host/Origin allowlist would have to list them all; that check protects browsers, which
            # never call this endpoint. Each call is bound by its signed token instead.
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )

    endpoint = _Endpoint(make_manager)
    # /mcp exactly, and anything under it (a client configured with /mcp/), with no redirect between.
    app.router.routes.append(Route(PATH, endpoint, include_in_schema=False))
    app.router.routes.append(Mount(PATH, app=endpoint))
    before: Callable[[Any], AbstractAsyncContextManager[Any]] = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_: Any) -> AsyncIterator[Any]:
        async with endpoint.running(), before(app_) as state:
            yield state

    app.router.lifespan_context = lifespan
