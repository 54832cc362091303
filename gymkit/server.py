"""The resource-server runtime: a base class whose typed async methods become HTTP routes.

A contributor subclasses :class:`BaseResourcesServer`, writes ``async def tool(self, body:
ToolRequest) -> ToolResponse`` methods and ``async def verify(self, body: MyVerifyRequest)``,
and the runtime serves them the way NeMo Gym does: ``POST /<tool>``, ``POST /seed_session``,
``POST /verify``, ``GET /``, with per-rollout state behind a signed session cookie.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ClassVar, get_type_hints

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from gymkit.config import ResourcesServerConfig
from gymkit.wire import (
    BaseSeedSessionRequest,
    BaseSeedSessionResponse,
    BaseVerifyRequest,
    BaseVerifyResponse,
    reward_problem,
)

__all__ = ["RESERVED_ROUTES", "SESSION_ID_KEY", "BaseResourcesServer", "ToolSpec"]

log = logging.getLogger("gymkit.server")

SESSION_ID_KEY = "session_id"
RESERVED_ROUTES = frozenset({"verify", "seed_session", "aggregate_metrics", "mcp", "reverify_mode"})
# Sessions live in memory, keyed by the cookie's id; a GRPO job opens one per rollout, so
# keep the newest and let the oldest go rather than grow without bound.
MAX_SESSIONS = 100_000

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


class BaseResourcesServer:
    """Subclass this. Public ``async def`` methods taking a pydantic model are tools.

    ``self.session`` is a dict private to the current rollout: fill it in
    :meth:`seed_session`, read and change it in tools, read it in :meth:`verify`.
    """

    # NeMo Gym's reverify protocol: "stateless" means verify depends only on its body.
    reverify_mode: ClassVar[str] = "stateless"

    def __init__(self, config: ResourcesServerConfig | None = None, *, name: str | None = None) -> None:
        self.config = config
        self.name = name or type(self).__name__
        self._sessions: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._local_session: dict[str, Any] = {}
        self._app: FastAPI | None = None

    # -- what contributors override -------------------------------------------------
    async def seed_session(self, body: BaseSeedSessionRequest) -> BaseSeedSessionResponse:
        return BaseSeedSessionResponse()

    async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse:
        raise NotImplementedError(f"{type(self).__name__} does not implement verify()")

    # -- session state ----------------------------------------------------------------
    @property
    def session(self) -> dict[str, Any]:
        """State of the rollout being served; outside a request (unit tests) a local dict."""
        current = _current_session.get()
        return current if current is not None else self._local_session

    def _session_for(self, session_id: str) -> dict[str, Any]:
        state = self._sessions.get(session_id)
        if state is None:
            state = self._sessions[session_id] = {}
            if len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
        else:
            self._sessions.move_to_end(session_id)
        return state

    # -- discovery ---------------------------------------------------------------------
    @classmethod
    def tools(cls) -> dict[str, ToolSpec]:
        """Tools by route name: public async methods whose body parameter is a pydantic model."""
        found: dict[str, ToolSpec] = {}
        for name, func in inspect.getmembers(cls, inspect.iscoroutinefunction):
            if name.startswith("_") or name in RESERVED_ROUTES or hasattr(BaseResourcesServer, name):
                continue
            params = _params(func)
            if params.model is None:
                continue
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
    @property
    def app(self) -> FastAPI:
        if self._app is None:
            self._app = self._build_app()
        return self._app

    def _build_app(self) -> FastAPI:
        app = FastAPI(title=self.name, docs_url=None, redoc_url=None)
        # Upstream names the cookie and its secret after class and instance, so two servers
        # behind one agent never read each other's sessions.
        key = f"{type(self).__name__}___{self.name}"
        app.add_middleware(SessionMiddleware, secret_key=key, session_cookie=key, same_site="lax")

        @app.get("/")
        async def liveness() -> dict[str, Any]:
            return {"status": "ok", "server": self.name, "tools": sorted(self.tools())}

        @app.get("/reverify_mode")
        async def reverify_mode() -> str:
            return self.reverify_mode

        cls = type(self)
        self._route(app, "seed_session", cls.seed_session, self.seed_request_model(), _params(cls.seed_session))
        self._route(app, "verify", cls.verify, self.verify_request_model(), _params(cls.verify))
        for spec in self.tools().values():
            self._route(app, spec.name, spec.method, spec.request_model, spec.params, spec.description)
        return app

    def _route(
        self,
        app: FastAPI,
        name: str,
        method: Callable[..., Awaitable[Any]],
        model: type[BaseModel],
        params: _Params,
        description: str = "",
    ) -> None:
        server = self

        async def endpoint(request: Request) -> Response:
            raw = await request.body()
            try:
                body = model.model_validate_json(raw or b"{}")
            except ValidationError as exc:
                return _error(422, f"invalid body for /{name}: {_short_validation(exc)}", name)
            session_id = request.session.setdefault(SESSION_ID_KEY, uuid.uuid4().hex)
            token = _current_session.set(server._session_for(session_id))
            # By keyword: upstream's handlers take (self, request, body), gymkit's (self, body).
            kwargs: dict[str, Any] = {params.body: body}
            if params.request:
                kwargs[params.request] = request
            try:
                result = await method(server, **kwargs)
            except HTTPException:
                raise  # the handler's chosen status; FastAPI answers it as it does upstream
            except Exception as exc:
                log.exception("/%s raised", name)
                return _error(500, f"/{name} raised {type(exc).__name__}: {exc}", name)
            finally:
                _current_session.reset(token)
            try:
                return _verify_result(result) if name == "verify" else _json(result)
            except (TypeError, ValueError) as exc:
                # Left to uvicorn, this would be a bare 500 and a dropped keep-alive connection.
                return _error(500, f"/{name} returned a result that is not JSON: {exc}", name)

        app.add_api_route(
            f"/{name}",
            endpoint,
            methods=["POST"],
            name=name,
            description=description,
            openapi_extra={"requestBody": {"content": {"application/json": {"schema": model.model_json_schema()}}}},
        )


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
