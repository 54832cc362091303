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

What goes first, and what a rollout whose session went is told:

* a session idle (no request naming it) for longer than ``idle_ttl`` seconds
  (``GYMKIT_SESSION_IDLE_TTL``, default :data:`SESSION_IDLE_TTL`) expires, whether or not
  the pool is full; then, when a pool is over its bound, the least recently used goes;
* a tool or verify call whose cookie names a seeded session that expired or was evicted
  gets HTTP 410 with a message saying so (:class:`SessionGone`), never empty state: a verify
  on empty state would score the rollout as if the model had done nothing. A flood of
  ``/seed_session`` calls can still push out live rollouts (the pool is bounded), but each
  of them then fails loudly instead of being scored wrongly;
* telling "evicted here" from "never held here" takes bounded memory: the ids of the last
  ``max_evicted_ids`` seeded sessions that went (default: as many as ``max_seeded``), and
  past that one number. Ids carry this process's random epoch and an issue sequence number
  (signed with the id), so an id of this process issued no later than the newest one the
  store has forgotten may have been a seeded session that went, and is refused too;
* an anonymous session that went, and an id issued by another process sharing
  ``GYMKIT_SESSION_SECRET`` (handlers that keep their state elsewhere, behind a load
  balancer), are served with empty state as before: gymkit held no rollout state for them.

A ``/seed_session`` call carrying an evicted cookie starts a new rollout, as one without a
cookie does: it creates state and so loses none.
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

from fastapi import HTTPException

from gymkit.errors import UserError

__all__ = [
    "MAX_ANONYMOUS_SESSIONS",
    "MAX_SESSIONS",
    "SESSION_IDLE_TTL",
    "SESSION_IDLE_TTL_ENV",
    "SESSION_ID_KEY",
    "SESSION_MAX_AGE",
    "SESSION_SECRET_ENV",
    "Session",
    "SessionCookie",
    "SessionGone",
    "SessionStore",
    "session_secret",
]

log = logging.getLogger("gymkit.runtime.server")

SESSION_ID_KEY = "session_id"
SESSION_SECRET_ENV = "GYMKIT_SESSION_SECRET"
# A GRPO job opens one seeded session per rollout; keep the most recently used ones.
MAX_SESSIONS = 100_000
# Tool calls without /seed_session first (smoke tests, curl) still get state across calls
# made with the cookie they are given, but only a few such sessions are worth keeping.
MAX_ANONYMOUS_SESSIONS = 1_024
# As starlette's SessionMiddleware, which upstream uses: two weeks.
SESSION_MAX_AGE = 14 * 24 * 3600
# A rollout waits on the model between its calls: minutes with a loaded inference server,
# rarely more. Six idle hours is a session nobody will come back for.
SESSION_IDLE_TTL = 6 * 3600.0
SESSION_IDLE_TTL_ENV = "GYMKIT_SESSION_IDLE_TTL"
# Evicted ids remembered at least this many, whatever the bound (a few MB at most).
_MIN_EVICTED_IDS = 1_024
_MIN_SECRET_LENGTH = 32
_ID = re.compile(r"[0-9a-f]{32}")
# The id (32) + "." + the MAC (43): anything much longer is not ours and is not parsed.
_MAX_COOKIE_LENGTH = 128
_EVICTION_LOG_INTERVAL = 10.0


def idle_ttl_from_environment() -> float:
    """``GYMKIT_SESSION_IDLE_TTL`` in seconds when set, else :data:`SESSION_IDLE_TTL`."""
    value = os.environ.get(SESSION_IDLE_TTL_ENV)
    if value is None or not value.strip():
        return SESSION_IDLE_TTL
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise UserError(
            f"{SESSION_IDLE_TTL_ENV} is {value!r}; it needs a number of seconds greater than 0",
            hint=f"e.g. {SESSION_IDLE_TTL_ENV}=3600, or unset it for {SESSION_IDLE_TTL:.0f} s",
        )
    return seconds


