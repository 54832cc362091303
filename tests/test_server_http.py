"""The runtime over real HTTP: uvicorn on 127.0.0.1, a fresh cookie jar per rollout."""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import HTTPException, Request
from pydantic import BaseModel

from gymkit import (
    BaseResourcesServer,
    BaseSeedSessionRequest,
    BaseSeedSessionResponse,
    BaseVerifyRequest,
    BaseVerifyResponse,
)
from gymkit.project import ServerPaths, load_server
from gymkit.runtime.server import SESSION_ID_KEY
from gymkit.runtime.serving import serving_in_thread

from .conftest import SERVERS

RCP = {"responses_create_params": {"input": [{"role": "user", "content": "What is 6 x 7?"}]}}


def answer(text: str) -> dict[str, object]:
    return {
        "id": "resp_1",
        "model": "m",
        "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}],
    }


@pytest.fixture(scope="module")
def tutorial_url() -> Iterator[str]:
    server = load_server(ServerPaths(SERVERS / "tutorial"))
    with serving_in_thread(server.app) as url:
        yield url


@pytest.fixture(scope="module")
def stateful_url() -> Iterator[str]:
    server = load_server(ServerPaths(SERVERS / "stateful"))
    with serving_in_thread(server.app) as url:
        yield url


def test_liveness_lists_tools(tutorial_url: str) -> None:
    body = httpx.get(tutorial_url + "/").json()
    assert body == {"status": "ok", "server": "tutorial_resources_server", "tools": ["my_tool"]}


def test_tutorial_tool_and_verify_echo(tutorial_url: str) -> None:
    assert httpx.post(tutorial_url + "/my_tool", json={"input_text": "abc"}).json() == {"result": "Processed: abc"}
    request = {**RCP, "response": answer("42"), "expected_answer": "42", "_ng_task_index": 3}
    reply = httpx.post(tutorial_url + "/verify", json=request)
    assert reply.status_code == 200
    body = reply.json()
    assert body["reward"] == 1.0
    # The verify response echoes the request: task fields and bookkeeping included.
    assert body["expected_answer"] == "42" and body["_ng_task_index"] == 3
    assert body["responses_create_params"]["input"] == RCP["responses_create_params"]["input"]
    assert body["response"]["output"][0]["content"][0]["text"] == "42"


def test_seed_session_sets_signed_cookie(tutorial_url: str) -> None:
    reply = httpx.post(tutorial_url + "/seed_session", json={**RCP, "anything": 1})
    assert reply.status_code == 200 and reply.json() == {}
    cookie = reply.headers["set-cookie"]
    # Upstream's cookie name, so agents find it; the value is the server's own: a random id
    # and its HMAC (see gymkit.runtime.sessions), opaque to clients, who only send it back.
    assert re.match(r"MyTaskResourcesServer___tutorial_resources_server=[0-9a-f]{32}\.[\w-]{43}; ", cookie)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie


def test_invalid_tool_body_is_422_with_reason(tutorial_url: str) -> None:
    reply = httpx.post(tutorial_url + "/my_tool", json={"wrong": 1})
    assert reply.status_code == 422
    assert reply.json()["error"] == "invalid body for /my_tool: input_text: Field required"


def test_verify_requires_a_valid_request(tutorial_url: str) -> None:
    reply = httpx.post(tutorial_url + "/verify", json={"responses_create_params": {"input": "x", "bogus": 1}})
    assert reply.status_code == 422
    assert "responses_create_params.bogus" in reply.json()["error"]


async def rollout(url: str, secret: str, peeks: int) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=url) as client:
        assert (await client.post("/seed_session", json={**RCP, "secret": secret})).status_code == 200
        for _ in range(peeks):
            peek = (await client.post("/peek", json={})).json()
            assert peek["secret"] == secret
        verify = await client.post("/verify", json={**RCP, "response": answer(secret), "expected_answer": secret})
        return verify.json()


def test_session_state_spans_one_rollout(stateful_url: str) -> None:
    body = asyncio.run(rollout(stateful_url, "alpha", 3))
    assert body["reward"] == 1.0
    assert body["secret_seen"] == "alpha" and body["calls"] == 3


def test_concurrent_rollouts_are_isolated(stateful_url: str) -> None:
    async def many() -> list[dict[str, object]]:
        return await asyncio.gather(*(rollout(stateful_url, f"s{i}", 1 + i % 4) for i in range(40)))

    results = asyncio.run(many())
    for i, body in enumerate(results):
        assert body["secret_seen"] == f"s{i}"
        assert body["calls"] == 1 + i % 4


def test_typed_verify_field_is_required(stateful_url: str) -> None:
    reply = httpx.post(stateful_url + "/verify", json={**RCP, "response": answer("x")})
    assert reply.status_code == 422
    assert "expected_answer: Field required" in reply.json()["error"]


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("nan", "verify returned an invalid reward: reward must be finite, got nan"),
        ("big", "verify returned an invalid reward: reward must be in [0, 1], got 2.0"),
        ("raise", "/verify raised ValueError: verify blew up on purpose"),
    ],
)
def test_bad_verify_is_a_clear_500_and_server_keeps_serving(stateful_url: str, mode: str, message: str) -> None:
    reply = httpx.post(
        stateful_url + "/verify", json={**RCP, "response": answer("x"), "expected_answer": "x", "mode": mode}
    )
    assert reply.status_code == 500
    assert reply.json() == {"error": message, "route": "/verify"}
    assert httpx.get(stateful_url + "/").status_code == 200


