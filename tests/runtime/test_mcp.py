"""``expose_tools_over_mcp``: a gymkit server's tools over MCP, driven by the SDK's own client.

The server runs under uvicorn on loopback; seed and verify go over plain HTTP with the rollout's
cookie, as NeMo Gym's claude_code_agent sends them, and the tools over ``/mcp`` with the token.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import HTTPException, Request
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from pydantic import BaseModel, Field

from gymkit import BaseResourcesServer, BaseSeedSessionRequest, BaseSeedSessionResponse, BaseVerifyRequest
from gymkit import BaseVerifyResponse as VerifyResponse
from gymkit.errors import ServerLoadError
from gymkit.project import ServerPaths, load_server
from gymkit.runtime import mcp as exposure
from gymkit.runtime.config import Domain, ResourcesServerConfig
from gymkit.runtime.server import RESERVED_ROUTES, SESSION_ID_KEY
from gymkit.runtime.serving import serving_in_thread

T = TypeVar("T")
RCP = {"responses_create_params": {"input": [{"role": "user", "content": "Add 1 and 2."}]}}
HEADER = "X-NeMo-Gym-Session-Token"  # upstream's NEMO_GYM_MCP_SESSION_TOKEN_HEADER, spelled out on purpose


class AddRequest(BaseModel):
    amount: int = Field(ge=1)


class Total(BaseModel):
    total: int


class ShelfRequest(BaseModel):
    shelf: str


class Empty(BaseModel):
    pass


class Tally(BaseResourcesServer):
    async def seed_session(self, body: BaseSeedSessionRequest) -> BaseSeedSessionResponse:
        self.session["total"] = 0
        return BaseSeedSessionResponse()

    async def add(self, body: AddRequest) -> Total:
        """Add an amount to this rollout's total."""
        self.session["total"] = self.session.get("total", 0) + body.amount
        return Total(total=self.session["total"])

    async def shelf(self, body: ShelfRequest) -> Total:
        """Look a shelf up."""
        raise HTTPException(status_code=404, detail=f"no shelf named {body.shelf}")

    async def whoami(self, request: Request, body: Empty) -> dict[str, Any]:
        """The session id, read as upstream's handlers read it."""
        return {"session_id": request.session[SESSION_ID_KEY]}

    async def echo(self, request: Request, body: Empty) -> dict[str, Any]:
        """What the handler sees of its request: disconnect polls around the body read, the URL."""
        before = [await request.is_disconnected(), await request.is_disconnected()]
        raw = (await request.body()).decode()
        after = [await request.is_disconnected(), await request.is_disconnected()]
        return {"disconnected": [before, after], "raw": raw, "path": request.url.path, "query": request.url.query}

    async def aggregate_metrics(self, body: Empty) -> dict[str, Any]:
        return {}

    async def verify(self, body: BaseVerifyRequest) -> VerifyResponse:
        called = {item.name for item in body.response.output if getattr(item, "type", None) == "function_call"}
        reward = float(self.session.get("total") == 3 and "add" in called)
        return VerifyResponse(**body.model_dump(), reward=reward)


def _config(on: bool) -> ResourcesServerConfig:
    return ResourcesServerConfig(domain=Domain.OTHER, expose_tools_over_mcp=on)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serving_in_thread(Tally(_config(True), name="tally").app) as base:
        yield base


def _mcp(url: str, work: Callable[[ClientSession], Awaitable[T]], token: str | None = None) -> T:
    async def run() -> T:
        headers = {HEADER: token} if token is not None else {}
        async with (
            httpx.AsyncClient(headers=headers, timeout=30) as http,
            streamable_http_client(url + "/mcp", http_client=http) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await work(session)

    return asyncio.run(run())


def _call(url: str, name: str, arguments: dict[str, Any], token: str | None) -> Any:
    async def work(session: ClientSession) -> Any:
        return await session.call_tool(name, arguments)

    return _mcp(url, work, token)


def _rpc(url: str, payload: Any, token: str | None = None, path: str = "/mcp", **headers: str) -> httpx.Response:
    """A raw POST to the endpoint, for what the SDK's client never sends."""
    sent = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json", **headers}
    if token is not None:
        sent[HEADER] = token
    content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return httpx.post(url + path, content=content, headers=sent, timeout=30)


def _tool_call(name: str, arguments: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": arguments}}


def _seed(client: httpx.Client, url: str) -> dict[str, Any]:
    reply = client.post(url + "/seed_session", json={})
    assert reply.status_code == 200, reply.text
    metadata: dict[str, Any] = reply.json()["mcp"]
    return metadata


def _trajectory(*names: str) -> dict[str, Any]:
    calls = [
        {"type": "function_call", "call_id": f"c{i}", "name": name, "arguments": "{}"} for i, name in enumerate(names)
    ]
    text = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "3"}]}
    return {**RCP, "response": {"id": "r", "model": "m", "output": [*calls, text]}}


