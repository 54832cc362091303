"""The model-call controller and the replica pool, driven by hand: no HTTP, no clock."""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Iterator

import pytest

from gymkit.rollouts.limiter import AdaptiveLimit, CallLimiter, FixedLimit
from gymkit.rollouts.pool import EJECT_AFTER, PROBE_AFTER, ReplicaPool


def drive(control: AdaptiveLimit, capacity: int, latency: float, seconds: float, step: float = 0.01) -> list[float]:
    """Simulate a queueing endpoint: L calls in flight answer in latency x max(1, L / capacity).

    Calls are always waiting (the rollouts feed the limiter), so every window is saturated.
    Returns the limit after each window-sized step.
    """
    now, limits = 0.0, []
    while now < seconds:
        in_flight = int(control.limit)
        observed = latency * max(1.0, in_flight / capacity)
        # Calls answered in this step at the rate Little's law gives.
        answered = max(1, round(in_flight / observed * step))
        for _ in range(answered):
            control.on_success(now, observed, saturated=True)
        now += step
        limits.append(control.limit)
    return limits


@pytest.mark.parametrize(("capacity", "latency"), [(64, 0.2), (64, 0.05), (16, 1.0), (256, 0.2)])
def test_the_limit_settles_above_a_queueing_endpoints_capacity_and_below_twice_its_tolerance(
    capacity: int, latency: float
) -> None:
    # From below the capacity: an endpoint that slows every call down past its capacity (no
    # queue) shows no unloaded latency to a limit that starts above it.
    control = AdaptiveLimit(initial=min(16, capacity // 2))
    limits = drive(control, capacity, latency, seconds=120 * latency)
    settled = limits[len(limits) // 2 :]
    # At or above capacity: the endpoint is never idle for want of calls ...
    assert min(settled) >= capacity
    # ... and not far past tolerance x capacity: the queue stays short.
    assert max(settled) <= control.tolerance * capacity * 1.35


def test_slow_start_doubles_until_latency_rises() -> None:
    control = AdaptiveLimit(initial=4)
    limits = drive(control, capacity=1000, latency=0.1, seconds=1.0)
    assert control.slow_start and limits[-1] >= 4 * 2**4


def test_an_unsaturated_limit_does_not_grow() -> None:
    # The rollouts do not supply calls up to the limit: nothing tests it, so it stays.
    control = AdaptiveLimit(initial=16)
    for i in range(1000):
        control.on_success(i * 0.01, 0.1, saturated=False)
    assert control.limit == 16


def test_an_overload_halves_the_limit_once_per_window() -> None:
    control = AdaptiveLimit(initial=64)
    for _ in range(50):  # one overloaded moment, seen by many calls in flight
        control.on_overload(1.0)
    assert control.limit == 32 and not control.slow_start
    control.on_overload(1.0 + control._window + 0.01)
    assert control.limit == 16


def test_limits_stay_within_minimum_and_maximum() -> None:
    control = AdaptiveLimit(initial=8, minimum=2, maximum=40)
    drive(control, capacity=10_000, latency=0.05, seconds=5)
    assert control.limit == 40
    for i in range(20):
        control.on_overload(100.0 + i * 10)
    assert control.limit == 2


def test_an_endpoint_that_got_slower_for_good_is_relearned_at_the_minimum() -> None:
    control = AdaptiveLimit(initial=2, minimum=2)
    control.on_success(0.0, 0.1, saturated=True)
    control.on_success(0.2, 0.1, saturated=True)
    for i in range(200):  # now 1 s per call whatever the load
        control.on_success(1.0 + i, 1.0, saturated=True)
    assert control.base == pytest.approx(1.0, rel=0.1)
    assert control.limit > 2  # it grows again from the new base


def test_call_limiter_hands_permits_in_order_and_follows_the_limit() -> None:
    async def scenario() -> None:
        limiter = CallLimiter(FixedLimit(2), clock=lambda: 0.0)
        order: list[int] = []
        held = [await limiter.acquire(), await limiter.acquire()]
        waiters = [asyncio.create_task(_take(limiter, i, order)) for i in range(3)]
        await asyncio.sleep(0)
        assert limiter.in_flight == 2 and limiter.waiting == 3
        limiter.release(held[0], "ok")
        await asyncio.sleep(0)
        assert order == [0] and limiter.in_flight == 2
        waiters[1].cancel()  # a cancelled waiter gives up its place
        limiter.control.limit = 4  # a higher limit admits the rest at the next release
        limiter.release(held[1], "ok")
        await asyncio.gather(*waiters, return_exceptions=True)
        assert order == [0, 2] and limiter.in_flight == 2 and limiter.calls == 2

    asyncio.run(scenario())


async def _take(limiter: CallLimiter, i: int, order: list[int]) -> None:
    await limiter.acquire()
    order.append(i)


# -- the replica pool ------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_calls_go_to_the_least_loaded_replica() -> None:
    pool = ReplicaPool(("http://a/v1", "http://b/v1", "http://c/v1"), clock=Clock())
    picked = [pool.pick() for _ in range(6)]
    assert [r.url[7] for r in picked] == ["a", "b", "c", "a", "b", "c"]
    for replica in picked:
        pool.done(replica, "ok", 0.1)
    # b is slow now: with equal loads the fast ones get the calls.
    b = pool.replicas[1]
    b.latency = 1.0
    assert {pool.pick().url[7] for _ in range(4)} == {"a", "c"}


def test_a_rollout_sticks_to_its_replica_unless_that_one_is_much_busier() -> None:
    pool = ReplicaPool(("http://a/v1", "http://b/v1"), clock=Clock())
    a, b = pool.replicas
    first = pool.pick("r1")
    pool.done(first, "ok", 0.1, "r1")
    b.latency = 0.1
    a.in_flight, b.in_flight = 19, 16  # 20 / 17: within 25 % of the least loaded, stay
    assert pool.pick("r1") is first
    pool.done(first, "ok", 0.1, "r1")
    a.in_flight = 21  # 22 / 17: too busy, move
    moved = pool.pick("r1")
    assert moved is b
    assert pool.pick("r1") is b  # and stick to the new one
    assert pool.forget("r1") == {a.url: 2}


def test_a_failing_replica_is_taken_out_and_probed_back_in() -> None:
    clock = Clock()
    pool = ReplicaPool(("http://a/v1", "http://b/v1"), clock=clock)
    a, b = pool.replicas
    for _ in range(EJECT_AFTER):
        pool.done(pool.pick(avoid=b), "failure")
    assert a.out_count == 1
    assert all(pool.pick() is b for _ in range(5))
    clock.now += PROBE_AFTER + 0.01
    probe = pool.pick(avoid=b)
    assert probe is a and pool.pick(avoid=b) is b  # one probe at a time
    pool.done(probe, "failure")  # the probe failed: out again, for twice as long
    clock.now += PROBE_AFTER + 0.01
    assert pool.pick(avoid=b) is b
    clock.now += PROBE_AFTER
    probe = pool.pick(avoid=b)
    assert probe is a
    pool.done(probe, "ok", 0.1)
    assert not a.probing and a.failures == 0
    assert pool.shares()["http://a/v1"] > 0


def test_with_every_replica_out_the_one_back_soonest_is_used() -> None:
    clock = Clock()
    pool = ReplicaPool(("http://a/v1", "http://b/v1"), clock=clock)
    for replica in pool.replicas:
        for _ in range(EJECT_AFTER):
            pool.done(pool.pick(avoid=pool.replicas[1 - replica.index]), "failure")
    assert pool.pick() is pool.replicas[0]


def test_slow_start_doubles_once_per_call_latency() -> None:
    """At 2 s a call, a 64-slot endpoint is reached in a few latencies, not in a quarter of a short run."""
    latency = 2.0
    control = AdaptiveLimit()
    # Event by event: every call takes the same time (the endpoint is never the bottleneck),
    # and each answer frees a permit that a waiting call takes at once, as the rollouts do.
    answers = [latency] * int(control.limit)
    now = 0.0
    while control.limit < 64 and now < 60:
        heapq.heapify(answers)
        now = heapq.heappop(answers)
        control.on_success(now, latency, saturated=True)
        while len(answers) < int(control.limit):
            answers.append(now + latency)
    assert control.slow_start
    assert now <= 2 * latency, now  # 16 -> 32 after one latency, -> 64 after the next


@pytest.mark.parametrize("initial", [16, 64])
def test_calls_sent_before_a_doubling_do_not_end_slow_start_late(initial: int) -> None:
    """A FIFO endpoint with 64 slots: the first answers after a change are the fastest, not the typical."""
    control = AdaptiveLimit(initial=initial)
    capacity = 64
    exit_limit = None
    for _ in fifo_endpoint(control, capacity, latency=0.2, seconds=10.0):
        if exit_limit is None and not control.slow_start:
            exit_limit = control.limit
    # Doubling stops at the first limit past the 64 slots (it went on to 256 and 512 while
    # the queue built unseen), and what follows stays near tolerance x capacity.
    assert exit_limit is not None and exit_limit <= 2 * capacity, exit_limit
    assert capacity <= control.limit <= control.tolerance * capacity * 1.35


def test_a_start_above_a_small_fifo_endpoints_capacity_is_undone_in_a_few_latencies() -> None:
    control = AdaptiveLimit()  # 64 in flight against 8 slots: 8 x its latency at first
    capacity, latency = 8, 0.2
    inside_at, after = None, []
    for now in fifo_endpoint(control, capacity, latency, seconds=30.0):
        if inside_at is None and control.limit <= control.tolerance * capacity:
            inside_at = now
        elif inside_at is not None:
            after.append(control.limit)
    # One window of 128 answers (the queue drains at 40 a second) and the limit is cut to
    # tolerance x capacity by Little's law; before, it sank by a tenth per long, queued window.
    assert inside_at is not None and inside_at < 6.0, inside_at
    assert capacity / 2 <= min(after) and max(after) <= 3.5 * capacity, (min(after), max(after))


def fifo_endpoint(control: AdaptiveLimit, capacity: int, latency: float, seconds: float) -> Iterator[float]:
    """Calls served by ``capacity`` slots in order of arrival, each in ``latency``; the limit
    kept full, as waiting rollouts keep it. Yields the time after each answer."""
    free = [0.0] * capacity  # when each slot is next free
    answers: list[tuple[float, float]] = []  # (answered at, sent at)
    now = 0.0
    while now < seconds:
        while len(answers) < int(control.limit):
            heapq.heappush(answers, _serve(free, now, latency))
        now, sent = heapq.heappop(answers)
        control.on_success(now, now - sent, saturated=True)
        yield now


def _serve(free: list[float], now: float, latency: float) -> tuple[float, float]:
    """Send one call at ``now`` to the slot free soonest (FIFO); returns (answered at, sent at)."""
    slot = min(range(len(free)), key=free.__getitem__)
    begins = max(now, free[slot])
    free[slot] = begins + latency
    return begins + latency, now
