"""One rollout with NeMo Gym's simple-agent semantics.

seed_session, then model turns; every function call of a tool the task declares is sent to
the resource server's ``POST /<tool>`` and its raw answer (even an error) goes back to the
model as tool output; the loop ends on a final message, a truncated answer or ``max_steps``;
then verify. A call of any other name, a reserved route above all (``seed_session`` would
wipe the rollout's state), is answered with an error and never reaches the server. The
resource server's signed session cookie is carried by hand, per rollout, so thousands of
rollouts can share one connection pool without sharing a cookie jar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

import aiohttp
import orjson

from gymkit.rollouts.clients import ModelClient, ResponseTooLargeError, read_capped
from gymkit.rollouts.convert import complete_response, input_items, tool_arguments
from gymkit.runtime.server import RESERVED_ROUTES

__all__ = ["DEFAULT_AGENT_REF", "RolloutFailure", "RolloutResult", "declared_tools", "run_rollout"]

DEFAULT_AGENT_REF = {"type": "responses_api_agents", "name": "simple_agent"}
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class RolloutFailure(Exception):
    """A rollout that produced no row; ``kind`` is the failures file's ``_ng_failure_class``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass
class RolloutResult:
    row: dict[str, Any]
    forced_tool_call: bool
    tool_calls: int
    tool_errors: int = 0  # calls refused or failed before the server answered, and non-2xx answers
    # (tool name, what went wrong, the first 300 characters of it) for each of those calls
    tool_problems: list[tuple[str, str, str]] = field(default_factory=list)


