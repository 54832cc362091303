"""The runtime's own routes are never tools: not declared, not definable, and harmless when a
model names one in a tool call that an agent forwards with the rollout's cookie."""

from __future__ import annotations

from collections.abc import Iterator
from http.cookies import SimpleCookie
from typing import Any

import httpx
import pytest
from fastapi import Request
from pydantic import BaseModel

from gymkit import (
    BaseResourcesServer,
    BaseSeedSessionRequest,
    BaseSeedSessionResponse,
    BaseVerifyRequest,
    BaseVerifyResponse,
)
from gymkit.errors import ServerLoadError
from gymkit.project import ServerPaths, load_server
from gymkit.runtime.server import RESERVED_ROUTES, SESSION_ID_KEY
from gymkit.runtime.serving import serving_in_thread

from .conftest import SERVERS

RCP = {"responses_create_params": {"input": [{"role": "user", "content": "What is 6 x 7?"}]}}


def answer(text: str) -> dict[str, Any]:
    message = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}
    return {"id": "resp_1", "model": "m", "output": [message]}


class AgentLike:
    """Carries one rollout's cookies by hand, updated from every answer, as NeMo Gym's agent does."""

    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url)
        self.cookies: dict[str, str] = {}

    def post(self, route: str, body: dict[str, Any]) -> httpx.Response:
        header = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        reply = self.client.post(f"/{route}", json=body, headers={"Cookie": header} if header else {})
        for value in reply.headers.get_list("set-cookie"):
            jar: SimpleCookie = SimpleCookie()
            jar.load(value)
            self.cookies.update({name: morsel.value for name, morsel in jar.items()})
        return reply

    def close(self) -> None:
        self.client.close()


@pytest.fixture(scope="module")
def stateful() -> Iterator[tuple[BaseResourcesServer, str]]:
    server = load_server(ServerPaths(SERVERS / "stateful"))
    with serving_in_thread(server.app) as url:
        yield server, url


def test_the_declared_tool_list_holds_tools_only(stateful: tuple[BaseResourcesServer, str]) -> None:
    server, url = stateful
    declared = httpx.get(url + "/").json()["tools"]
    assert declared == ["explode", "peek"] == sorted(type(server).tools())
    assert not set(declared) & RESERVED_ROUTES


def test_seed_session_as_a_tool_call_cannot_wipe_the_rollout(stateful: tuple[BaseResourcesServer, str]) -> None:
    server, url = stateful
    agent = AgentLike(url)
    try:
        assert agent.post("seed_session", {**RCP, "secret": "alpha"}).status_code == 200
        cookies = dict(agent.cookies)
        assert agent.post("peek", {}).json() == {"secret": "alpha", "calls": 1}
        # The model's function call {"name": "seed_session", "arguments": "{\"secret\": \"pwned\"}"},
        # forwarded by an agent that does not check names against the declared list.
        reply = agent.post("seed_session", {"secret": "pwned"})
        assert reply.status_code == 409
        assert "already seeded" in reply.json()["error"]
        assert "set-cookie" not in reply.headers and agent.cookies == cookies
        assert agent.post("peek", {}).json() == {"secret": "alpha", "calls": 2}
        verify = agent.post("verify", {**RCP, "response": answer("alpha"), "expected_answer": "alpha"}).json()
        assert (verify["secret_seen"], verify["calls"], verify["reward"]) == ("alpha", 2, 1.0)
    finally:
        agent.close()
    assert server.sessions.counts()["reseeds"] >= 1


@pytest.mark.parametrize(
    ("route", "arguments", "status"),
    [
        ("verify", {}, 422),
        ("verify", {**RCP, "response": answer("x"), "expected_answer": "x", "mode": "raise"}, 500),
        ("aggregate_metrics", {"verify_responses": []}, 200),
        ("mcp", {}, 404),
        ("reverify_mode", {}, 405),
        ("not_a_tool", {}, 404),
    ],
)
def test_other_reserved_or_undeclared_names_leave_the_rollout_alone(
    stateful: tuple[BaseResourcesServer, str], route: str, arguments: dict[str, Any], status: int
) -> None:
    _, url = stateful
    agent = AgentLike(url)
    try:
        agent.post("seed_session", {**RCP, "secret": "beta"})
        assert agent.post(route, arguments).status_code == status
        assert agent.post("peek", {}).json() == {"secret": "beta", "calls": 1}
    finally:
        agent.close()


class _N(BaseModel):
    n: int


class _Counter(BaseResourcesServer):
    """Upstream's pattern: state in the server's own dict, keyed by request.session's id."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[str, int] = {}

    async def seed_session(self, request: Request, body: BaseSeedSessionRequest) -> BaseSeedSessionResponse:
        self.counts[request.session[SESSION_ID_KEY]] = 0
        return BaseSeedSessionResponse()

    async def add(self, request: Request, body: _N) -> _N:
        sid = request.session[SESSION_ID_KEY]
        self.counts[sid] += body.n
        return _N(n=self.counts[sid])

    async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse:
        return BaseVerifyResponse(**body.model_dump(), reward=0.0)


def test_upstream_style_state_survives_a_seed_session_tool_call_too() -> None:
    with serving_in_thread(_Counter().app) as url:
        agent = AgentLike(url)
        try:
            agent.post("seed_session", RCP)
            assert agent.post("add", {"n": 2}).json() == {"n": 2}
            assert agent.post("seed_session", {}).status_code == 409
            assert agent.post("add", {"n": 3}).json() == {"n": 5}
        finally:
            agent.close()
        # A new rollout is a seed without the old cookie.
        fresh = AgentLike(url)
        try:
            assert fresh.post("seed_session", RCP).status_code == 200
            assert fresh.post("add", {"n": 1}).json() == {"n": 1}
        finally:
            fresh.close()


class _Body(BaseModel):
    x: int = 0


@pytest.mark.parametrize("name", ["mcp", "reverify_mode", "session", "sessions", "tools", "app"])
def test_a_method_declared_like_a_tool_under_a_reserved_name_is_refused(name: str) -> None:
    async def method(self: BaseResourcesServer, body: _Body) -> _Body:
        return body

    shadowing = type("Shadowing", (BaseResourcesServer,), {name: method})
    # The runtime's discovery, called as the app would; Shadowing.tools may itself be the shadow.
    discover = vars(BaseResourcesServer)["tools"].__func__
    with pytest.raises(ServerLoadError, match=f"Shadowing.{name} is declared like a tool, but '{name}' is reserved"):
        discover(shadowing)


def test_hooks_are_overridden_not_declared() -> None:
    class AggregateMetricsRequest(BaseModel):
        verify_responses: list[dict[str, Any]] = []

    class Hooks(BaseResourcesServer):
        async def aggregate_metrics(self, body: AggregateMetricsRequest) -> dict[str, Any]:
            return {}

        async def lookup(self, body: _Body) -> _Body:
            return body

        async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse:
            return BaseVerifyResponse(**body.model_dump(), reward=0.0)

    assert list(Hooks.tools()) == ["lookup"]
    with serving_in_thread(Hooks().app) as url:
        assert httpx.get(url + "/").json()["tools"] == ["lookup"]
        assert httpx.post(url + "/aggregate_metrics", json={"verify_responses": []}).json() == {}