def test_tools_list_has_each_tool_with_its_schema_and_docstring(url: str) -> None:
    async def work(session: ClientSession) -> Any:
        return await session.list_tools()

    listed = {tool.name: tool for tool in _mcp(url, work).tools}
    # aggregate_metrics is a POST route of this server, not a tool.
    assert sorted(listed) == ["add", "echo", "shelf", "whoami"]
    assert listed["add"].inputSchema == AddRequest.model_json_schema()
    assert listed["add"].description == "Add an amount to this rollout's total."
    assert listed["shelf"].inputSchema["required"] == ["shelf"]


def test_a_reserved_route_called_as_a_tool_is_unknown_and_runs_nothing(url: str) -> None:
    with httpx.Client() as rollout:
        token = _seed(rollout, url)["headers"][HEADER]
        assert _call(url, "add", {"amount": 1}, token).structuredContent == {"total": 1}
        # seed_session would zero the total; verify and aggregate_metrics take these bodies too.
        bodies = {"seed_session": {}, "verify": _trajectory("add"), "aggregate_metrics": {}, "mcp": {}}
        for name in sorted(RESERVED_ROUTES):
            result = _call(url, name, bodies.get(name, {}), token)
            assert result.isError and result.content[0].text.startswith(f"unknown tool {name!r}"), name
        assert rollout.post(url + "/add", json={"amount": 2}).json() == {"total": 3}


def test_a_tool_called_over_mcp_changes_the_state_verify_reads_over_http(url: str) -> None:
    with httpx.Client() as rollout, httpx.Client() as other:
        metadata = _seed(rollout, url)
        assert metadata["server_name"] == "tally" and metadata["url_path"] == "/mcp"
        assert metadata["transport"] == "http" and set(metadata["headers"]) == {HEADER}
        token = metadata["headers"][HEADER]
        other_token = _seed(other, url)["headers"][HEADER]
        assert other_token != token

        first = _call(url, "add", {"amount": 1}, token)
        assert not first.isError and first.structuredContent == {"total": 1}
        assert json.loads(first.content[0].text) == {"total": 1}
        # The HTTP route still serves the same session, through the cookie.
        assert rollout.post(url + "/add", json={"amount": 2}).json() == {"total": 3}
        assert _call(url, "add", {"amount": 1}, other_token).structuredContent == {"total": 1}

        # An MCP-native agent records the call namespaced; verify scores it as the tool's own name.
        reply = rollout.post(url + "/verify", json=_trajectory("mcp__tally__add"))
        assert reply.status_code == 200, reply.text
        assert reply.json()["reward"] == 1.0
        assert reply.json()["response"]["output"][0]["name"] == "mcp__tally__add"  # the rollout keeps it as emitted
        assert rollout.post(url + "/verify", json=_trajectory("mcp__another_server__add")).json()["reward"] == 0.0
        assert other.post(url + "/verify", json=_trajectory("add")).json()["reward"] == 0.0  # total 1 there


def test_handlers_that_read_request_session_see_the_seeded_session(url: str) -> None:
    with httpx.Client() as rollout:
        token = _seed(rollout, url)["headers"][HEADER]
        over_http = rollout.post(url + "/whoami", json={}).json()["session_id"]
        assert _call(url, "whoami", {}, token).structuredContent == {"session_id": over_http}


