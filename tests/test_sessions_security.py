"""Session cookies against a client that forges, replays, floods or mangles them, over real HTTP."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator

import httpx
import itsdangerous
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
from gymkit.errors import UserError
from gymkit.runtime.server import SESSION_ID_KEY
from gymkit.runtime.serving import serving_in_thread
from gymkit.runtime.sessions import (
    MAX_ANONYMOUS_SESSIONS,
    MAX_SESSIONS,
    SESSION_IDLE_TTL,
    SESSION_IDLE_TTL_ENV,
    SESSION_SECRET_ENV,
    SessionCookie,
    SessionStore,
)

RCP = {"responses_create_params": {"input": [{"role": "user", "content": "hi"}]}}
RESPONSE = {"id": "r", "model": "m", "output": []}
NAME = "Vault___vault"


class _Seed(BaseSeedSessionRequest):
    secret: str = ""


class _Empty(BaseModel):
    pass


class _Peek(BaseModel):
    secret: str
    session_id: str


class Vault(BaseResourcesServer):
    async def seed_session(self, body: _Seed) -> BaseSeedSessionResponse:
        self.session["secret"] = body.secret
        return BaseSeedSessionResponse()

    async def peek(self, request: Request, body: _Empty) -> _Peek:
        """The rollout's secret, and the session id an upstream-style handler would key its state by."""
        return _Peek(secret=self.session.get("secret", ""), session_id=request.session[SESSION_ID_KEY])

    async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse:
        secret = self.session.get("secret")
        return BaseVerifyResponse(**body.model_dump(), reward=float(bool(secret)), secret_seen=secret)


@pytest.fixture
def vault(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Vault, str]]:
    monkeypatch.delenv(SESSION_SECRET_ENV, raising=False)
    server = Vault(name="vault")
    with serving_in_thread(server.app) as url:
        yield server, url


@pytest.fixture(scope="module")
def shared_vault() -> Iterator[tuple[Vault, str]]:
    """One server for the many cases that check only the answer, not the counters."""
    server = Vault(name="vault")
    with serving_in_thread(server.app) as url:
        yield server, url


@contextlib.contextmanager
def seeded(url: str, secret: str) -> Iterator[httpx.Client]:
    """A rollout's client: seeded, its cookie in the jar."""
    with httpx.Client(base_url=url) as client:
        reply = client.post("/seed_session", json={**RCP, "secret": secret})
        assert reply.status_code == 200, reply.text
        yield client