class _Issuer:
    """Where ids come from: a random epoch per process, then a sequence number, then random bits."""

    def __init__(self) -> None:
        self._pid = -1
        self.epoch = ""
        self._next = 0

    def new_id(self) -> str:
        if self._pid != os.getpid():
            # A forked worker gets an epoch of its own, as it gets a store of its own.
            self._pid, self.epoch, self._next = os.getpid(), secrets.token_hex(4), 0
        self._next += 1
        return f"{self.epoch}{self._next:012x}{secrets.token_hex(6)}"

    def sequence(self, session_id: str) -> int | None:
        """The id's sequence number when this process issued it, else None."""
        if self._pid != os.getpid() or session_id[:8] != self.epoch:
            return None
        return int(session_id[8:20], 16)


# One per process, shared by every server in it: any id issued later is numbered higher.
_ISSUER = _Issuer()


class SessionGone(HTTPException):
    """A seeded session that expired or was evicted: its rollout cannot go on, and is told so (410)."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            status_code=410,
            detail=f"this rollout's session is gone from the server ({reason}); its state is lost, so the call "
            "is refused rather than answered on empty state: start the rollout again with /seed_session, "
            "without this cookie",
        )


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
        # The store is made at the first request; a bad GYMKIT_SESSION_IDLE_TTL should stop the
        # server when its app is built, as a short secret does, not fail that request.
        idle_ttl_from_environment()

    def mac(self, text: str) -> str:
        """The MAC of ``text`` under this cookie's name and secret (base64url, unpadded)."""
        # The cookie's name is in the MAC: two servers sharing one secret behind one agent
        # still cannot be handed each other's cookies.
        digest = hmac.new(self._secret, f"{self.name}\0{text}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def issue(self) -> tuple[str, str]:
        """A new id and the cookie value that carries it.

        32 hex digits: this process's random epoch (8), a sequence number (12), random (12).
        The MAC covers all of it, so the sequence number a cookie brings back is the one issued.
        """
        session_id = _ISSUER.new_id()
        return session_id, self.value(session_id)

    def value(self, session_id: str) -> str:
        return f"{session_id}.{self.mac(session_id)}"

    def read(self, value: object) -> str | None:
        """The id in a cookie value this server signed; None for anything else, whatever its shape."""
        if not isinstance(value, str) or len(value) > _MAX_COOKIE_LENGTH:
            return None
        session_id, dot, mac = value.partition(".")
        if not dot or not _ID.fullmatch(session_id):
            return None
        if not hmac.compare_digest(mac.encode("utf-8", "replace"), self.mac(session_id).encode()):
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
    # time.monotonic() of the last request that named it: what idle_ttl is measured from.
    last_used: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.request_view.setdefault(SESSION_ID_KEY, self.id)


class SessionStore:
    """Seeded and anonymous sessions in two bounded LRU pools with an idle TTL, and counters of what happened.

    ``max_seeded``, ``max_anonymous``, ``idle_ttl`` and ``max_evicted_ids`` may be changed on a
    live store; they apply from the next request.
    """

    def __init__(
        self,
        *,
        max_seeded: int = MAX_SESSIONS,
        max_anonymous: int = MAX_ANONYMOUS_SESSIONS,
        idle_ttl: float | None = None,
        max_evicted_ids: int | None = None,
    ) -> None:
        self.max_seeded = max_seeded
        self.max_anonymous = max_anonymous
        self.idle_ttl = idle_ttl_from_environment() if idle_ttl is None else idle_ttl
        # None: as many as max_seeded (at least _MIN_EVICTED_IDS), so one pool's worth of
        # rollouts evicted at once are each named exactly.
        self.max_evicted_ids = max_evicted_ids
        self._seeded: OrderedDict[str, Session] = OrderedDict()
        self._anonymous: OrderedDict[str, Session] = OrderedDict()
        # Seeded ids that went, oldest first -> why; past the bound, only the highest sequence
        # number among the ids forgotten is kept.
        self._gone: OrderedDict[str, str] = OrderedDict()
        self._forgotten_through = -1
        self.stats: dict[str, int] = dict.fromkeys(
            (
                "seeded",
                "anonymous",
                "evicted_seeded",
                "evicted_anonymous",
                "expired_seeded",
                "expired_anonymous",
                "refused_cookies",
                "refused_gone",
                "unknown_ids",
                "reseeds",
            ),
            0,
        )
        self._last_eviction_log = -_EVICTION_LOG_INTERVAL

    def __len__(self) -> int:
        return len(self._seeded) + len(self._anonymous)

    def counts(self) -> dict[str, int]:
        """The counters, with the pools' current sizes."""
        return {**self.stats, "live_seeded": len(self._seeded), "live_anonymous": len(self._anonymous)}

    def get(self, session_id: str) -> Session | None:
        """The live session with this id (now the most recently used), or None."""
        now = time.monotonic()
        self._expire(now)
        for pool in (self._seeded, self._anonymous):
            session = pool.get(session_id)
            if session is not None:
                pool.move_to_end(session_id)
                session.last_used = now
                return session
        return None

    def gone(self, session_id: str) -> str | None:
        """Why a seeded session with this id is no longer held (expired, evicted), or None when it may never
        have been seeded here."""
        reason = self._gone.get(session_id)
        if reason is not None:
            return reason
        sequence = _ISSUER.sequence(session_id)
        if sequence is not None and sequence <= self._forgotten_through:
            return "expired or evicted a while ago"
        return None

    def seed(self, session_id: str) -> Session:
        self._expire(time.monotonic())
        session = self._seeded[session_id] = Session(session_id, seeded=True)
        self.stats["seeded"] += 1
        while len(self._seeded) > max(self.max_seeded, 1):
            old_id, _ = self._seeded.popitem(last=False)
            self._went(old_id, f"evicted: more rollouts were open at once than max_sessions = {self.max_seeded}")
            self.stats["evicted_seeded"] += 1
            self._log_eviction()
        return session

    def anonymous(self, session_id: str) -> Session:
        """A new anonymous session; raises :class:`SessionGone` for the id of a seeded session that went.

        The runtime calls this for a new id, and for a signed id it does not hold: the one place
        a seeded rollout that lost its session would otherwise go on with empty state.
        """
        reason = self.gone(session_id)
        if reason is not None:
            self.stats["refused_gone"] += 1
            raise SessionGone(reason)
        self._expire(time.monotonic())
        session = self._anonymous[session_id] = Session(session_id, seeded=False)
        self.stats["anonymous"] += 1
        while len(self._anonymous) > max(self.max_anonymous, 0):
            self._anonymous.popitem(last=False)
            self.stats["evicted_anonymous"] += 1
        return session

    def discard(self, session_id: str) -> None:
        self._seeded.pop(session_id, None)
        self._anonymous.pop(session_id, None)

    def _expire(self, now: float) -> None:
        # Both pools are in order of last use, so the idle ones are at the front: the sweep
        # stops at the first live one, and over many requests costs one step per session.
        cutoff = now - self.idle_ttl
        for pool, seeded in ((self._seeded, True), (self._anonymous, False)):
            while pool:
                oldest = next(iter(pool.values()))
                if oldest.last_used > cutoff:
                    break
                pool.popitem(last=False)
                if seeded:
                    self._went(oldest.id, f"expired after more than {self.idle_ttl:g} s without a request")
                    self.stats["expired_seeded"] += 1
                else:
                    self.stats["expired_anonymous"] += 1

    def _went(self, session_id: str, reason: str) -> None:
        self._gone[session_id] = reason
        bound = self.max_evicted_ids
        bound = max(self.max_seeded, _MIN_EVICTED_IDS) if bound is None else max(bound, 0)
        while len(self._gone) > bound:
            old_id, _ = self._gone.popitem(last=False)
            sequence = _ISSUER.sequence(old_id)
            if sequence is not None:
                self._forgotten_through = max(self._forgotten_through, sequence)

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