class _Cookies:
    """The cookies one rollout's resource-server session has set so far."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def update(self, resp: aiohttp.ClientResponse) -> None:
        for header in resp.headers.getall("Set-Cookie", ()):
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                self.values[name] = morsel.value

    def header(self) -> dict[str, str]:
        if not self.values:
            return {}
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.values.items())}


@dataclass(frozen=True)
class _Server:
    http: aiohttp.ClientSession
    url: str
    timeout: aiohttp.ClientTimeout
    max_bytes: int


_SERVER_ERRORS = (aiohttp.ClientError, TimeoutError, OSError, ResponseTooLargeError)


async def _post_server(server: _Server, route: str, body: Any, cookies: _Cookies) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json", **cookies.header()}
    async with server.http.post(
        f"{server.url}/{route}", data=orjson.dumps(body), headers=headers, timeout=server.timeout
    ) as resp:
        raw = await read_capped(resp, server.max_bytes)
        cookies.update(resp)
        return resp.status, raw


def _describe(exc: BaseException, timeout: aiohttp.ClientTimeout) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout.total:g}s"
    return f"{type(exc).__name__}: {exc}"


def declared_tools(params: dict[str, Any]) -> frozenset[str]:
    """Function tool names in ``responses_create_params.tools`` (flat or Chat-style), reserved routes left out."""
    names = set()
    for tool in params.get("tools") or []:
        if isinstance(tool, dict) and tool.get("type", "function") == "function":
            name = tool.get("name") or (tool.get("function") or {}).get("name")
            if isinstance(name, str):
                names.add(name)
    return frozenset(names - RESERVED_ROUTES)


def _error_output(message: str) -> str:
    return orjson.dumps({"error": message}).decode()


def _sum_usage(total: dict[str, int], usage: dict[str, Any] | None) -> None:
    for key in ("input_tokens", "output_tokens", "total_tokens"):
        total[key] = total.get(key, 0) + int((usage or {}).get(key) or 0)


async def run_rollout(
    run_body: dict[str, Any],
    *,
    http: aiohttp.ClientSession,
    server_url: str,
    model: ModelClient,
    max_steps: int,
    request_overrides: dict[str, Any] | None = None,
    force_first_tool_call: bool = False,
    server_timeout: float = 120.0,
    max_response_bytes: int = 8 * 1024 * 1024,
) -> RolloutResult:
    """Run one rollout; returns the verify response (the rollout row, before gymkit metadata)."""
    timeout = aiohttp.ClientTimeout(total=server_timeout)
    server = _Server(http, server_url, timeout, max_response_bytes)
    cookies = _Cookies()
    sticky = f"{run_body.get('_ng_task_index')}/{run_body.get('_ng_rollout_index')}"
    try:
        status, raw = await _post_server(server, "seed_session", run_body, cookies)
    except _SERVER_ERRORS as exc:
        raise RolloutFailure("server_error", f"/seed_session: {_describe(exc, timeout)}") from None
    if status >= 300:
        raise RolloutFailure(
            "seed_session_failed", f"/seed_session answered HTTP {status}: {raw[:300].decode(errors='replace')}"
        )

    params = {**run_body["responses_create_params"], **(request_overrides or {})}
    original = input_items(params)
    has_tools = bool(params.get("tools"))
    allowed = declared_tools(params)
    items: list[dict[str, Any]] = []
    usage: dict[str, int] = {}
    last: dict[str, Any] = {}
    forced = False
    calls = 0
    problems: list[tuple[str, str, str]] = []
    steps = 0
    while steps < max_steps:
        steps += 1
        force = force_first_tool_call and has_tools and calls == 0 and steps == 1
        forced = forced or force
        last = await model.create({**params, "input": original + items}, sticky_key=sticky, force_tool_call=force)
        output = [item for item in last["output"] if isinstance(item, dict)]
        items.extend(output)
        _sum_usage(usage, last.get("usage"))
        # Upstream stops here, before the calls: a call cut off by the token limit must not
        # change the session that verify reads.
        if (last.get("incomplete_details") or {}).get("reason") == "max_output_tokens":
            break
        function_calls = [item for item in output if item.get("type") == "function_call"]
        for call in function_calls:
            calls += 1
            text, problem = await _call_tool(server, call, cookies, allowed)
            if problem is not None:
                problems.append(problem)
            items.append({"type": "function_call_output", "call_id": call.get("call_id", ""), "output": text})
        if not function_calls and any(item.get("type") == "message" for item in output):
            break

    response = complete_response({**last, "output": items, "usage": {**(last.get("usage") or {}), **usage}}, params)
    verify_body = {**run_body, "response": response}
    try:
        status, raw = await _post_server(server, "verify", verify_body, cookies)
    except ResponseTooLargeError as exc:
        raise RolloutFailure("verify_failed", f"/verify: {exc}") from None
    except _SERVER_ERRORS as exc:
        raise RolloutFailure("server_error", f"/verify: {_describe(exc, timeout)}") from None
    if status >= 300:
        raise RolloutFailure("verify_failed", f"/verify answered HTTP {status}: {raw[:300].decode(errors='replace')}")
    try:
        row = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RolloutFailure("verify_failed", f"/verify answered non-JSON: {raw[:120]!r}") from None
    if not isinstance(row, dict) or "reward" not in row:
        raise RolloutFailure("verify_failed", "/verify answered without a reward")
    if not isinstance(row["reward"], int | float):
        # Collection sums rewards; one null would end the whole run.
        raise RolloutFailure(
            "verify_failed", f"/verify answered reward {orjson.dumps(row['reward']).decode()[:80]}, not a number"
        )
    return RolloutResult(
        row=row, forced_tool_call=forced, tool_calls=calls, tool_errors=len(problems), tool_problems=problems
    )


async def _call_tool(
    server: _Server, call: dict[str, Any], cookies: _Cookies, allowed: frozenset[str]
) -> tuple[str, tuple[str, str, str] | None]:
    """(tool output for the model, (tool, kind, detail) when the call counts as a tool error)."""
    name = str(call.get("name", ""))
    if name not in allowed or not _TOOL_NAME.match(name):
        text = _error_output(f"Unknown tool {name!r}: not one of this task's tools")
        return text, (name[:80], "unknown tool", text[:300])
    arguments, problem = tool_arguments(str(call.get("arguments") or ""))
    if problem:
        return _error_output(problem), (name, "invalid arguments", problem[:300])
    try:
        status, raw = await _post_server(server, name, arguments, cookies)
    except _SERVER_ERRORS as exc:
        # Upstream hands the model whatever the server said; a dead connection says this.
        text = _error_output(f"tool call failed: {_describe(exc, server.timeout)}")
        return text, (name, "no answer", text[:300])
    text = raw.decode("utf-8", errors="replace")
    return text, ((name, f"HTTP {status}", text[:300]) if status >= 400 else None)
