"""How many model calls may be in flight: found from the endpoint's answers, or pinned.

The controller works in windows of about two call latencies. At the end of each it compares
the latency (smoothed over windows) with the lowest seen (the endpoint's unloaded latency):

- an overload (HTTP 429 or 503, a timeout, a refused connection) halves the limit at once,
  at most once per window: one overloaded moment yields a burst of such answers;
- latency above ``tolerance`` x the lowest cuts the limit towards the point where it would
  be within bounds (a gradient step, taken in part per window): an endpoint that queues
  past its capacity N answers in ``L/N`` x its latency with L calls in flight, so the limit
  settles near ``tolerance`` x N, which keeps it busy with a short queue;
- latency within bounds while calls waited for a permit raises the limit: doubling until
  the first window 25 % slower than the lowest (slow start), then by its square root. The
  window that ends slow start sets the limit from Little's law at once (``tolerance`` x the
  calls the endpoint served unqueued), so an overshoot past a small endpoint is undone in one
  window instead of in a dozen long, queued ones.

After a change of more than a quarter, a window counts only calls sent after it (or in the
last quarter latency before it): the calls
still in flight were sent under the old limit and would tell of it a latency late, which let
slow start double twice past the point where the endpoint began to queue.

A limit that was not reached in a window (the rollouts did not supply the calls) is left
alone, so it cannot grow without bound while nothing tests it. No maintained library on
PyPI does this for asyncio clients; the few small ones are single releases without tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["AdaptiveLimit", "CallLimiter", "FixedLimit", "LimiterStats"]

MIN_WINDOW = 0.1  # seconds: shorter windows see too few calls to average
SLACK = 0.01  # seconds added to the latency bound: a busy event loop adds milliseconds to every call
SMOOTHING = 0.3
SLOW_START_EXIT = 1.25
BIG_CHANGE = 1.25  # a limit moved by more than this factor waits for calls sent under it


class FixedLimit:
    """``--concurrency N``: the limit never moves."""

    adaptive = False

    def __init__(self, limit: int) -> None:
        self.limit = float(limit)

    def on_success(self, now: float, latency: float, saturated: bool) -> None:
        pass

    def on_overload(self, now: float) -> None:
        pass


@dataclass
class AdaptiveLimit:
    """The controller, clock passed in so it can be driven deterministically."""

    initial: int = 64
    minimum: int = 2
    maximum: int = 1024
    tolerance: float = 2.0
    backoff: float = 0.5
    adaptive = True
    limit: float = field(init=False)
    slow_start: bool = field(init=False, default=True)
    base: float = field(init=False, default=math.inf)  # the lowest smoothed latency seen
    latency: float | None = field(init=False, default=None)  # smoothed over windows

    def __post_init__(self) -> None:
        self.limit = float(min(max(self.initial, self.minimum), self.maximum))
        self._start: float | None = None
        self._sum = 0.0
        self._count = 0
        self._saturated = False
        self._window = MIN_WINDOW
        self._hold_until = -math.inf
        self._changed = -math.inf  # when the limit last moved by more than BIG_CHANGE

    def on_success(self, now: float, latency: float, saturated: bool) -> None:
        """A call answered after ``latency`` s; ``saturated``: the limit was reached while it ran."""
        stale = now - latency < self._changed
        if stale and not (self.slow_start and latency > self.tolerance * self.base + SLACK):
            return  # sent under the old limit: says nothing about this one, unless it queued even there
        if self._start is None:
            self._start = now - latency
        self._sum += latency
        self._count += 1
        self._saturated = self._saturated or saturated
        span = now - self._start
        # A limit's worth of answers in slow start, half of one after: in an endpoint that
        # queues, the first answers after a change are the calls at the head of its queue, and
        # one doubling past its slots answers half the calls unqueued.
        needed = self.limit if self.slow_start else self.limit / 2
        # A window the rollouts did not keep full may never see that many, nor one in front of
        # an endpoint that queues for many unloaded latencies: they close anyway.
        idle_enough = not self._saturated and span >= 4 * max(self._window, self.latency or 0.0)
        idle_enough = idle_enough or span >= 8 * self.base
        # The first window ends with its first answers: when the start is past the endpoint's
        # slots they are the head of its queue, answered in its unloaded latency.
        first = self.latency is None
        if span >= self._window and (self._count >= needed or idle_enough or first):
            self._close(now, span)

    def on_overload(self, now: float) -> None:
        if now < self._hold_until:
            return  # the same overload, seen by calls that were already in flight
        self.slow_start = False
        self._set(now, self.limit * self.backoff)
        self._hold_until = now + self._window
        self._reset(now)

    def _close(self, now: float, span: float) -> None:
        mean = self._sum / self._count
        # Smoothed over windows: on a busy machine one window's mean swings by 2x without any
        # change at the endpoint, and a limit that followed it would never settle.
        self.latency = mean if self.latency is None else (1 - SMOOTHING) * self.latency + SMOOTHING * mean
        latency = self.latency
        # Slow start doubles once per call latency, as TCP does per round trip: at 2 s a call,
        # doubling every two latencies took 12 s to reach a 64-slot endpoint.
        self._window = max(MIN_WINDOW, min((0.5 if self.slow_start else 2) * mean, 5.0))
        if self.limit <= self.minimum:
            # Nothing left to shed: what the endpoint answers in now is its unloaded latency,
            # this window's own, not the average with the faster past.
            self.base = self.latency = mean
            latency = mean
        if self.slow_start and mean > SLOW_START_EXIT * min(self.base, mean) + SLACK:
            # The first rise ends the doubling: one more doubling past the knee queues as many
            # calls again as the endpoint serves, and the smoothed latency would see it late.
            self.slow_start = False
            # Little's law: answering count/span calls a second, each in `base` unqueued, the
            # endpoint serves about that many at once. Never raised here, only cut to tolerance x that.
            rate = self._count / span
            served = rate * min(self.base, mean)
            if self.tolerance * served < self.limit:
                before = self.limit
                self._set(now, self.tolerance * served)
                # The calls queued past the new limit drain at `rate`; what is sent meanwhile
                # waits behind them and would tell of the old limit again.
                self._changed = now + (before - self.limit) / rate
                self.latency = min(self.base, mean) * self.tolerance
        elif latency > self.tolerance * min(self.base, latency) + SLACK:
            self.slow_start = False
            # A partial gradient step: a sustained queue converges in a few windows, noise barely moves it.
            bound = self.tolerance * self.base + SLACK
            self._set(now, self.limit * max(self.backoff, 1 - SMOOTHING * (1 - bound / latency)))
        else:
            self.base = min(self.base, latency)
            if self._saturated:
                self._set(now, self.limit * 2 if self.slow_start else self.limit + max(1.0, math.sqrt(self.limit)))
        self._reset(now)

    def _set(self, now: float, limit: float) -> None:
        old, self.limit = self.limit, min(max(limit, float(self.minimum)), float(self.maximum))
        if self.limit > BIG_CHANGE * old:
            # Calls sent a moment before are as good as sent under the new limit: the answers
            # that ended a window arrive over a few milliseconds, and each frees a call at once.
            self._changed = now - 0.25 * (self.latency or 0.0)
        elif old > BIG_CHANGE * self.limit:
            self._changed = now  # everything in flight was sent into the queue being cut

    def _reset(self, now: float) -> None:
        self._start = now
        self._sum = 0.0
        self._count = 0
        self._saturated = False


@dataclass
class LimiterStats:
    in_flight: int
    limit: int
    waiting: int
    latency: float | None  # seconds, EWMA
    calls: int
    overloads: int


class CallLimiter:
    """An asyncio semaphore whose size is the controller's limit, read at every acquire and release."""

    def __init__(self, control: AdaptiveLimit | FixedLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.control = control
        self.clock = clock
        self.in_flight = 0
        self.calls = 0
        self.overloads = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self.latency: float | None = None  # EWMA of answered calls, for the progress line

    @property
    def limit(self) -> int:
        return max(1, int(self.control.limit))

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self) -> float:
        """Wait for a permit; returns the clock reading to pass to ``release``."""
        if self.in_flight >= self.limit or self._waiters:
            future = asyncio.get_running_loop().create_future()
            self._waiters.append(future)
            try:
                await future
            except BaseException:
                if future.done() and not future.cancelled():
                    # Cancelled after a permit was handed over: it goes to the next waiter.
                    self.in_flight -= 1
                    self._wake()
                else:
                    self._remove(future)
                raise
        else:
            self.in_flight += 1
        return self.clock()

    def release(self, started: float, outcome: str) -> None:
        """``outcome``: "ok" (latency counts), "overload" (429/503/timeout) or "other" (no signal)."""
        saturated = bool(self._waiters) or self.in_flight >= self.limit
        self.in_flight -= 1
        now = self.clock()
        if outcome == "ok":
            self.calls += 1
            latency = now - started
            self.latency = latency if self.latency is None else 0.9 * self.latency + 0.1 * latency
            self.control.on_success(now, now - started, saturated)
        elif outcome == "overload":
            self.overloads += 1
            self.control.on_overload(now)
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self.limit:
            future = self._waiters.popleft()
            if not future.done():
                self.in_flight += 1
                future.set_result(None)

    def _remove(self, future: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):
            self._waiters.remove(future)

    def stats(self) -> LimiterStats:
        return LimiterStats(self.in_flight, self.limit, self.waiting, self.latency, self.calls, self.overloads)