def test_a_call_without_the_token_or_with_a_forged_one_is_refused_and_changes_nothing(url: str) -> None:
    with httpx.Client() as rollout:
        token = _seed(rollout, url)["headers"][HEADER]
        missing = _call(url, "add", {"amount": 3}, None)
        assert missing.isError and f"needs the {HEADER} header" in missing.content[0].text
        session_id, _, mac = token.partition(".")
        cookie = next(iter(rollout.cookies.values()))
        for forged in (f"{session_id}.{mac[::-1]}", session_id, cookie, "x" * 500):
            result = _call(url, "add", {"amount": 3}, forged)
            assert result.isError, forged
            assert "not a token this server signed" in result.content[0].text
        assert rollout.post(url + "/verify", json=_trajectory("add")).json()["reward"] == 0.0
        assert not _call(url, "add", {"amount": 3}, token).isError
        assert rollout.post(url + "/verify", json=_trajectory("add")).json()["reward"] == 1.0


def test_a_token_sent_as_the_cookie_or_the_cookie_as_the_token_is_refused(url: str) -> None:
    with httpx.Client() as rollout:
        token = _seed(rollout, url)["headers"][HEADER]
        (cookie_name, cookie), *_ = rollout.cookies.items()
        assert rollout.post(url + "/add", json={"amount": 1}).json() == {"total": 1}
        # The token as the cookie opens a session of its own: the rollout's total is not its.
        as_cookie = httpx.post(url + "/add", json={"amount": 5}, cookies={cookie_name: token})
        assert as_cookie.json() == {"total": 5} and cookie_name in as_cookie.cookies
        result = _call(url, "add", {"amount": 5}, cookie)
        assert result.isError and "not a token this server signed" in result.content[0].text
        assert rollout.post(url + "/add", json={"amount": 2}).json() == {"total": 3}


def test_a_token_from_another_server_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # With a secret shared through the environment both servers would sign alike.
    monkeypatch.delenv("GYMKIT_SESSION_SECRET", raising=False)
    with serving_in_thread(Tally(_config(True), name="tally").app) as elsewhere, httpx.Client() as rollout:
        token = _seed(rollout, elsewhere)["headers"][HEADER]
        assert not _call(elsewhere, "add", {"amount": 1}, token).isError
    with serving_in_thread(Tally(_config(True), name="tally").app) as here:
        result = _call(here, "add", {"amount": 1}, token)
    assert result.isError and "not a token this server signed" in result.content[0].text


def test_an_http_exception_is_a_tool_error_with_the_routes_status_and_text(url: str) -> None:
    with httpx.Client() as rollout:
        token = _seed(rollout, url)["headers"][HEADER]
        assert rollout.post(url + "/shelf", json={"shelf": "top"}).status_code == 404
        result = _call(url, "shelf", {"shelf": "top"}, token)
    assert result.isError
    assert result.content[0].text == "HTTP 404 from POST /shelf: no shelf named top"


def test_invalid_arguments_are_the_routes_validation_error(url: str) -> None:
    with httpx.Client() as rollout:
        token = _seed(rollout, url)["headers"][HEADER]
        over_http = rollout.post(url + "/add", json={"amount": 0}).json()["error"]
        for arguments in ({"amount": 0}, {"amount": "many"}, {}):
            result = _call(url, "add", arguments, token)
            assert result.isError, arguments
            assert result.content[0].text.startswith("HTTP 422 from POST /add: invalid body for /add: amount: ")
        assert _call(url, "add", {"amount": 0}, token).content[0].text == f"HTTP 422 from POST /add: {over_http}"
        unknown = _call(url, "subtract", {"amount": 1}, token)
        assert unknown.isError and "unknown tool 'subtract'" in unknown.content[0].text


def test_with_the_flag_off_there_is_no_mcp_endpoint_and_no_mcp_metadata() -> None:
    for config in (_config(False), None):
        with serving_in_thread(Tally(config, name="tally").app) as base, httpx.Client() as rollout:
            seeded = rollout.post(base + "/seed_session", json={})
            assert seeded.status_code == 200 and "mcp" not in seeded.json()
            ping = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
            headers = {"Accept": "application/json, text/event-stream"}
            assert rollout.post(base + "/mcp", json=ping, headers=headers).status_code == 404
            assert rollout.post(base + "/mcp/", json=ping, headers=headers).status_code == 404


