"""The viewer's web app: the static page and the JSON API it calls, for 127.0.0.1 only.

Rollout text is model output, so it is untrusted: the page never turns it into markup, and
the headers forbid what a slip would need (inline scripts, other origins, framing). A page
on another site can still make the browser call 127.0.0.1 through a name it controls (DNS
rebinding); the Host header check refuses any request not addressed to the loopback name.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gymkit.errors import UserError
from gymkit.view.index import FLAG_BITS, RolloutIndex
from gymkit.view.query import Filters, Query

__all__ = ["CSP", "create_app"]

STATIC = Path(str(files("gymkit.view") / "static"))
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]
_ASSETS = {"app.js", "style.css", "views.js", "charts.js", "dom.js", "rollout.js"}


class _Guard:
    """Refuse requests for any Host but ours, and put the security headers on every response."""

    def __init__(self, app: ASGIApp, hosts: set[str]) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = dict(scope["headers"]).get(b"host", b"").decode("latin-1").lower()
        if host not in self.hosts:
            await PlainTextResponse("forbidden host", status_code=403)(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS), media_type="application/json")


def _int(request: Request, key: str, default: int | None = None) -> int | None:
    value = request.query_params.get(key, "")
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise UserError(f"{key}={value!r} is not an integer") from None


def create_app(index: RolloutIndex, hosts: set[str]) -> ASGIApp:
    """The viewer over ``index``, which may still be loading; ``hosts`` are the Host header values it
    answers (e.g. ``127.0.0.1:8765``)."""
    query = Query(index)

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _ASSETS:
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(STATIC / name)

    async def meta(request: Request) -> Response:
        pairs = enumerate(zip(index.files, index.kinds, strict=True))
        return _json({
            "files": [{"id": i, "path": str(p), "kind": k} for i, (p, k) in pairs],
            "rows": len(index), "groups": len(index.groups), "threshold": index.threshold, "flags": list(FLAG_BITS),
            "done": index.done, "error": index.error, "audited": index.audited,
            "progress": index.read_bytes / index.total_bytes if index.total_bytes else float(index.done),
        })  # fmt: skip

    async def rows(request: Request) -> Response:
        filters = Filters.parse(dict(request.query_params))
        offset, limit = _int(request, "offset", 0), _int(request, "limit", 50)
        return _json(query.rows(filters, offset or 0, limit or 50, request.query_params.get("sort", "")))

    async def row(request: Request) -> Response:
        return _json(query.row(int(request.path_params["row"])))

    async def groups(request: Request) -> Response:
        p = request.query_params
        return _json(
            query.groups(_int(request, "file"), p.get("kind", ""), _int(request, "offset", 0) or 0,
                         _int(request, "limit", 20) or 20, _int(request, "below_k"))
        )  # fmt: skip

    async def group(request: Request) -> Response:
        return _json(query.group(int(request.path_params["group"])))

    async def figures(request: Request) -> Response:
        return _json(query.figures(_int(request, "file")))

    async def compare(request: Request) -> Response:
        return _json(query.compare(_int(request, "a", 0) or 0, _int(request, "b", 1) or 0))

    async def user_error(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=400)

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/static/{name}", asset),
            Route("/api/meta", meta),
            Route("/api/rows", rows),
            Route("/api/row/{row:int}", row),
            Route("/api/groups", groups),
            Route("/api/group/{group:int}", group),
            Route("/api/figures", figures),
            Route("/api/compare", compare),
        ],
        exception_handlers={UserError: user_error},
    )
    return _Guard(app, {h.lower() for h in hosts})


def loopback_hosts(port: int) -> set[str]:
    return {f"127.0.0.1:{port}", f"localhost:{port}"}
