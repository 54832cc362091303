"""One rollout with NeMo Gym's simple-agent semantics.

seed_session, then model turns; every function call is sent to the resource server's
``POST /<tool>`` and its raw answer (even an error) goes back to the model as tool output;
the loop ends on a final message, a truncated answer or ``max_steps``; then verify. The
resource server's signed session cookie is carried by hand, per rollout, so thousands of
rollouts can share one connection pool without sharing a cookie jar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

import aiohttp
import orjson

from gymkit.rollouts.clients import ModelClient
from gymkit.rollouts.convert import input_items, tool_arguments

__all__ = ["DEFAULT_AGENT_REF", "RolloutFailure", "RolloutResult", "run_rollout"]

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


async def _post_server(
    http: aiohttp.ClientSession, url: str, body: Any, cookies: _Cookies, timeout: aiohttp.ClientTimeout
) -> tuple[int, bytes]:
    async with http.post(
        url, data=orjson.dumps(body), headers={"Content-Type": "application/json", **cookies.header()}, timeout=timeout
    ) as resp:
        raw = await resp.read()
        cookies.update(resp)
        return resp.status, raw


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
    max_steps: int | None = None,
    request_overrides: dict[str, Any] | None = None,
    force_first_tool_call: bool = False,
    server_timeout: float = 600.0,
) -> RolloutResult:
    """Run one rollout; returns the verify response (the rollout row, before gymkit metadata)."""
    timeout = aiohttp.ClientTimeout(total=server_timeout)
    cookies = _Cookies()
    sticky = f"{run_body.get('_ng_task_index')}/{run_body.get('_ng_rollout_index')}"
    try:
        status, raw = await _post_server(http, f"{server_url}/seed_session", run_body, cookies, timeout)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise RolloutFailure("server_error", f"/seed_session: {type(exc).__name__}: {exc}") from None
    if status >= 300:
        raise RolloutFailure(
            "seed_session_failed", f"/seed_session answered HTTP {status}: {raw[:300].decode(errors='replace')}"
        )

    params = {**run_body["responses_create_params"], **(request_overrides or {})}
    original = input_items(params)
    has_tools = bool(params.get("tools"))
    items: list[dict[str, Any]] = []
    usage: dict[str, int] = {}
    last: dict[str, Any] = {}
    forced = False
    calls = 0
    steps = 0
    while max_steps is None or steps < max_steps:
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
            text = await _call_tool(http, server_url, call, cookies, timeout)
            items.append({"type": "function_call_output", "call_id": call.get("call_id", ""), "output": text})
        if not function_calls and any(item.get("type") == "message" for item in output):
            break

    response = {**last, "output": items, "usage": {**(last.get("usage") or {}), **usage}}
    verify_body = {**run_body, "response": response}
    try:
        status, raw = await _post_server(http, f"{server_url}/verify", verify_body, cookies, timeout)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise RolloutFailure("server_error", f"/verify: {type(exc).__name__}: {exc}") from None
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
    return RolloutResult(row=row, forced_tool_call=forced, tool_calls=calls)


async def _call_tool(
    http: aiohttp.ClientSession,
    server_url: str,
    call: dict[str, Any],
    cookies: _Cookies,
    timeout: aiohttp.ClientTimeout,
) -> str:
    name = str(call.get("name", ""))
    if not _TOOL_NAME.match(name):
        return _error_output(f"Unknown tool {name!r}")
    arguments, problem = tool_arguments(str(call.get("arguments") or ""))
    if problem:
        return _error_output(problem)
    try:
        _, raw = await _post_server(http, f"{server_url}/{name}", arguments, cookies, timeout)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        # Upstream hands the model whatever the server said; a dead connection says this.
        return _error_output(f"tool call failed: {type(exc).__name__}: {exc}")
    return raw.decode("utf-8", errors="replace")
