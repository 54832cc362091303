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
* A server may narrow one rollout's token to some tools (upstream's
  ``mcp_allowed_tools_for_session(seed_body)``): the names are signed into the token
  (:class:`TokenSigner`), its ``tools/list`` lists only them and its ``tools/call`` of another fails.
* An MCP-native agent records its calls as ``mcp__<server_name>__<tool>``;
  :func:`bare_tool_name` turns them back into the tool's name for ``/verify``.

The SDK is the ``mcp`` extra (``pip install 'gymkit[mcp]'``); only :func:`mount` imports it.
"""

from __future__ import annotations

import base64
import hmac
import importlib.util
import inspect
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.lowlevel
import pydantic_core
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import Message, Receive, Scope, Send

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
    "TokenSigner",
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
# A session id, a MAC, and an allow-list of tool names: far below this unless a server allows hundreds.
_MAX_TOKEN_LENGTH = 16384
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


class TokenSigner:
    """Mints and reads a rollout's token: its session id and, when the server narrows them, its tools.

    ``{session id}.{mac}`` for a session that may call every tool, ``{session id}.{tools}.{mac}`` with
    the allowed names (base64url JSON) for one that may not. The MAC covers both, keyed with the
    cookie's secret under a name of its own: the narrowing travels in the token, as upstream's does,
    so it holds for a session this process no longer keeps, and cannot be widened by the client.
    """

    def __init__(self, cookie: SessionCookie, secret: bytes) -> None:
        self._signer = SessionCookie(f"{cookie.name}\0mcp-token", secret)

    def value(self, session_id: str, tools: Iterable[str] | None = None) -> str:
        """The token; ValueError when the allowed names make it longer than :meth:`read` takes."""
        claim = session_id
        if tools is not None:
            names = json.dumps(sorted(set(tools)), separators=(",", ":")).encode()
            claim += "." + base64.urlsafe_b64encode(names).rstrip(b"=").decode()
        token = f"{claim}.{self._signer.mac(claim)}"
        if len(token) > _MAX_TOKEN_LENGTH:
            raise ValueError(
                f"the tools this rollout may call make an MCP token of {len(token):,} characters, over the"
                f" {_MAX_TOKEN_LENGTH:,} a token may have: allow fewer, or None for every tool"
            )
        return token

    def read(self, token: object) -> tuple[str, frozenset[str] | None] | None:
        """(session id, the tools it may call or None for all) of a token this server minted; else None."""
        if not isinstance(token, str) or len(token) > _MAX_TOKEN_LENGTH:
            return None
        claim, dot, mac = token.rpartition(".")
        if not dot or not hmac.compare_digest(mac.encode("utf-8", "replace"), self._signer.mac(claim).encode()):
            return None
        session_id, _, names = claim.partition(".")
        if not names:
            return session_id, None
        allowed = json.loads(base64.urlsafe_b64decode(names + "=" * (-len(names) % 4)))
        return session_id, frozenset(allowed)


def token_signer(cookie: SessionCookie, secret: bytes) -> TokenSigner:
    """Signs tokens with the cookie's secret; the name in the MAC keeps tokens and cookies apart."""
    return TokenSigner(cookie, secret)


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


# Where a lifespan's session manager rides in its lifespan state, which the server copies into
# each request's scope: a request reaches the manager of the listener that accepted it.
_STATE_KEY = "gymkit.mcp.session_manager"
# How much of a body is read ahead to check its nesting when the SDK does not say its own limit.
_READ_AHEAD = 4 << 20
_PARSE_ERROR = -32700
_INVALID_REQUEST = -32600