def test_a_handler_sees_its_request_over_mcp_as_over_http(url: str) -> None:
    with httpx.Client() as rollout:
        token = _seed(rollout, url)["headers"][HEADER]
        over_http = rollout.post(url + "/echo?via=http", content=b"{}").json()
        assert over_http == {"disconnected": [[False] * 2] * 2, "raw": "{}", "path": "/echo", "query": "via=http"}
        # Through the SDK's client, and raw through /mcp/ (a mount) with a query of its own.
        assert _call(url, "echo", {}, token).structuredContent == {**over_http, "query": ""}
        reply = _rpc(url, _tool_call("echo", {}), token, path="/mcp/?via=mcp")
        assert reply.json()["result"]["structuredContent"] == {**over_http, "query": ""}


def test_behind_a_proxy_prefix_a_handler_sees_the_prefixed_route_path_over_both() -> None:
    from starlette.testclient import TestClient

    with TestClient(Tally(_config(True), name="tally").app, root_path="/api") as client:
        token = client.post("/api/seed_session", json={}).json()["mcp"]["headers"][HEADER]
        assert client.post("/api/echo", json={}).json()["path"] == "/api/echo"
        headers = {HEADER: token, "Accept": "application/json, text/event-stream"}
        for path in ("/api/mcp", "/api/mcp/"):
            reply = client.post(path, json=_tool_call("echo", {}), headers=headers)
            assert reply.json()["result"]["structuredContent"]["path"] == "/api/echo", path


def test_get_on_the_endpoint_is_405_allowing_post_with_no_stream_left_open(url: str) -> None:
    for accept in ("text/event-stream", "application/json, text/event-stream"):
        reply = httpx.get(url + "/mcp", headers={"Accept": accept}, timeout=5)
        assert reply.status_code == 405 and reply.headers["allow"] == "POST"
        assert "POST only" in reply.json()["error"]["message"]


def test_arguments_nested_too_deep_are_a_400_in_one_line_and_the_server_goes_on(url: str) -> None:
    with httpx.Client() as rollout:
        token = _seed(rollout, url)["headers"][HEADER]
        deep = b"[" * 100_000 + b"]" * 100_000
        body = json.dumps(_tool_call("add", {"amount": 1, "x": 0})).encode().replace(b"0}}}", deep + b"}}}")
        reply = _rpc(url, body, token)
        assert reply.status_code == 400, reply.text
        message = reply.json()["error"]["message"]
        assert message.startswith("Parse error: the JSON is nested too deep") and "\n" not in message
        assert _call(url, "add", {"amount": 1}, token).structuredContent == {"total": 1}


def test_one_app_on_two_listeners_keeps_serving_mcp_on_one_when_the_other_stops() -> None:
    app = Tally(_config(True), name="tally").app
    ping = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    with serving_in_thread(app) as first, httpx.Client() as rollout:
        with serving_in_thread(app) as second:
            assert _rpc(first, ping).status_code == _rpc(second, ping).status_code == 200
        assert _rpc(first, ping).status_code == 200
        token = _seed(rollout, first)["headers"][HEADER]
        assert _call(first, "add", {"amount": 2}, token).structuredContent == {"total": 2}


class SeedWithMcp(BaseSeedSessionResponse):
    mcp: dict[str, Any] | None = None


class OwnMcpKey(Tally):
    async def seed_session(self, body: BaseSeedSessionRequest) -> SeedWithMcp:
        self.session["total"] = 0
        return SeedWithMcp(mcp={"server_name": "not this one"})


def test_a_seed_answer_with_its_own_mcp_key_gets_the_rollouts_metadata_there() -> None:
    with serving_in_thread(OwnMcpKey(_config(True), name="own").app) as base, httpx.Client() as rollout:
        metadata = _seed(rollout, base)
        assert metadata["server_name"] == "own" and set(metadata["headers"]) == {HEADER}
        assert _call(base, "add", {"amount": 1}, metadata["headers"][HEADER]).structuredContent == {"total": 1}


class Stalls(BaseResourcesServer):
    entered = threading.Event()

    async def stall(self, body: Empty) -> Total:
        """Never answers."""
        type(self).entered.set()
        await asyncio.Event().wait()
        return Total(total=0)


