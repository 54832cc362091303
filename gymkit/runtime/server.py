"""The resource-server runtime: a base class whose typed async methods become HTTP routes.

A contributor subclasses :class:`BaseResourcesServer`, writes ``async def tool(self, body:
ToolRequest) -> ToolResponse`` methods and ``async def verify(self, body: MyVerifyRequest)``,
and the runtime serves them the way NeMo Gym does: ``POST /<tool>``, ``POST /seed_session``,
``POST /verify``, ``GET /``, with per-rollout state behind a signed session cookie.

Clients may call as tools only the names ``GET /`` lists under ``tools``; the reserved
routes (:data:`RESERVED_ROUTES`) are never tools, and a method named like one is refused.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ClassVar, get_type_hints

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from gymkit.errors import ServerLoadError
from gymkit.runtime import mcp
from gymkit.runtime.aggregate import aggregate_metrics
from gymkit.runtime.config import ResourcesServerConfig
from gymkit.runtime.sessions import (
    MAX_ANONYMOUS_SESSIONS,
    MAX_SESSIONS,
    SESSION_ID_KEY,
    SESSION_MAX_AGE,
    Session,
    SessionCookie,
    SessionStore,
    session_secret,
)
from gymkit.runtime.wire import (
    BaseSeedSessionRequest,
    BaseSeedSessionResponse,
    BaseVerifyRequest,
    BaseVerifyResponse,
    FunctionCallItem,
    function_calls,
    reward_problem,
)

__all__ = [
    "MAX_ANONYMOUS_SESSIONS",
    "MAX_SESSIONS",
    "RESERVED_ROUTES",
    "SESSION_ID_KEY",
    "BaseResourcesServer",
    "ToolSpec",
]

log = logging.getLogger("gymkit.runtime.server")

RESERVED_ROUTES = frozenset({"verify", "seed_session", "aggregate_metrics", "mcp", "reverify_mode"})
# Reserved names a subclass overrides on purpose (upstream's hooks); none of them is a tool.
_HOOKS = frozenset({"seed_session", "verify", "aggregate_metrics"})

_current_session: ContextVar[dict[str, Any] | None] = ContextVar("gymkit_session", default=None)


@dataclass(frozen=True)
class _Params:
    """How a handler takes its arguments: the body's parameter and model, and ``request``'s."""

    body: str
    model: type[BaseModel] | None
    request: str | None


@dataclass(frozen=True)
class ToolSpec:
    name: str
    method: Callable[..., Awaitable[Any]]
    request_model: type[BaseModel]
    response_model: type[BaseModel] | None
    params: _Params
    description: str


def _params(func: Callable[..., Any]) -> _Params:
    """The handler's body parameter (the first typed as a pydantic model) and its ``request`` parameter."""
    try:
        hints = get_type_hints(func)
    except Exception:  # noqa: BLE001 - unresolved annotations mean "no model", not a crash
        hints = {}
    names = list(inspect.signature(func).parameters)[1:]
    request = next((n for n in names if hints.get(n) is Request or n == "request"), None)
    others = [n for n in names if n != request]
    models = [n for n in others if inspect.isclass(hints.get(n)) and issubclass(hints[n], BaseModel)]
    if models:
        return _Params(models[0], hints[models[0]], request)
    return _Params(others[0] if others else "body", None, request)


class _AggregateMetricsRequest(BaseModel):
    verify_responses: list[dict[str, Any]]


