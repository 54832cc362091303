"""Thousands of pinned rollouts must not move in lockstep, or finished rollouts arrive in bursts.

A rollout here is five steps (seed_session, two model turns, a tool call, verify), each one
event-loop turn, like the real one when the endpoint answers at once and the collector's
CPU is what limits it. The clock is the count of steps taken by all rollouts together, so
the figure does not depend on how fast or loaded the machine is: the longest run of steps
between two finished rollouts. Rollouts that all sit in the same step finish together once
every five rounds, four rounds (four times the rollouts in flight) apart.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
from types import SimpleNamespace
from typing import Any

from gymkit.rollouts.config import Bounds
from gymkit.rollouts.limiter import CallLimiter, FixedLimit
from gymkit.rollouts.progress import Progress
from gymkit.rollouts.runner import RolloutRunner

STEPS = 5


def _runner(n: int) -> RolloutRunner:
    tasks = [{"responses_create_params": {"input": "x"}}]
    return RolloutRunner(tasks, ["h"], Bounds(), {}, -1, -1, ({}, {}))


def _longest_gap(pinned: int, rollouts: int) -> int:
    runner = _runner(rollouts)
    clock = 0
    finished_at: list[int] = []

    async def one(body: dict[str, Any], *_: object) -> float:
        nonlocal clock
        for _ in range(STEPS):
            await asyncio.sleep(0)
            clock += 1
        finished_at.append(clock)
        return 1.0

    runner._one = one  # type: ignore[method-assign]
    client = SimpleNamespace(limiter=CallLimiter(FixedLimit(pinned)))
    pending = [(0, i) for i in range(rollouts)]
    bar = Progress(total=rollouts, enabled=False)
    asyncio.run(
        runner.run_all(
            pending,
            client,  # type: ignore[arg-type]
            SimpleNamespace(),  # type: ignore[arg-type]
            SimpleNamespace(label="endpoint"),  # type: ignore[arg-type]
            bar,
            pinned=pinned,
            max_rollouts=pinned,
        )
    )
    assert len(finished_at) == rollouts
    # Past the ramp: the steady state is what a long run spends its time in.
    steady = finished_at[rollouts // 2 :]
    return max(b - a for a, b in itertools.pairwise(steady))


def test_pinned_rollouts_finish_spread_out_not_in_waves() -> None:
    pinned = 1024
    gap = _longest_gap(pinned, 8 * pinned)
    # In lockstep the gap is four rounds (4 x 1,024 steps, as before the fix); spread, at most one.
    assert gap <= pinned, gap


def test_objects_from_before_the_run_are_left_out_of_collections_during_it() -> None:
    runner = _runner(4)
    frozen_during: list[int] = []

    async def one(body: dict[str, Any], *_: object) -> float:
        frozen_during.append(gc.get_freeze_count())
        return 1.0

    runner._one = one  # type: ignore[method-assign]
    client = SimpleNamespace(limiter=CallLimiter(FixedLimit(2)))
    bar = Progress(total=4, enabled=False)
    endpoint = SimpleNamespace(label="endpoint")
    run = runner.run_all([(0, i) for i in range(4)], client, None, endpoint, bar, pinned=2, max_rollouts=2)  # type: ignore[arg-type]
    asyncio.run(run)
    # Everything imported before the run (gymkit, aiohttp, pytest) is in the permanent generation.
    assert len(frozen_during) == 4 and min(frozen_during) > 10_000, frozen_during
    assert gc.get_freeze_count() == 0
