"""Running the pending rollouts: how many at once, each one's row or failure, the tool-error tally.

Two ways to decide how many rollouts run at once:

- pinned (``--concurrency N``): N rollouts, so at most N model calls, in flight;
- fed (the default): the model-call limiter decides how many calls are in flight, and
  rollouts are started while fewer than a few calls wait for a permit. A rollout spends
  part of its time in tool calls, seed_session and verify, so keeping the limiter's queue
  just above empty is what keeps the endpoint busy, whatever that share is.

Either way rollouts are started a few at a time: thousands started at once move in
lockstep (all seeding, then all waiting on the model, ...), and results arrive in bursts.
Growing by two per finished rollout is no better: the two start together, in step with
their whole batch, so the population stays in one step. On a CPU-bound collector at 4,096
in flight that put four rounds of the event loop between two bursts of finished rollouts
(5-14 s). Pinned mode therefore starts one batch per round of the event loop: each batch is
in a step of its own, and a finished rollout's successor takes over its place.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from gymkit.artifacts.rollout import KEY as META_KEY
from gymkit.artifacts.rollout import RolloutMeta
from gymkit.jsonl import dumps
from gymkit.rollouts.agent import DEFAULT_AGENT_REF, RolloutFailure, run_rollout
from gymkit.rollouts.clients import ModelClient
from gymkit.rollouts.config import DEFAULT_MAX_STEPS, EMBEDDED, Bounds, EndpointConfig, redact_url
from gymkit.rollouts.progress import Progress
from gymkit.rollouts.supervisor import ServerDiedError, ServerSupervisor

__all__ = ["RolloutRunner", "ToolErrors"]

# A small model left unbounded rambles to the end of its context; tasks that set their own
# limit keep it.
EMBEDDED_MAX_OUTPUT_TOKENS = 128
SLOW_START = 64  # pinned mode: rollouts started per event-loop round until N are in flight
TICK = 0.02  # seconds between checks of the limiter's queue in fed mode


@dataclass
class ToolErrors:
    """Tool calls that failed, per (tool, kind): how many, in how many rollouts, and the first one."""

    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    rollouts: dict[tuple[str, str], int] = field(default_factory=dict)
    examples: dict[tuple[str, str], str] = field(default_factory=dict)

    def add(self, problems: list[tuple[str, str, str]]) -> None:
        for key in {(tool, kind) for tool, kind, _ in problems}:
            self.rollouts[key] = self.rollouts.get(key, 0) + 1
        for tool, kind, example in problems:
            self.counts[(tool, kind)] = self.counts.get((tool, kind), 0) + 1
            self.examples.setdefault((tool, kind), example)

    def as_list(self) -> list[dict[str, Any]]:
        """Most frequent first."""
        keys = sorted(self.counts, key=lambda k: (-self.counts[k], k))
        return [
            {"tool": t, "kind": k, "calls": self.counts[t, k], "rollouts": self.rollouts[t, k]}
            | {"first": self.examples[t, k]}
            for t, k in keys
        ]


class RolloutRunner:
    def __init__(
        self,
        tasks: list[dict[str, Any]],
        hashes: list[str],
        bounds: Bounds,
        meta: dict[str, Any],
        out_fd: int,
        fail_fd: int,
        overrides: tuple[dict[str, Any], dict[str, Any]],
    ) -> None:
        self.tasks = tasks
        self.hashes = hashes
        self.bounds = bounds
        self.meta = meta
        self.out_fd = out_fd
        self.fail_fd = fail_fd
        self.params_overrides, self.model_only = overrides
        self.written = self.failed = 0
        self.failure_classes: dict[str, int] = {}
        self.tool_errors = ToolErrors()
        self.active = 0

    def _body(self, job: tuple[int, int], endpoint: EndpointConfig) -> tuple[dict[str, Any], dict[str, Any]]:
        task_index, rollout_index = job
        body = {k: v for k, v in self.tasks[task_index].items() if k != "_line"}
        rcp = {**body["responses_create_params"], **self.params_overrides}
        extra = dict(self.model_only)
        if endpoint.label == EMBEDDED and rcp.get("max_output_tokens") is None:
            extra["max_output_tokens"] = EMBEDDED_MAX_OUTPUT_TOKENS
        body.update(
            responses_create_params=rcp,
            _ng_task_index=task_index,
            _ng_rollout_index=rollout_index,
            agent_ref=body.get("agent_ref") or DEFAULT_AGENT_REF,
        )
        return body, extra

    async def run_all(
        self,
        pending: list[tuple[int, int]],
        client: ModelClient,
        server: ServerSupervisor,
        endpoint: EndpointConfig,
        bar: Progress,
        *,
        pinned: int | None,
        max_rollouts: int,
    ) -> None:
        jobs: Iterator[tuple[int, int]] = iter(pending)
        left = len(pending)
        limiter = client.limiter
        finished = asyncio.Event()

        def spawn(group: asyncio.TaskGroup, count: int) -> None:
            nonlocal left
            for _ in range(min(count, left)):
                job = next(jobs)
                left -= 1
                self.active += 1
                group.create_task(one(group, job))

        def wanted() -> int:
            """Rollouts to start now in fed mode: the limiter's queue is kept just above empty."""
            # Past twice the calls in flight more rollouts only add event-loop work: a
            # rollout spends most of its time in its model calls whenever those are the bottleneck.
            cap = min(max_rollouts, 2 * limiter.limit + 8)
            short = max(2, limiter.limit // 8) - limiter.waiting
            return max(0, min(short, cap - self.active, max(4, limiter.limit // 8)))

        async def one(group: asyncio.TaskGroup, job: tuple[int, int]) -> None:
            body, extra = self._body(job, endpoint)
            try:
                reward = await self._one(body, client, server, endpoint, extra)
            finally:
                self.active -= 1
                if not left and not self.active:
                    finished.set()
            bar.advance(reward)
            if pinned is not None:
                spawn(group, 1 if self.active < pinned else 0)
            else:
                spawn(group, min(2, wanted()))

        async def feeder(group: asyncio.TaskGroup) -> None:
            while left:
                if pinned is None:
                    spawn(group, wanted())
                elif self.active < pinned:
                    spawn(group, min(SLOW_START, pinned - self.active))
                    # The next batch in the event loop's next round: every batch in a step of its own.
                    await asyncio.sleep(0)
                    continue
                await asyncio.sleep(TICK)

        try:
            with bar, _frozen_heap():
                async with asyncio.TaskGroup() as group:
                    if pinned is not None:
                        spawn(group, min(pinned, SLOW_START))
                    else:
                        spawn(group, max(1, min(limiter.limit + 4, max_rollouts)))
                    group.create_task(feeder(group))
                    if not pending:
                        finished.set()
                    group.create_task(_report(bar, limiter.stats, finished))
        except BaseExceptionGroup as group_error:
            # A second server death ends every worker; report it, not the group around it.
            died = group_error.subgroup(ServerDiedError)
            if died is not None:
                raise died.exceptions[0] from None
            raise

    async def _one(
        self,
        body: dict[str, Any],
        client: ModelClient,
        server: ServerSupervisor,
        endpoint: EndpointConfig,
        extra: dict[str, Any],
    ) -> float | None:
        forced = False
        sticky = f"{body['_ng_task_index']}/{body['_ng_rollout_index']}"
        while True:
            generation = server.generation
            try:
                async with asyncio.timeout(self.bounds.rollout_timeout):
                    result = await run_rollout(
                        body,
                        http=client.http,
                        server_url=server.url,
                        model=client,
                        max_steps=self.bounds.max_steps or DEFAULT_MAX_STEPS,
                        request_overrides=extra,
                        force_first_tool_call=endpoint.force_first_tool_call,
                        server_timeout=self.bounds.server_timeout,
                        max_response_bytes=endpoint.max_response_bytes,
                    )
                forced = result.forced_tool_call
                row = result.row
                if row.get("_ng_failure_class"):
                    raise RolloutFailure(str(row["_ng_failure_class"]), str(row.get("_ng_failure_judge_error") or ""))
                break
            except RolloutFailure as exc:
                if exc.kind == "server_error" and await server.after_server_error(generation):
                    continue  # the server was restarted: this rollout's session died with it
                self._fail(body, exc.kind, exc.message, forced, _served(client, sticky))
                return None
            except TimeoutError:
                limit = self.bounds.rollout_timeout
                message = f"the rollout took longer than {limit:g}s"
                self._fail(body, "rollout_timeout", message, forced, _served(client, sticky))
                return None
            except Exception as exc:  # noqa: BLE001 - one broken rollout must not end a 10k-rollout run
                message = f"{type(exc).__name__}: {exc}"
                self._fail(body, _failure_class(exc), message, forced, _served(client, sticky))
                return None
        for key in ("_ng_task_index", "_ng_rollout_index", "agent_ref"):
            row.setdefault(key, body[key])
        self.tool_errors.add(result.tool_problems)
        meta = RolloutMeta(
            **self.meta,
            forced_tool_call=forced,
            tool_calls=result.tool_calls,
            tool_errors=result.tool_errors,
            task_sha256=self.hashes[body["_ng_task_index"]],
        )
        if (served := _served(client, sticky)) is not None:
            meta.model_calls_by_replica = served
        row[META_KEY] = meta.model_dump(exclude_unset=True)
        os.write(self.out_fd, dumps(row) + b"\n")
        self.written += 1
        return float(row["reward"])

    def _fail(self, body: dict[str, Any], kind: str, message: str, forced: bool, served: dict[str, int] | None) -> None:
        self.failed += 1
        self.failure_classes[kind] = self.failure_classes.get(kind, 0) + 1
        meta = RolloutMeta(**self.meta, forced_tool_call=forced)
        if served is not None:
            meta.model_calls_by_replica = served
        row = {
            "_ng_task_index": body["_ng_task_index"],
            "_ng_rollout_index": body["_ng_rollout_index"],
            "agent_ref": body["agent_ref"],
            "_ng_failure_class": kind,
            "_ng_failure_message": message[:2000],
            META_KEY: meta.model_dump(exclude_unset=True),
        }
        os.write(self.fail_fd, dumps(row) + b"\n")


@contextlib.contextmanager
def _frozen_heap() -> Iterator[None]:
    """Objects alive before the run (imports, the task rows) are left out of collections during it.

    A full collection walks every tracked object, and with thousands of rollouts in flight
    one took seconds of the event loop's time (3.4 s at 4,096 in flight on a busy machine),
    when no rollout finishes; the run's own objects are still collected as ever.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _served(client: ModelClient, sticky: str) -> dict[str, int] | None:
    """The rollout's answered calls per replica (None with one replica); forgets its stickiness."""
    served = client.pool.forget(sticky)
    if len(client.pool.replicas) == 1:
        return None
    return {redact_url(url): count for url, count in served.items()}


async def _report(bar: Progress, stats: Callable[[], Any], finished: asyncio.Event) -> None:
    """Refresh the progress line's model-call figures while rollouts run."""
    while not finished.is_set():
        bar.calls(stats())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(finished.wait(), 0.5)


def _failure_class(exc: Exception) -> str:
    name = type(exc).__name__
    return {"ModelCallError": "model_error", "ModelResponseError": "model_bad_response"}.get(name, "agent_error")