def test_shutdown_with_a_tool_call_in_flight_is_bounded_and_the_app_serves_again() -> None:
    app = Stalls(_config(True), name="stalls").app
    with serving_in_thread(app) as base, httpx.Client() as rollout:
        token = _seed(rollout, base)["headers"][HEADER]
        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "stall", "arguments": {}}}
        headers = {HEADER: token, "Accept": "application/json, text/event-stream"}

        def post() -> None:
            with contextlib.suppress(httpx.HTTPError):  # the server going away under the call is the point
                httpx.post(base + "/mcp", json=call, headers=headers, timeout=30)

        caller = threading.Thread(target=post, daemon=True)
        caller.start()
        assert Stalls.entered.wait(10)
        started = time.monotonic()
    stopped = time.monotonic() - started
    assert stopped < 8, f"the server took {stopped:.1f} s to stop"  # serving_in_thread gives up at 10 s
    caller.join(10)
    assert not caller.is_alive()
    # A session manager runs once; the next lifespan gets a new one.
    with serving_in_thread(app) as base:

        async def work(session: ClientSession) -> Any:
            return await session.list_tools()

        assert [tool.name for tool in _mcp(base, work).tools] == ["stall"]


def test_bare_tool_name_takes_off_only_this_servers_prefix() -> None:
    assert exposure.bare_tool_name("mcp__tally__add", "tally") == "add"
    assert exposure.bare_tool_name("mcp__tally__my__tool", "tally") == "my__tool"
    assert exposure.bare_tool_name("mcp__other__add", "tally") == "mcp__other__add"
    assert exposure.bare_tool_name("add", "tally") == "add"
    assert exposure.bare_tool_name("mcp__tally__", "tally") == "mcp__tally__"


class Accented(BaseResourcesServer):
    async def météo(self, body: Empty) -> Total:
        return Total(total=0)


def test_a_tool_name_mcp_cannot_carry_stops_the_start_naming_the_tool() -> None:
    assert Accented(_config(False)).app  # without the flag the name is fine
    with pytest.raises(ServerLoadError) as raised:
        _ = Accented(_config(True)).app
    message = raised.value.message
    assert "'météo'" in message and "[A-Za-z0-9_-]+" in message and "\n" not in message


APP = """from gymkit import BaseResourcesServer, BaseVerifyRequest, BaseVerifyResponse


class Srv(BaseResourcesServer):
    async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse:
        return BaseVerifyResponse(**body.model_dump(), reward=0.0)


server = Srv()
"""
CONFIG = """srv:
  resources_servers:
    srv:
      entrypoint: app.py
      domain: other
      expose_tools_over_mcp: true
"""


def test_without_the_sdk_the_start_fails_in_one_line_naming_the_config_and_the_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "resources_servers" / "srv"
    (folder / "configs").mkdir(parents=True)
    (folder / "app.py").write_text(APP)
    (folder / "configs" / "srv.yaml").write_text(CONFIG)
    server = load_server(ServerPaths(folder))
    find_spec = exposure.importlib.util.find_spec
    monkeypatch.setattr(
        exposure.importlib.util, "find_spec", lambda name, *rest: None if name == "mcp" else find_spec(name, *rest)
    )
    with pytest.raises(ServerLoadError) as raised:
        _ = server.app
    message = raised.value.message
    assert message.startswith(f"{folder / 'configs' / 'srv.yaml'}: expose_tools_over_mcp is true")
    assert message.endswith("pip install 'gymkit[mcp]'") and "\n" not in message


def _mcp_rollout(*amounts: int) -> dict[str, Any]:
    calls = [
        {"type": "function_call", "call_id": f"c{i}", "name": "mcp__tally__add", "arguments": json.dumps({"amount": a})}
        for i, a in enumerate(amounts)
    ]
    text = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "3"}]}
    return {**RCP, "response": {"id": "r", "model": "m", "output": [*calls, text]}}


