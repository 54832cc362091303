"""Per-rollout sessions: who may name one, how long it lives, and what evicts it.

The cookie carries only a server-issued id and its HMAC, nothing else; the state stays in
the server. Why a signed id rather than starlette's signed JSON payload or a bare random id:

* the secret is random per server (or ``GYMKIT_SESSION_SECRET``), never derived from
  names a client can read, so a client cannot mint a cookie for an id of its choosing;
* a signature lets every process that shares the secret recognise its own ids without a
  shared store, which servers that keep their state elsewhere (keyed by the id, as
  upstream's examples do) need when they run behind a load balancer;
* no client-held payload means nothing to decode (no base64, JSON or types to trust) and
  no old cookie to replay to roll a session's state back.

Only ``/seed_session`` stores a session in the pool that lives for a rollout. A request
without a valid cookie gets a new id in a small separate pool, so a flood of anonymous
requests evicts only other anonymous sessions, never a seeded one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from gymkit.errors import UserError

__all__ = [
    "MAX_ANONYMOUS_SESSIONS",
    "MAX_SESSIONS",
    "SESSION_ID_KEY",
    "SESSION_MAX_AGE",
    "SESSION_SECRET_ENV",
    "Session",
    "SessionCookie",
    "SessionStore",
    "session_secret",
]

log = logging.getLogger("gymkit.server")

SESSION_ID_KEY = "session_id"
SESSION_SECRET_ENV = "GYMKIT_SESSION_SECRET"
# A GRPO job opens one seeded session per rollout; keep the most recently used ones.
MAX_SESSIONS = 100_000
# Tool calls without /seed_session first (smoke tests, curl) still get state across calls
# made with the cookie they are given, but only a few such sessions are worth keeping.
MAX_ANONYMOUS_SESSIONS = 1_024
# As starlette's SessionMiddleware, which upstream uses: two weeks.
SESSION_MAX_AGE = 14 * 24 * 3600
_MIN_SECRET_LENGTH = 32
_ID = re.compile(r"[0-9a-f]{32}")
# The id (32) + "." + the MAC (43): anything much longer is not ours and is not parsed.
_MAX_COOKIE_LENGTH = 128
_EVICTION_LOG_INTERVAL = 10.0


def session_secret() -> bytes:
    """``GYMKIT_SESSION_SECRET`` when set (processes that must accept each other's cookies), else random."""
    value = os.environ.get(SESSION_SECRET_ENV)
    if value is None:
        return secrets.token_bytes(32)
    if len(value) < _MIN_SECRET_LENGTH:
        raise UserError(
            f"{SESSION_SECRET_ENV} is {len(value)} characters; a session secret needs at least {_MIN_SECRET_LENGTH}",
            hint=f'generate one with: python -c "import secrets; print(secrets.token_hex(32))"; or unset '
            f"{SESSION_SECRET_ENV} for a random one per process",
        )
    return value.encode()


class SessionCookie:
    """Issues session ids and reads them back from cookie values, refusing any it did not sign."""

    def __init__(self, name: str, secret: bytes) -> None:
        self.name = name
        self._secret = secret

    def _mac(self, session_id: str) -> str:
        # The cookie's name is in the MAC: two servers sharing one secret behind one agent
        # still cannot be handed each other's cookies.
        digest = hmac.new(self._secret, f"{self.name}\0{session_id}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def issue(self) -> tuple[str, str]:
        """A new random id and the cookie value that carries it."""
        session_id = secrets.token_hex(16)
        return session_id, self.value(session_id)

    def value(self, session_id: str) -> str:
        return f"{session_id}.{self._mac(session_id)}"

    def read(self, value: object) -> str | None:
        """The id in a cookie value this server signed; None for anything else, whatever its shape."""
        if not isinstance(value, str) or len(value) > _MAX_COOKIE_LENGTH:
            return None
        session_id, dot, mac = value.partition(".")
        if not dot or not _ID.fullmatch(session_id):
            return None
        if not hmac.compare_digest(mac.encode("utf-8", "replace"), self._mac(session_id).encode()):
            return None
        return session_id


@dataclass(eq=False)
class Session:
    id: str
    seeded: bool
    # ``self.session`` in handlers.
    state: dict[str, Any] = field(default_factory=dict)
    # ``request.session`` in upstream-style handlers: kept here, not in the cookie, so
    # what a handler puts in it cannot be read or replayed by the client.
    request_view: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.request_view.setdefault(SESSION_ID_KEY, self.id)


class SessionStore:
    """Seeded and anonymous sessions in two bounded LRU pools, with counters of what happened."""

    def __init__(self, *, max_seeded: int = MAX_SESSIONS, max_anonymous: int = MAX_ANONYMOUS_SESSIONS) -> None:
        self.max_seeded = max_seeded
        self.max_anonymous = max_anonymous
        self._seeded: OrderedDict[str, Session] = OrderedDict()
        self._anonymous: OrderedDict[str, Session] = OrderedDict()
        self.stats: dict[str, int] = dict.fromkeys(
            ("seeded", "anonymous", "evicted_seeded", "evicted_anonymous", "refused_cookies", "unknown_ids", "reseeds"),
            0,
        )
        self._last_eviction_log = -_EVICTION_LOG_INTERVAL

    def __len__(self) -> int:
        return len(self._seeded) + len(self._anonymous)

    def counts(self) -> dict[str, int]:
        """The counters, with the pools' current sizes."""
        return {**self.stats, "live_seeded": len(self._seeded), "live_anonymous": len(self._anonymous)}

    def get(self, session_id: str) -> Session | None:
        for pool in (self._seeded, self._anonymous):
            session = pool.get(session_id)
            if session is not None:
                pool.move_to_end(session_id)
                return session
        return None

    def seed(self, session_id: str) -> Session:
        session = self._seeded[session_id] = Session(session_id, seeded=True)
        self.stats["seeded"] += 1
        while len(self._seeded) > max(self.max_seeded, 1):
            self._seeded.popitem(last=False)
            self.stats["evicted_seeded"] += 1
            self._log_eviction()
        return session

    def anonymous(self, session_id: str) -> Session:
        session = self._anonymous[session_id] = Session(session_id, seeded=False)
        self.stats["anonymous"] += 1
        while len(self._anonymous) > max(self.max_anonymous, 0):
            self._anonymous.popitem(last=False)
            self.stats["evicted_anonymous"] += 1
        return session

    def discard(self, session_id: str) -> None:
        self._seeded.pop(session_id, None)
        self._anonymous.pop(session_id, None)

    def _log_eviction(self) -> None:
        # A rollout whose session goes before its verify is scored on empty state: say so,
        # but once in a while, not once per request of a job that outgrew the bound.
        now = time.monotonic()
        if now - self._last_eviction_log >= _EVICTION_LOG_INTERVAL:
            self._last_eviction_log = now
            log.warning(
                "evicted the least recently used seeded session (%d evicted so far, bound %d): "
                "more rollouts are open at once than max_sessions allows",
                self.stats["evicted_seeded"],
                self.max_seeded,
            )