def peek(url: str, cookie: str | bytes | None = None) -> httpx.Response:
    headers = {"Cookie": cookie} if cookie is not None else {}
    reply = httpx.post(url + "/peek", json={}, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply


def starlette_cookie(key: str, payload: object) -> str:
    """A cookie as starlette's SessionMiddleware signs it, with upstream's name-derived key."""
    data = base64.b64encode(json.dumps(payload).encode())
    return itsdangerous.TimestampSigner(key).sign(data).decode()


def name_keyed_mac(session_id: str) -> str:
    digest = hmac.new(NAME.encode(), session_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_cookie_signed_with_the_cookies_own_name_is_refused(vault: tuple[Vault, str]) -> None:
    server, url = vault
    with seeded(url, "alpha") as victim:
        victim_id = victim.post("/peek", json={}).json()["session_id"]
        forgeries = [
            # The measured attack: the id read off the victim's cookie, re-signed with the key
            # anyone can derive from the cookie's name.
            starlette_cookie(NAME, {SESSION_ID_KEY: victim_id}),
            # The same trick in the new cookie's shape.
            f"{victim_id}.{name_keyed_mac(victim_id)}",
            f"{victim_id}.",
            victim_id,
        ]
        for forged in forgeries:
            reply = peek(url, f"{NAME}={forged}")
            assert reply.json()["secret"] == ""
            assert reply.json()["session_id"] != victim_id
            assert NAME in reply.cookies
        # The victim's rollout still reads its own state.
        assert victim.post("/peek", json={}).json() == {"secret": "alpha", "session_id": victim_id}
    assert server.sessions.counts()["refused_cookies"] == len(forgeries)


def test_a_session_id_the_client_chose_is_never_used(vault: tuple[Vault, str]) -> None:
    server, url = vault
    chosen = "0123456789abcdef" * 2
    for cookie in (starlette_cookie(NAME, {SESSION_ID_KEY: chosen}), f"{chosen}.AAAA"):
        assert peek(url, f"{NAME}={cookie}").json()["session_id"] != chosen
        seed = httpx.post(url + "/seed_session", json=RCP, headers={"Cookie": f"{NAME}={cookie}"})
        assert seed.status_code == 200
        assert not seed.cookies[NAME].startswith(chosen)
    assert server.sessions.get(chosen) is None


def test_the_cookie_carries_only_a_signed_server_issued_id(vault: tuple[Vault, str]) -> None:
    _, url = vault
    with seeded(url, "top secret") as client:
        value = client.cookies[NAME]
        session_id, _, mac = value.partition(".")
        assert client.post("/peek", json={}).json()["session_id"] == session_id
        assert len(session_id) == 32 and len(mac) == 43
        # Nothing of the state travels: not in the cookie, not base64-encoded in it.
        assert "secret" not in value and b"secret" not in base64.urlsafe_b64decode(mac + "=")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        ".",
        "....",
        "!!!not base64!!!",
        "x" * 5000,
        "eyJzZXNzaW9uX2lkIjogWzFdfQ==",  # base64 JSON, unsigned
        starlette_cookie(NAME, {SESSION_ID_KEY: ["a", "list"]}),
        starlette_cookie(NAME, {SESSION_ID_KEY: {"a": "dict"}}),
        starlette_cookie(NAME, {SESSION_ID_KEY: 42}),
        starlette_cookie(NAME, ["not", "a", "dict"]),
        starlette_cookie(NAME, "a string"),
        "0" * 32 + "." + "A" * 43,
        "0" * 32 + "." + "A" * 500,
        "Z" * 32 + ".abc",
        '"quoted value"',
    ],
)
@pytest.mark.parametrize("route", ["peek", "seed_session", "verify"])
def test_a_malformed_cookie_is_no_session_never_a_500(shared_vault: tuple[Vault, str], value: str, route: str) -> None:
    server, url = shared_vault
    body = {**RCP, "response": RESPONSE} if route == "verify" else RCP
    reply = httpx.post(f"{url}/{route}", json=body, headers={"Cookie": f"{NAME}={value}"})
    assert reply.status_code == 200, reply.text
    # A fresh, server-issued session instead.
    assert SessionCookie(NAME, b"").read(reply.cookies.get(NAME)) is None  # signed with the server's secret...
    assert server.sessions.get(reply.cookies[NAME].partition(".")[0]) is not None  # ...and live


def test_cookie_bytes_that_are_not_ascii_are_no_session(shared_vault: tuple[Vault, str]) -> None:
    _, url = shared_vault
    for raw in (f"{NAME}=caf\u00e9".encode("latin-1"), f"{NAME}=\u00ff\u00fe.\u00e9".encode("latin-1"), b"\xff\xfe=1"):
        reply = httpx.post(url + "/peek", json={}, headers={"Cookie": raw})
        assert reply.status_code == 200
        assert reply.json()["secret"] == ""


@pytest.mark.parametrize("value", [None, 7, ["a"], {"a": 1}, b"bytes", "x" * 129])
def test_read_refuses_values_of_any_other_type(value: object) -> None:
    cookie = SessionCookie(NAME, b"k" * 32)
    assert cookie.read(value) is None
    session_id, good = cookie.issue()
    assert cookie.read(good) == session_id


def _flood(url: str, count: int) -> None:
    # Several keep-alive connections at once, as a client hammering the server would.
    with httpx.Client(base_url=url) as client:
        for _ in range(count):
            client.cookies.clear()
            assert client.post("/peek", json={}).status_code == 200