def _rpc_error(status: int, code: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """An answer to no request in particular, shaped as the SDK's own (JSON-RPC, ``id`` null)."""
    error = {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}
    return JSONResponse(error, status_code=status, headers=headers)


def _nesting_error(body: bytes) -> str | None:
    """Why ``body`` is nested too deep to parse, or None.

    The SDK parses with the standard library, which recurses once a level: a body nested deep
    enough is a RecursionError inside it, a 500 and a logged traceback. pydantic_core stops at a
    depth limit instead (the one the HTTP routes validate bodies with).
    """
    try:
        pydantic_core.from_json(body)
    except ValueError as exc:
        if "recursion limit" in str(exc):
            return f"Parse error: the JSON is nested too deep ({exc})"
    return None


def _replaying(first: Message, then: Receive) -> Receive:
    """A receive that hands out ``first`` (a body already read), then is ``then``.

    After its body, all a request has left to tell is whether its client went away, and only
    the connection knows that: ``then`` blocks until the client disconnects, as a live
    request's receive does, so Request.is_disconnected() answers False while it is there.
    """
    pending: Message | None = first

    async def receive() -> Message:
        nonlocal pending
        if pending is None:
            return await then()
        # is_disconnected() polls receive in a cancelled scope and drops what it got: leaving
        # here first keeps the body for a later request.body(), as a route's cached body stays.
        await anyio.lowlevel.checkpoint_if_cancelled()
        message, pending = pending, None
        return message

    return receive


class _Endpoint:
    """The ASGI app behind /mcp: the SDK's session manager of the lifespan serving the request."""

    def __init__(self, make: Callable[[], StreamableHTTPSessionManager]) -> None:
        self._make = make

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            # Stateless JSON mode has no stream to offer: an SDK GET stream stays open until the
            # server stops (which then waits for it), and the spec lets a server answer GET 405.
            message = f"Method Not Allowed: {PATH} answers POST only; this server offers no SSE stream"
            await _rpc_error(405, _INVALID_REQUEST, message, {"Allow": "POST"})(scope, receive, send)
            return
        manager = scope.get("state", {}).get(_STATE_KEY)
        if manager is None:
            # A manager only answers inside its run(); starlette's TestClient without `with` never starts it.
            message = "the MCP endpoint is not running: serve the app with its lifespan on"
            await JSONResponse({"error": message, "route": PATH}, status_code=503)(scope, receive, send)
            return
        checked = await self._checked(manager, scope, receive, send)
        if checked is not None:
            await manager.handle_request(scope, checked, send)

    @staticmethod
    async def _checked(manager: Any, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """The request's receive with its body read ahead and checked; None once it is answered (or gone)."""
        limit = int(getattr(manager, "max_request_body_size", _READ_AHEAD))
        chunks: list[bytes] = []
        size, complete = 0, False
        while size <= limit and not complete:
            message = await receive()
            if message["type"] != "http.request":
                return None  # the client left before its body was in: no one to answer
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            complete = not message.get("more_body", False)
        body = b"".join(chunks)
        # A body over the SDK's limit goes on unparsed: the SDK answers it 413 without parsing it.
        error = _nesting_error(body) if complete else None
        if error is not None:
            await _rpc_error(400, _PARSE_ERROR, error)(scope, receive, send)
            return None
        return _replaying({"type": "http.request", "body": body, "more_body": not complete}, receive)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[dict[str, Any]]:
        """Run a new manager (one runs once) for one lifespan; the state to merge into the lifespan's."""
        manager = self._make()
        async with manager.run():
            yield {_STATE_KEY: manager}


def _tool_request(request: Request, name: str, body: bytes) -> Request:
    """The request a tool's handler sees: the POST /mcp one's scope, addressed to POST /<tool>, with ``body``."""
    scope = dict(request.scope)
    # A handler reads the URL as over HTTP (its route's path, no /mcp query), so one that logs
    # or keys on request.url.path does the same whichever way the tool was called. Under /mcp/
    # the mount has put /mcp into root_path; the app's own prefix (a proxy's) stays in both.
    root = scope.get("app_root_path", scope.get("root_path", ""))
    path = f"{root}/{name}"
    scope.update(path=path, raw_path=path.encode(), root_path=root, query_string=b"")
    return Request(scope, _replaying({"type": "http.request", "body": body, "more_body": False}, request.receive))


def mount(
    app: FastAPI, *, server_name: str, tools: Mapping[str, ToolSpec], signer: TokenSigner, call: ToolCall
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
        # A narrowed token lists only its tools; without a token (or with a forged one) every tool is listed.
        request = sdk.request_context.request
        claims = signer.read(request.headers.get(TOKEN_HEADER)) if isinstance(request, Request) else None
        allowed = claims[1] if claims else None
        return listed if allowed is None else [tool for tool in listed if tool.name in allowed]

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
        claims = signer.read(token)
        if claims is None:
            return failed(f"the {TOKEN_HEADER} header is not a token this server signed; use /seed_session's")
        session_id, allowed = claims
        if allowed is not None and name not in allowed:
            return failed(f"tool {name!r} is not one this rollout may call; it may call: {', '.join(sorted(allowed))}")
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
        async with endpoint.running() as ours, before(app_) as state:
            yield {**(state or {}), **ours}

    app.router.lifespan_context = lifespan