class BaseResourcesServer:
    """Subclass this. Public ``async def`` methods taking a pydantic model are tools.

    ``self.session`` is a dict private to the current rollout: fill it in
    :meth:`seed_session`, read and change it in tools, read it in :meth:`verify`.
    """

    # NeMo Gym's reverify protocol: "stateless" means verify depends only on its body.
    reverify_mode: ClassVar[str] = "stateless"
    # How many sessions to keep: seeded ones (one per open rollout) and anonymous ones (tool
    # calls that came without a seeded cookie). Set on a subclass or an instance before
    # the first request; ``self.sessions`` counts what each bound evicted.
    max_sessions: int = MAX_SESSIONS
    max_anonymous_sessions: int = MAX_ANONYMOUS_SESSIONS

    def __init__(self, config: ResourcesServerConfig | None = None, *, name: str | None = None) -> None:
        self.config = config
        self.name = name or type(self).__name__
        self._store: SessionStore | None = None
        self._local_session: dict[str, Any] = {}
        self._app: FastAPI | None = None

    # -- what contributors override -------------------------------------------------
    async def seed_session(self, body: BaseSeedSessionRequest) -> BaseSeedSessionResponse:
        return BaseSeedSessionResponse()

    async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse:
        raise NotImplementedError(f"{type(self).__name__} does not implement verify()")

    def mcp_allowed_tools_for_session(self, seed_body: dict[str, Any]) -> list[str] | None:
        """With ``expose_tools_over_mcp``: the tools this rollout's MCP token may list and call; None for all.

        ``seed_body`` is the JSON body its /seed_session was sent (upstream's hook of the same name). The
        names are signed into the token; the HTTP routes are not narrowed, as upstream's are not.
        """
        return None

    def _allowed_tools(self, raw: bytes) -> list[str] | None:
        """The hook's answer for a seed body, checked: a list of this server's tool names, or None."""
        try:
            allowed = self.mcp_allowed_tools_for_session(json.loads(raw or b"{}"))
        except Exception as exc:
            log.exception("mcp_allowed_tools_for_session raised")
            raise _RouteError(500, f"mcp_allowed_tools_for_session raised {type(exc).__name__}: {exc}") from exc
        if allowed is None:
            return None
        if not isinstance(allowed, (list, tuple, set, frozenset)) or not all(isinstance(n, str) for n in allowed):
            raise _RouteError(500, f"mcp_allowed_tools_for_session must return tool names or None, not {allowed!r:.80}")
        unknown = sorted(set(allowed) - _tool_names(type(self)))
        if unknown:
            raise _RouteError(500, f"mcp_allowed_tools_for_session named tools this server does not serve: {unknown}")
        return list(allowed)

    # -- session state ----------------------------------------------------------------
    @property
    def session(self) -> dict[str, Any]:
        """State of the rollout being served; outside a request (unit tests) a local dict."""
        current = _current_session.get()
        return current if current is not None else self._local_session

    @property
    def sessions(self) -> SessionStore:
        """The rollouts' sessions, with counters (``sessions.counts()``) of what was evicted or refused."""
        if self._store is None:
            self._store = SessionStore(max_seeded=self.max_sessions, max_anonymous=self.max_anonymous_sessions)
        return self._store

    def _open_session(self, request: Request, cookie: SessionCookie, *, seeding: bool) -> tuple[Session | None, str]:
        """The request's session and, when it is new, the cookie value to send; None when a re-seed is refused."""
        store = self.sessions
        raw = request.cookies.get(cookie.name)
        session_id = cookie.read(raw)
        if raw is not None and session_id is None:
            store.stats["refused_cookies"] += 1
        if seeding:
            current = store.get(session_id) if session_id else None
            if current is not None and current.seeded:
                # The cookie names a rollout already under way: a second seed would wipe
                # its state, and the only caller that does that mid-rollout is a model
                # calling "seed_session" as a tool.
                store.stats["reseeds"] += 1
                return None, ""
            if current is not None:
                store.discard(current.id)
            new_id, value = cookie.issue()
            return store.seed(new_id), value
        if session_id is not None:
            return self._named_session(session_id), ""
        new_id, value = cookie.issue()
        return store.anonymous(new_id), value

    def _named_session(self, session_id: str) -> Session:
        """The session a signed id (a cookie's, an MCP token's) names; :class:`SessionGone` when it went."""
        current = self.sessions.get(session_id)
        if current is not None:
            return current
        # Signed with our secret but not live: evicted, or issued by another process
        # sharing GYMKIT_SESSION_SECRET. Keep the id (handlers may key their own state
        # by it); gymkit's state for it starts empty.
        self.sessions.stats["unknown_ids"] += 1
        log.debug("session %s is not live here; serving it with empty state", session_id)
        return self.sessions.anonymous(session_id)

    # -- discovery ---------------------------------------------------------------------
    @classmethod
    def tools(cls) -> dict[str, ToolSpec]:
        """Tools by route name: public async methods whose body parameter is a pydantic model."""
        found: dict[str, ToolSpec] = {}
        for name, func in inspect.getmembers(cls, inspect.iscoroutinefunction):
            if name.startswith("_") or name in _HOOKS:
                continue
            params = _params(func)
            if params.model is None:
                continue
            if name in RESERVED_ROUTES or hasattr(BaseResourcesServer, name):
                # Skipping it quietly would leave a tool the dataset declares with no route,
                # or one that replaces the runtime's own attribute; say so at load instead.
                raise ServerLoadError(
                    f"{cls.__name__}.{name} is declared like a tool, but {name!r} is reserved by the runtime",
                    hint=f"rename the method; reserved: {', '.join(sorted(RESERVED_ROUTES))} and "
                    "BaseResourcesServer's own attributes",
                )
            returns = get_type_hints(func).get("return")
            response_model = returns if inspect.isclass(returns) and issubclass(returns, BaseModel) else None
            found[name] = ToolSpec(name, func, params.model, response_model, params, inspect.getdoc(func) or "")
        return found

    @classmethod
    def verify_request_model(cls) -> type[BaseVerifyRequest]:
        model = _params(cls.verify).model
        return model if model and issubclass(model, BaseVerifyRequest) else BaseVerifyRequest

    @classmethod
    def seed_request_model(cls) -> type[BaseModel]:
        return _params(cls.seed_session).model or BaseSeedSessionRequest

    # -- the web app -------------------------------------------------------------------
    def run(self) -> None:
        """Serve this server until interrupted; for ``python app.py``, the way ``ng_run`` starts servers.

        Under ng_run (``NEMO_GYM_CONFIG_DICT``/``NEMO_GYM_CONFIG_PATH`` set) it serves on the host
        and port of its own entry there; otherwise as ``gymkit serve`` does (gymkit.runtime.nemo_entry).
        """
        import sys

        from gymkit.errors import GymkitError
        from gymkit.runtime.nemo_entry import run_server

        try:
            run_server(self)
        except GymkitError as exc:
            # One line, as gymkit's commands report it: ng_run shows the server's output prefixed.
            hint = f"\nhint: {exc.hint}" if exc.hint else ""
            print(f"error: {exc.message}{hint}", file=sys.stderr, flush=True)
            raise SystemExit(exc.exit_code) from None

    @property
    def app(self) -> FastAPI:
        if self._app is None:
            self._app = self._build_app()
        return self._app

    def _build_app(self) -> FastAPI:
        app = FastAPI(title=self.name, docs_url=None, redoc_url=None)
        tools = self.tools()
        # Upstream names the cookie after class and instance, so two servers behind one
        # agent keep their cookies apart; upstream also signs with that name, which anyone
        # can read, so the secret here is random (or GYMKIT_SESSION_SECRET) instead.
        secret = session_secret()
        cookie = SessionCookie(f"{type(self).__name__}___{self.name}", secret)
        app.state.session_cookie = cookie
        declared = sorted(tools)
        signer = None
        if getattr(self.config, "expose_tools_over_mcp", False):
            mcp.check_can_serve(type(self), tools)
            signer = mcp.token_signer(cookie, secret)

        @app.get("/")
        async def liveness() -> dict[str, Any]:
            # The contract for clients: only these names may be called as tools.
            return {"status": "ok", "server": self.name, "tools": declared}

        @app.get("/reverify_mode")
        async def reverify_mode() -> str:
            return self.reverify_mode

        hook = getattr(type(self), "aggregate_metrics", None)
        if hook is not None:
            # A server's own metrics (upstream's hook): served like verify, its body validated by its model.
            params = _params(hook)
            self._route(app, cookie, "aggregate_metrics", hook, params.model or _AggregateMetricsRequest, params)
        else:
            # NeMo Gym's rollout collection ends with this call and fails the run without it.
            @app.post("/aggregate_metrics")
            async def aggregate(body: _AggregateMetricsRequest) -> Response:
                return _json(aggregate_metrics(body.verify_responses))

        cls = type(self)
        seed = _params(cls.seed_session)
        self._route(app, cookie, "seed_session", cls.seed_session, self.seed_request_model(), seed, signer=signer)
        verify = _params(cls.verify)
        self._route(app, cookie, "verify", cls.verify, self.verify_request_model(), verify, signer=signer)
        for spec in tools.values():
            self._route(app, cookie, spec.name, spec.method, spec.request_model, spec.params, spec.description)
        if signer is not None:
            mcp.mount(app, server_name=self.name, tools=tools, signer=signer, call=self._call_over_mcp)
        return app

    async def _run_handler(
        self,
        name: str,
        method: Callable[..., Awaitable[Any]],
        params: _Params,
        body: BaseModel,
        session: Session,
        request: Request,
    ) -> Any:
        """What ``method`` returns for ``body`` in ``session``: an HTTPException as raised, any other as _RouteError."""
        # Upstream-style handlers read request.session[SESSION_ID_KEY]; SessionMiddleware
        # is gone, so the route provides the dict itself.
        request.scope["session"] = session.request_view
        token = _current_session.set(session.state)
        # By keyword: upstream's handlers take (self, request, body), gymkit's (self, body).
        kwargs: dict[str, Any] = {params.body: body}
        if params.request:
            kwargs[params.request] = request
        try:
            return await method(self, **kwargs)
        except HTTPException:
            raise  # the handler's chosen status; FastAPI answers it as it does upstream
        except Exception as exc:
            log.exception("/%s raised", name)
            raise _RouteError(500, f"/{name} raised {type(exc).__name__}: {exc}") from exc
        finally:
            _current_session.reset(token)

    async def _call_over_mcp(self, spec: ToolSpec, raw: bytes, request: Request, session_id: str) -> tuple[int, str]:
        """The status and text ``POST /<tool>`` answers ``raw`` with, in the session the MCP token names."""
        try:
            body = _validated(spec.request_model, raw, spec.name)
            session = self._named_session(session_id)
            result = await self._run_handler(spec.name, spec.method, spec.params, body, session, request)
            response = _render(spec.name, result)
            return response.status_code, bytes(response.body).decode()
        except _RouteError as exc:
            return exc.status, exc.message
        except HTTPException as exc:
            return exc.status_code, exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)

    def _route(
        self,
        app: FastAPI,
        cookie: SessionCookie,
        name: str,
        method: Callable[..., Awaitable[Any]],
        model: type[BaseModel],
        params: _Params,
        description: str = "",
        *,
        signer: mcp.TokenSigner | None = None,
    ) -> None:
        """Serve ``method`` on ``POST /<name>``; with a ``signer`` (MCP on) seeds give tokens, verify bare names."""
        server = self
        seeding = name == "seed_session"
        bare_names = signer is not None and name == "verify"

        async def endpoint(request: Request) -> Response:
            raw = await request.body()
            try:
                body = _validated(model, raw, name)
            except _RouteError as exc:
                return exc.response(name)
            session, new_cookie = server._open_session(request, cookie, seeding=seeding)
            if session is None:
                return _error(
                    409,
                    "this session is already seeded: /seed_session starts a rollout and is not a tool; "
                    "send it without the session cookie to start another rollout",
                    name,
                )
            emitted: dict[str, str] = {}
            if bare_names:
                body, emitted = _bare_calls(body, server.name)
            done = False
            try:
                result = await server._run_handler(name, method, params, body, session, request)
                done = True
                _restore_calls(result, emitted)
                response = _render(name, result)
            except _RouteError as exc:
                return exc.response(name)
            finally:
                if seeding and not done:
                    # The agent gives up on a rollout whose seed failed; its cookie never left.
                    server.sessions.discard(session.id)
            if seeding and signer is not None and response.status_code == 200:
                try:
                    allowed = server._allowed_tools(raw)
                except _RouteError as exc:
                    server.sessions.discard(session.id)  # no token, no cookie: the rollout never started
                    return exc.response(name)
                try:
                    token = signer.value(session.id, allowed)
                except ValueError as exc:
                    server.sessions.discard(session.id)
                    return _RouteError(500, str(exc)).response(name)
                response = _with_mcp_metadata(response, server.name, token)
            if new_cookie:
                response.set_cookie(
                    cookie.name, new_cookie, max_age=SESSION_MAX_AGE, path="/", httponly=True, samesite="lax"
                )
            return response

        app.add_api_route(
            f"/{name}",
            endpoint,
            methods=["POST"],
            name=name,
            description=description,
            openapi_extra={"requestBody": {"content": {"application/json": {"schema": model.model_json_schema()}}}},
        )


