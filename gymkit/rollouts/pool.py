"""Several base URLs (one vLLM or NIM replica each) as one pool: least-loaded first, failing ones out.

Each call goes to the replica with the lowest ``(calls in flight + 1) x EWMA latency``: the
one expected to answer soonest, so a slower replica gets fewer calls without being starved.

Stickiness: the turns of one rollout share their prefix, and a replica that served the
previous turn has it in its prefix cache. A rollout therefore stays on its replica while
that replica's score is within ``STICKY_SLACK`` (25 %) of the best; past that the call
moves, because a queue on one replica costs more than re-reading a prompt on another.

Health: ``EJECT_AFTER`` failures in a row (a refused connection, a timeout, a 5xx) take a
replica out for ``PROBE_AFTER`` seconds, doubling at every further ejection up to
``MAX_PROBE_AFTER``. Then it is probed: one call at a time goes there until one succeeds.
When every replica is out, the one that comes back soonest is used anyway: a pool that
refused all calls would fail every rollout instead of letting retries find a live one.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Replica", "ReplicaPool"]

EJECT_AFTER = 3
PROBE_AFTER = 1.0
MAX_PROBE_AFTER = 30.0
STICKY_SLACK = 1.25
_EWMA = 0.2
_MAX_AFFINITY = 1 << 16  # rollouts remembered; a forgotten one just loses its stickiness


@dataclass
class Replica:
    url: str
    index: int
    in_flight: int = 0
    latency: float | None = None  # EWMA of answered calls, seconds
    served: int = 0  # calls answered
    failed: int = 0  # calls that failed here
    failures: int = 0  # in a row
    ejections: int = 0  # in a row, without a success between them
    down_until: float = -math.inf
    probing: bool = False
    out_count: int = field(default=0)  # times taken out, for the summary


class ReplicaPool:
    def __init__(self, urls: tuple[str, ...], clock: Callable[[], float] = time.monotonic) -> None:
        self.replicas = [Replica(url, i) for i, url in enumerate(urls)]
        self.clock = clock
        self._affinity: dict[str, int] = {}
        self._calls: dict[str, Counter[str]] = {}

    def _usable(self, replica: Replica, now: float) -> bool:
        if replica.down_until > now:
            return False
        # Back from an ejection: one probe at a time until one succeeds.
        return not replica.probing or replica.in_flight == 0

    def _score(self, replica: Replica, default: float) -> float:
        return (replica.in_flight + 1) * (replica.latency if replica.latency is not None else default)

    def pick(self, key: str | None = None, avoid: Replica | None = None) -> Replica:
        """The replica for the next call of rollout ``key``; ``avoid``: the one that just failed it."""
        replica = self.replicas[0] if len(self.replicas) == 1 else self._choose(key, avoid)
        replica.in_flight += 1
        return replica

    def _choose(self, key: str | None, avoid: Replica | None) -> Replica:
        now = self.clock()
        usable = [r for r in self.replicas if self._usable(r, now)]
        if avoid is not None and len(usable) > 1:
            usable = [r for r in usable if r is not avoid]
        if not usable:
            return min(self.replicas, key=lambda r: (r.down_until, r.in_flight))
        known = [r.latency for r in usable if r.latency is not None]
        # An untried replica is assumed as fast as the fastest, so it gets tried.
        default = min(known) if known else 1.0
        best = min(usable, key=lambda r: (self._score(r, default), r.in_flight, r.index))
        if key is None:
            return best
        sticky = self._affinity.get(key)
        if sticky is not None:
            current = self.replicas[sticky]
            if current in usable and self._score(current, default) <= STICKY_SLACK * self._score(best, default):
                return current
        if len(self._affinity) >= _MAX_AFFINITY:
            self._affinity.pop(next(iter(self._affinity)))
        self._affinity[key] = best.index
        return best

    def done(self, replica: Replica, outcome: str, latency: float | None = None, key: str | None = None) -> None:
        """``outcome``: "ok", "failure" (counts towards ejection) or "other" (429, 4xx: the replica is alive)."""
        replica.in_flight -= 1
        if outcome == "ok":
            replica.served += 1
            replica.failures = replica.ejections = 0
            replica.probing = False
            if latency is not None:
                old = replica.latency
                replica.latency = latency if old is None else (1 - _EWMA) * old + _EWMA * latency
            if key is not None:
                calls = self._calls.setdefault(key, Counter())
                calls[replica.url] += 1
        elif outcome == "failure":
            replica.failed += 1
            replica.failures += 1
            if replica.probing or replica.failures >= EJECT_AFTER:
                self._eject(replica)

    def _eject(self, replica: Replica) -> None:
        if len(self.replicas) == 1:
            return  # nowhere else to go: retries and their backoff handle a lone endpoint
        wait = min(MAX_PROBE_AFTER, PROBE_AFTER * 2**replica.ejections)
        replica.ejections += 1
        replica.out_count += 1
        replica.failures = 0
        replica.down_until = self.clock() + wait
        replica.probing = True

    def forget(self, key: str) -> dict[str, int]:
        """Rollout ``key`` ended: drop its stickiness; returns its answered calls per replica URL."""
        self._affinity.pop(key, None)
        return dict(self._calls.pop(key, {}))

    def shares(self) -> dict[str, float]:
        """Each replica's share of the answered calls."""
        total = sum(r.served for r in self.replicas)
        return {r.url: (r.served / total if total else 0.0) for r in self.replicas}
