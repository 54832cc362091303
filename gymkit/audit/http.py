"""Sending verify requests the way an agent does: seed_session first, its cookie on verify.

One aiohttp session with no cookie jar of its own, so each case's session cookie goes
only to that case's verify even when a hundred cases are in flight.
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from gymkit.replay_mcp import call_over_mcp, mcp_endpoint
from gymkit.reverify import tool_calls
from gymkit.runtime.wire import tool_route

__all__ = ["Outcome", "Sender"]


@dataclass(frozen=True)
class Outcome:
    status: int | None  # None when there was no HTTP answer
    reward: float | None
    error: str | None  # why there is no valid reward, or a rejection's text
    body_text: str = ""

    def same_as(self, other: Outcome) -> bool:
        return (self.status, self.reward) == (other.status, other.reward)

    def describe(self) -> str:
        if self.error:
            return self.error
        return f"reward {self.reward:g}"


def _parse(status: int, raw: bytes) -> Outcome:
    text = raw.decode("utf-8", "replace")
    if status != 200:
        return Outcome(status, None, f"HTTP {status}: {' '.join(text.split())[:200]}", text)
    try:
        payload = json.loads(raw)
    except ValueError:
        return Outcome(status, None, "HTTP 200 but the body is not JSON", text)
    reward = payload.get("reward") if isinstance(payload, dict) else None
    if isinstance(reward, bool) or not isinstance(reward, int | float):
        return Outcome(status, None, f"HTTP 200 without a numeric reward (reward: {reward!r})", text)
    reward = float(reward)
    if not math.isfinite(reward) or not 0.0 <= reward <= 1.0:
        return Outcome(status, reward, f"reward {reward!r} is not a finite number in [0, 1]", text)
    return Outcome(status, reward, None, text)


class Sender:
    def __init__(self, url: str, *, timeout: float, concurrency: int) -> None:
        self.url = url
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.concurrency = concurrency
        self.sent = 0
        self.replay = False
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(concurrency)

    async def __aenter__(self) -> Sender:
        connector = aiohttp.TCPConnector(limit=self.concurrency, force_close=False)
        self._session = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), timeout=self.timeout
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def _post(self, route: str, data: bytes, cookie: str | None) -> tuple[int, bytes, str | None]:
        assert self._session is not None
        headers = {"Content-Type": "application/json"}
        if cookie:
            headers["Cookie"] = cookie
        self.sent += 1
        async with self._session.post(self.url + route, data=data, headers=headers) as reply:
            raw = await reply.read()
            cookies = "; ".join(f"{name}={morsel.value}" for name, morsel in reply.cookies.items())
            return reply.status, raw, cookies or cookie

    async def _replay(self, body: dict[str, Any], seeded: bytes, cookie: str | None) -> tuple[str | None, str | None]:
        """The response's tool calls, in order, in the session; over MCP for a server with no route for them."""
        # The tools' answers are not judged: the response sent to verify says what they were.
        calls = [(tool_route(name), arguments) for name, arguments in tool_calls(body.get("response"))]
        try:
            mcp = mcp_endpoint(json.loads(seeded))
        except json.JSONDecodeError:
            mcp = None
        for index, (name, arguments) in enumerate(calls):
            status, _, cookie = await self._post(f"/{quote(name, safe='')}", json.dumps(arguments).encode(), cookie)
            if status == 404 and mcp is not None:
                # An MCP-only server (upstream's @gym_tool): this call and the rest go there, in order.
                path, headers = mcp
                return cookie, await call_over_mcp(self.url + path, headers, calls[index:], self.timeout.total or 30.0)
        return cookie, None

    async def verify(self, body: dict[str, Any] | bytes, *, seed: bool = True, replay: bool | None = None) -> Outcome:
        """One rollout's worth: seed_session with the row, then verify with the same session.

        With ``replay`` (default: the sender's ``replay``), the response's tool calls are made in that session
        first, in order, as the agent made them: a stateful server's verify reads what they did to the session."""
        replay = self.replay if replay is None else replay
        async with self._slots:
            try:
                cookie = None
                if seed and isinstance(body, dict):
                    row = {k: v for k, v in body.items() if k != "response"}
                    status, raw, cookie = await self._post("/seed_session", json.dumps(row).encode(), None)
                    if status != 200:
                        answer = raw.decode("utf-8", "replace")
                        text = " ".join(answer.split())[:200]
                        return Outcome(status, None, f"seed_session answered HTTP {status}: {text}", answer)
                    if replay:
                        cookie, why = await self._replay(body, raw, cookie)
                        if why is not None:
                            return Outcome(None, None, why)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                status, raw, _ = await self._post("/verify", data, cookie)
            except TimeoutError:
                return Outcome(None, None, f"no answer within {self.timeout.total:g} s")
            except aiohttp.ClientError as exc:
                return Outcome(None, None, f"request failed: {type(exc).__name__}: {exc}")
        return _parse(status, raw)