class _RouteError(Exception):
    """A route's own error answer: its status and message (``{"error": ..., "route": ...}`` over HTTP)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self, route: str) -> JSONResponse:
        return _error(self.status, self.message, route)


_TOOL_NAMES: dict[type, frozenset[str]] = {}


def _tool_names(server_cls: type[BaseResourcesServer]) -> frozenset[str]:
    """A server class's tool names, read from its methods once rather than at every seed."""
    names = _TOOL_NAMES.get(server_cls)
    if names is None:
        names = _TOOL_NAMES[server_cls] = frozenset(server_cls.tools())
    return names


def _validated(model: type[BaseModel], raw: bytes, name: str) -> BaseModel:
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise _RouteError(422, f"invalid body for /{name}: {_short_validation(exc)}") from None


def _render(name: str, result: Any) -> Response:
    try:
        return _verify_result(result) if name == "verify" else _json(result)
    except (TypeError, ValueError) as exc:
        # Left to uvicorn, this would be a bare 500 and a dropped keep-alive connection.
        raise _RouteError(500, f"/{name} returned a result that is not JSON: {exc}") from None


def _with_mcp_metadata(response: Response, server_name: str, token: str) -> Response:
    """The seed answer with upstream's ``mcp`` key set to this rollout's metadata.

    A value the server's own answer has under that key is replaced, as upstream replaces it:
    the agent reads its token there, and a seed answer without one leaves the tools uncallable.
    """
    payload = json.loads(bytes(response.body))
    if not isinstance(payload, dict):
        return response
    payload[mcp.METADATA_KEY] = mcp.seed_metadata(server_name, token)
    return JSONResponse(payload, status_code=response.status_code)