def test_anonymous_flood_past_the_bound_keeps_a_seeded_session(vault: tuple[Vault, str]) -> None:
    server, url = vault
    server.sessions.max_seeded = 4
    server.sessions.max_anonymous = 8
    with seeded(url, "alpha") as victim:
        _flood(url, 8 + 50)
        counts = server.sessions.counts()
        assert counts["evicted_anonymous"] == 50 and counts["live_anonymous"] == 8
        assert counts["evicted_seeded"] == 0
        assert victim.post("/peek", json={}).json()["secret"] == "alpha"
        verify = victim.post("/verify", json={**RCP, "response": RESPONSE}).json()
        assert verify["secret_seen"] == "alpha"


def test_anonymous_flood_at_the_default_bounds_keeps_a_seeded_session(vault: tuple[Vault, str]) -> None:
    """With the default bounds the flood that evicts sessions is MAX_ANONYMOUS_SESSIONS + 50
    requests: anonymous ones never count against MAX_SESSIONS, so 100,050 of them evict no more
    seeded sessions than 1,074 do (none); the next test counts all 100,050."""
    server, url = vault
    assert (server.sessions.max_seeded, server.sessions.max_anonymous) == (MAX_SESSIONS, MAX_ANONYMOUS_SESSIONS)
    with seeded(url, "alpha") as victim:
        _flood(url, MAX_ANONYMOUS_SESSIONS + 50)
        counts = server.sessions.counts()
        assert counts["evicted_anonymous"] == 50 and counts["evicted_seeded"] == 0
        assert victim.post("/peek", json={}).json()["secret"] == "alpha"


def test_seeded_sessions_go_oldest_first_and_the_eviction_is_logged(
    vault: tuple[Vault, str], caplog: pytest.LogCaptureFixture
) -> None:
    server, url = vault
    server.sessions.max_seeded = 2
    with contextlib.ExitStack() as stack:
        with caplog.at_level(logging.WARNING, logger="gymkit.runtime.server"):
            first, second, third = (stack.enter_context(seeded(url, s)) for s in ("one", "two", "three"))
        assert server.sessions.counts()["evicted_seeded"] == 1
        assert "evicted the least recently used seeded session" in caplog.text
        # The evicted rollout is told its session is gone, never served on empty state.
        reply = first.post("/peek", json={})
        assert reply.status_code == 410 and "max_sessions = 2" in reply.json()["detail"]
        assert second.post("/peek", json={}).json()["secret"] == "two"
        assert third.post("/peek", json={}).json()["secret"] == "three"
    assert server.sessions.counts()["unknown_ids"] == 1


def test_random_secrets_differ_per_server_and_an_environment_secret_is_shared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SESSION_SECRET_ENV, raising=False)
    with serving_in_thread(Vault(name="vault").app) as a, serving_in_thread(Vault(name="vault").app) as b:
        with seeded(a, "alpha") as client:
            cookie = f"{NAME}={client.cookies[NAME]}"
        assert peek(b, cookie).json()["session_id"] != cookie.partition("=")[2].partition(".")[0]

    monkeypatch.setenv(SESSION_SECRET_ENV, "s" * 40)
    with serving_in_thread(Vault(name="vault").app) as a, serving_in_thread(Vault(name="vault").app) as b:
        with seeded(a, "alpha") as client:
            value = client.cookies[NAME]
        # Another process with the same secret knows the id as one of its own (its state is not shared).
        assert peek(b, f"{NAME}={value}").json() == {"secret": "", "session_id": value.partition(".")[0]}


def test_a_short_environment_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SESSION_SECRET_ENV, "short")
    with pytest.raises(UserError, match="GYMKIT_SESSION_SECRET is 5 characters"):
        _ = Vault().app


def test_a_hundred_thousand_anonymous_requests_evict_no_seeded_session(vault: tuple[Vault, str]) -> None:
    """The measured flood at full size, MAX_SESSIONS + 50 cookieless requests, through the code
    that picks each request's session. Over HTTP it takes minutes on two shared cores (about
    700 requests a second), so the HTTP tests above use MAX_ANONYMOUS_SESSIONS + 50."""
    server, url = vault
    with seeded(url, "alpha") as victim:
        cookie = server.app.state.session_cookie
        scope = {"type": "http", "method": "POST", "path": "/peek", "headers": []}
        for _ in range(MAX_SESSIONS + 50):
            session, value = server._open_session(Request(scope), cookie, seeding=False)
            assert session is not None and not session.seeded and value
        counts = server.sessions.counts()
        assert counts["live_seeded"] == 1 and counts["evicted_seeded"] == 0
        assert counts["evicted_anonymous"] == MAX_SESSIONS + 50 - MAX_ANONYMOUS_SESSIONS
        assert victim.post("/peek", json={}).json()["secret"] == "alpha"