def test_replaying_an_mcp_agents_rollout_calls_the_bare_routes(url: str) -> None:
    from gymkit.reverify import _replayed

    # An MCP-native agent recorded mcp__tally__add; the replay rebuilds the total over HTTP.
    with httpx.Client(timeout=30) as client:
        assert _replayed(client, url, _mcp_rollout(1, 2), 30) == (1.0, None)
        assert _replayed(client, url, _mcp_rollout(1, 1), 30) == (0.0, None)


def test_the_profile_counts_an_mcp_agents_calls_under_the_tool() -> None:
    from gymkit.profiling.grouping import tool_use
    from gymkit.runtime.wire import tool_route

    assert tool_use(_mcp_rollout(1, 2)).calls == {"add": 2}
    assert [tool_route(n) for n in ("add", "mcp__srv__add", "mcp__srv__", "mcp__x")] == [
        "add",
        "add",
        "mcp__srv__",
        "mcp__x",
    ]


class Narrowed(Tally):
    """Upstream's per-session hook: the seed body says which tools this rollout may call over MCP."""

    def mcp_allowed_tools_for_session(self, seed_body: dict[str, Any]) -> list[str] | None:
        return seed_body.get("allowed_tools")


def _tools_listed(url: str, token: str | None) -> list[str]:
    async def work(session: ClientSession) -> list[str]:
        return [tool.name for tool in (await session.list_tools()).tools]

    return _mcp(url, work, token)


def test_a_narrowed_token_lists_and_calls_only_its_tools_and_cannot_be_widened() -> None:
    with serving_in_thread(Narrowed(_config(True), name="tally").app) as url, httpx.Client() as rollout:
        reply = rollout.post(url + "/seed_session", json={"allowed_tools": ["add"]})
        token = reply.json()["mcp"]["headers"][HEADER]
        assert _tools_listed(url, token) == ["add"]
        assert "whoami" in _tools_listed(url, None)  # without a token: every tool, as before
        assert _call(url, "add", {"amount": 3}, token).structuredContent == {"total": 3}
        refused = _call(url, "whoami", {}, token)
        assert (
            refused.isError and "'whoami' is not one this rollout may call; it may call: add" in refused.content[0].text
        )
        # The allow-list is signed with the id: another list under the same MAC is not a token.
        session_id, _claim, mac = token.split(".")
        widened = base64.urlsafe_b64encode(b'["add","whoami"]').rstrip(b"=").decode()
        for forged in (f"{session_id}.{widened}.{mac}", f"{session_id}.{mac}"):
            result = _call(url, "whoami", {}, forged)
            assert result.isError and "not a token this server signed" in result.content[0].text, forged
        assert rollout.post(url + "/whoami", json={}).status_code == 200  # HTTP is not narrowed, as upstream's
        unrestricted = httpx.post(url + "/seed_session", json={}).json()["mcp"]["headers"][HEADER]
        assert unrestricted.count(".") == 1 and not _call(url, "whoami", {}, unrestricted).isError


def test_a_hook_naming_a_tool_the_server_lacks_fails_the_seed_in_one_line_and_starts_no_rollout() -> None:
    with serving_in_thread(Narrowed(_config(True), name="tally").app) as url, httpx.Client() as rollout:
        reply = rollout.post(url + "/seed_session", json={"allowed_tools": ["add", "fly"]})
        assert reply.status_code == 500
        assert reply.json()["error"] == "mcp_allowed_tools_for_session named tools this server does not serve: ['fly']"
        assert not rollout.cookies


def test_an_allow_list_too_long_for_a_token_fails_the_seed_at_once_not_every_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Minted, such a token would be refused by every tools/call as "not a token this server signed".
    with serving_in_thread(Narrowed(_config(True), name="tally").app) as url, httpx.Client() as rollout:
        one = rollout.post(url + "/seed_session", json={"allowed_tools": ["add"]}).json()["mcp"]["headers"][HEADER]
        monkeypatch.setattr(exposure, "_MAX_TOKEN_LENGTH", len(one))  # room for one tool's name, not two
        rollout.cookies.clear()
        reply = rollout.post(url + "/seed_session", json={"allowed_tools": ["add", "whoami"]})
        assert reply.status_code == 500
        assert reply.json()["error"].startswith("the tools this rollout may call make an MCP token of ")
        assert not rollout.cookies