def _function_calls(body: BaseModel) -> list[FunctionCallItem]:
    return function_calls(body.response) if isinstance(body, BaseVerifyRequest) else []


def _bare_calls(body: BaseModel, server_name: str) -> tuple[BaseModel, dict[str, str]]:
    """``body`` with MCP-namespaced call names as the tools' own, and each renamed call's name by call id.

    A verify written against the tools' names scores an MCP-native agent's calls as an HTTP
    agent's. The body the agent sent is left as it was: the copy is what verify reads.
    """
    emitted = {
        item.call_id: item.name
        for item in _function_calls(body)
        if mcp.bare_tool_name(item.name, server_name) != item.name
    }
    if not emitted:
        return body, emitted
    copy = body.model_copy(deep=True)
    for item in _function_calls(copy):
        if item.call_id in emitted:
            item.name = mcp.bare_tool_name(item.name, server_name)
    return copy, emitted


def _restore_calls(result: Any, emitted: dict[str, str]) -> None:
    """Put the names the model emitted back into the echoed response, which the rollout keeps."""
    if not emitted:
        return
    response = result.get("response") if isinstance(result, dict) else getattr(result, "response", None)
    output = response.get("output") if isinstance(response, dict) else getattr(response, "output", None)
    for item in output if isinstance(output, list) else []:
        if isinstance(item, FunctionCallItem) and item.call_id in emitted:
            item.name = emitted[item.call_id]
        elif isinstance(item, dict) and item.get("type") == "function_call" and item.get("call_id") in emitted:
            item["name"] = emitted[item["call_id"]]


def _short_validation(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{loc}: {err['msg']}")
    more = len(exc.errors()) - 3
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def _error(status: int, message: str, route: str) -> JSONResponse:
    return JSONResponse({"error": message, "route": f"/{route}"}, status_code=status)


def _json(result: Any) -> Response:
    if isinstance(result, BaseModel):
        return Response(result.model_dump_json(), media_type="application/json")
    return JSONResponse(result)


def _verify_result(result: Any) -> Response:
    if isinstance(result, BaseModel):
        reward = getattr(result, "reward", None)
    elif isinstance(result, dict):
        reward = result.get("reward")
    else:
        return _error(500, f"verify returned {type(result).__name__}; return a BaseVerifyResponse", "verify")
    problem = reward_problem(reward)
    if problem:
        return _error(500, f"verify returned an invalid reward: {problem}", "verify")
    return _json(result)