# --- a seeded session that went is never served on empty state ------------------------------


def _cookieless_seeds(url: str, count: int) -> None:
    with httpx.Client(base_url=url) as client:
        for _ in range(count):
            client.cookies.clear()
            assert client.post("/seed_session", json=RCP).status_code == 200


def _gone(reply: httpx.Response, why: str) -> None:
    assert reply.status_code == 410, reply.text
    detail = reply.json()["detail"]
    assert why in detail and "start the rollout again with /seed_session" in detail, detail


def test_a_seed_flood_that_evicts_a_rollout_gets_it_a_410_not_empty_state(vault: tuple[Vault, str]) -> None:
    """The reviewer's flood: max_sessions = 1000, a victim seeds, 1000 cookie-less seeds follow."""
    server, url = vault
    server.sessions.max_seeded = 1000
    with seeded(url, "alpha") as victim:
        _cookieless_seeds(url, 1000)
        assert server.sessions.counts()["evicted_seeded"] == 1
        _gone(victim.post("/peek", json={}), "evicted: more rollouts were open at once than max_sessions = 1000")
        _gone(victim.post("/verify", json={**RCP, "response": RESPONSE}), "max_sessions = 1000")
        assert server.sessions.counts()["refused_gone"] == 2
        # Seeding again with the dead cookie starts a new rollout, as it does without one.
        again = victim.post("/seed_session", json={**RCP, "secret": "beta"})
        assert again.status_code == 200 and victim.post("/peek", json={}).json()["secret"] == "beta"
    # Requests without a cookie, and the flood's own live rollouts, are served as before.
    assert peek(url).json()["secret"] == ""


def test_an_eviction_past_the_remembered_ids_is_still_refused(vault: tuple[Vault, str]) -> None:
    server, url = vault
    server.sessions.max_seeded = 2
    server.sessions.max_evicted_ids = 3
    with seeded(url, "alpha") as victim:
        _cookieless_seeds(url, 20)  # 19 evicted after the victim: its id is long forgotten
        assert len(server.sessions._gone) == 3
        _gone(victim.post("/verify", json={**RCP, "response": RESPONSE}), "expired or evicted a while ago")
    with seeded(url, "gamma") as later:  # an id issued after the forgotten ones is not refused
        assert later.post("/peek", json={}).json()["secret"] == "gamma"
    assert peek(url).status_code == 200


def test_sessions_idle_past_the_ttl_expire_first(vault: tuple[Vault, str]) -> None:
    server, url = vault
    server.sessions.idle_ttl = 2.0
    with seeded(url, "idle") as idle, seeded(url, "busy") as busy:
        time.sleep(1.3)
        assert busy.post("/peek", json={}).json()["secret"] == "busy"
        time.sleep(1.3)  # idle: 2.6 s without a request; busy: 1.3 s
        assert busy.post("/peek", json={}).json()["secret"] == "busy"
        _gone(idle.post("/peek", json={}), "expired after more than 2 s without a request")
    counts = server.sessions.counts()
    assert counts["expired_seeded"] == 1 and counts["evicted_seeded"] == 0 and counts["live_seeded"] == 1


def test_the_idle_ttl_comes_from_the_environment_and_a_bad_one_stops_the_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SESSION_IDLE_TTL_ENV, raising=False)
    assert SessionStore().idle_ttl == SESSION_IDLE_TTL
    monkeypatch.setenv(SESSION_IDLE_TTL_ENV, "90")
    assert SessionStore().idle_ttl == 90.0
    for bad in ("0", "-5", "soon", "inf", "nan"):
        monkeypatch.setenv(SESSION_IDLE_TTL_ENV, bad)
        with pytest.raises(UserError, match=f"{SESSION_IDLE_TTL_ENV} is '{bad}'"):
            _ = Vault().app