def test_tool_exception_is_500_naming_the_tool(stateful_url: str) -> None:
    reply = httpx.post(stateful_url + "/explode", json={"message": "kaboom"})
    assert reply.status_code == 500
    assert reply.json()["error"] == "/explode raised RuntimeError: kaboom"
    assert httpx.post(stateful_url + "/peek", json={}).status_code == 200


def test_direct_calls_work_without_http() -> None:
    """Contributors' unit tests call methods directly, as in the tutorial's Step 4."""
    server = load_server(ServerPaths(SERVERS / "stateful"), with_config=False)
    state = asyncio.run(server.peek(type(server).tools()["peek"].request_model()))
    assert state.calls == 1


class _Req(BaseModel):
    x: int


class _Discovery(BaseResourcesServer):
    async def visible(self, body: _Req) -> _Req:
        return body

    async def _private(self, body: _Req) -> _Req:
        return body

    async def no_model(self, x: int) -> int:
        return x

    def not_async(self, body: _Req) -> _Req:
        return body

    async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse:
        return BaseVerifyResponse(**body.model_dump(), reward=0.0)


def test_tool_discovery_rules() -> None:
    assert list(_Discovery.tools()) == ["visible"]
    assert _Discovery.verify_request_model() is BaseVerifyRequest


def test_unimplemented_verify_is_a_500(tmp_path: Path) -> None:
    class NoVerify(BaseResourcesServer):
        pass

    with serving_in_thread(NoVerify().app) as url:
        reply = httpx.post(url + "/verify", json={**RCP, "response": answer("x")})
    assert reply.status_code == 500
    assert "does not implement verify()" in reply.json()["error"]


class _Count(BaseModel):
    n: int


class _UpstreamOrder(BaseResourcesServer):
    """Upstream's session example puts ``request`` before the body, in every handler."""

    def __init__(self) -> None:
        super().__init__()
        self.counters: dict[str, int] = {}

    async def seed_session(self, request: Request, body: BaseSeedSessionRequest) -> BaseSeedSessionResponse:
        self.counters[request.session[SESSION_ID_KEY]] = 0
        return BaseSeedSessionResponse()

    async def add(self, request: Request, body: _Count) -> _Count:
        sid = request.session[SESSION_ID_KEY]
        self.counters[sid] += body.n
        return _Count(n=self.counters[sid])

    async def verify(self, request: Request, body: BaseVerifyRequest) -> BaseVerifyResponse:
        count = self.counters[request.session[SESSION_ID_KEY]]
        return BaseVerifyResponse(**body.model_dump(), reward=float(count == 3), count=count)


def test_handlers_may_take_the_request_before_the_body() -> None:
    server = _UpstreamOrder()

    async def one(url: str, steps: list[int]) -> dict[str, object]:
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.post("/seed_session", json=RCP)).status_code == 200
            for n in steps:
                reply = await client.post("/add", json={"n": n})
                assert reply.status_code == 200, reply.text
            reply = await client.post("/verify", json={**RCP, "response": answer("x")})
            assert reply.status_code == 200, reply.text
            return reply.json()

    async def both(url: str) -> list[dict[str, object]]:
        return await asyncio.gather(one(url, [1, 2]), one(url, [5]))

    with serving_in_thread(server.app) as url:
        first, second = asyncio.run(both(url))
    assert (first["count"], first["reward"]) == (3, 1.0)
    assert (second["count"], second["reward"]) == (5, 0.0)


class _Answers(BaseResourcesServer):
    async def not_json(self, body: _Count) -> _Count:
        return {"n": {body.n}}  # type: ignore[return-value]

    async def refuse(self, body: _Count) -> _Count:
        raise HTTPException(409, f"session {body.n} is closed")

    async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse:
        return {**body.model_dump(), "reward": 1.0, "ratio": math.nan}  # type: ignore[return-value]


def test_handler_answers_that_are_not_plain_results() -> None:
    with serving_in_thread(_Answers().app) as url, httpx.Client(base_url=url) as client:
        # An HTTPException is the handler's chosen answer; FastAPI gives it as is upstream.
        refused = client.post("/refuse", json={"n": 7})
        assert (refused.status_code, refused.json()) == (409, {"detail": "session 7 is closed"})
        reply = client.post("/not_json", json={"n": 1})
        assert reply.status_code == 500
        assert reply.json()["error"].startswith("/not_json returned a result that is not JSON: ")
        reply = client.post("/verify", json={**RCP, "response": answer("x")})
        assert reply.status_code == 500
        assert reply.json()["error"].startswith("/verify returned a result that is not JSON: ")
        # The same keep-alive connection still serves: the agent reuses it for the next call.
        assert client.get("/").status_code == 200
