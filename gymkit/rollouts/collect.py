"""Collecting rollouts: every (task, repeat) once, appended as it finishes, resumable after kill -9.

Each finished rollout is one ``write()`` of one line to a file opened with O_APPEND, so a
killed run leaves whole lines plus at most one partial last line; ``resume`` cuts that
line off, checks the file belongs to this run (identity.py), skips the (task, repeat) pairs
already written and runs the rest. When the run ends the file is rewritten, sorted by
(task, repeat), with an atomic replace, and failures fixed since drop out of the failures file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from gymkit import __version__
from gymkit.artifacts.run import RunIdentity
from gymkit.errors import UserError
from gymkit.hashing import file_sha256
from gymkit.jsonl import atomic_write_bytes, dumps
from gymkit.rollouts.clients import ModelClient
from gymkit.rollouts.config import (
    DEFAULT_MAX_STEPS,
    EMBEDDED,
    EMBEDDED_MODEL_TIMEOUT,
    Bounds,
    EndpointConfig,
    Sampling,
    redact_url,
)
from gymkit.rollouts.estimate import EstimatingProgress, LongRunNotice
from gymkit.rollouts.identity import (
    build_identity,
    check_plan,
    check_resume,
    identity_path,
    refuse_shrink,
    task_sha256,
    write_identity,
)
from gymkit.rollouts.limiter import AdaptiveLimit, CallLimiter, FixedLimit
from gymkit.rollouts.limits import config_max_steps, in_flight_ceiling, raise_open_files_limit
from gymkit.rollouts.pool import ReplicaPool
from gymkit.rollouts.rowfiles import existing_rows, failures_path_for, finish_files, load_tasks, row_key
from gymkit.rollouts.runner import RolloutRunner
from gymkit.rollouts.supervisor import ServerDiedError, ServerSupervisor

__all__ = ["CollectionSummary", "collect_rollouts", "failures_path_for"]


@dataclass(frozen=True)
class CollectionSummary:
    output_path: Path
    failures_path: Path
    model: str
    endpoint: str
    planned: int  # tasks x repeats
    written: int  # rows written by this run
    skipped: int  # rows already present (resume)
    failed: int  # rollouts of this run that produced no row
    rows: int  # rows in the output file now
    mean_reward: float | None  # over every row in the output file
    elapsed: float
    failure_classes: dict[str, int] = field(default_factory=dict)
    # Failed tool calls, most frequent first: {tool, kind, calls, rollouts, first}.
    tool_errors: list[dict[str, Any]] = field(default_factory=list)
    # Each replica's share of the answered model calls (redacted URL -> fraction).
    replica_shares: dict[str, float] = field(default_factory=dict)
    replicas_taken_out: dict[str, int] = field(default_factory=dict)
    model_calls: int = 0
    overloads: int = 0  # 429/503/timeouts the limiter backed off on
    concurrency: str = ""  # how calls in flight were set, and where the limit ended

    @property
    def complete(self) -> bool:
        return self.rows == self.planned


def collect_rollouts(
    server_dir: Path,
    input_path: Path,
    output_path: Path,
    *,
    repeats: int = 1,
    limit: int | None = None,
    concurrency: int | None = None,
    resume: bool = False,
    force: bool = False,
    endpoint: EndpointConfig | None = None,
    sampling: Sampling | None = None,
    server_url: str | None = None,
    max_steps: int | None = None,
    bounds: Bounds | None = None,
    model_limits: dict[str, Any] | None = None,
    progress: bool = True,
    notice: LongRunNotice | None = None,
) -> CollectionSummary:
    """Run ``repeats`` rollouts of the first ``limit`` tasks of ``input_path``; None endpoint = embedded model.

    ``concurrency`` None finds the endpoint's capacity (limiter.py); N pins N rollouts in flight.
    The embedded model gets as many calls in flight as it has slots.
    ``max_steps`` (or ``bounds.max_steps``) defaults to the server config's, else 16 turns.
    ``model_limits`` (EndpointConfig fields: timeout, max_retries, ...) apply to the embedded
    model; an endpoint carries its own. ``notice`` hears the run's length when it is long.
    """
    sampling = sampling or Sampling()
    bounds = bounds or Bounds()
    if sampling.seed is not None and endpoint is not None and endpoint.api == "responses":
        # OpenAI's Responses API has no seed parameter and refuses unknown ones: every call of
        # the run would fail. Chat Completions takes it (vLLM, llama.cpp and OpenAI alike).
        raise UserError("--seed needs the Chat Completions API: the Responses API has no seed", hint="add --api chat")
    tasks = load_tasks(input_path, limit)
    if not resume:
        refuse_shrink(output_path, len(tasks) * repeats, force)
    steps = max_steps or bounds.max_steps or config_max_steps(server_dir) or DEFAULT_MAX_STEPS
    bounds = Bounds(max_steps=steps, rollout_timeout=bounds.rollout_timeout, server_timeout=bounds.server_timeout)
    plan = {"input": str(input_path), "input_sha256": file_sha256(input_path), "limit": limit, "repeats": repeats}
    raise_open_files_limit()
    pinned = max(1, concurrency) if concurrency is not None else None
    run = _Run(tasks, output_path, repeats, pinned, sampling, bounds, progress, resume, plan)
    run.notice = notice
    with contextlib.ExitStack() as stack:
        if endpoint is None:
            from gymkit.rollouts.embedded import EmbeddedModel

            model = stack.enter_context(EmbeddedModel())
            run.slots = model.slots
            endpoint = EndpointConfig(
                model.urls,
                model=model.model,
                api="chat",
                force_first_tool_call=True,
                label=EMBEDDED,
                **{"timeout": EMBEDDED_MODEL_TIMEOUT, **(model_limits or {})},
            )
        server = ServerSupervisor(server_dir, server_url)
        stack.callback(server.close)
        return asyncio.run(run.main(endpoint, server))


class _Run:
    def __init__(
        self,
        tasks: list[dict[str, Any]],
        output: Path,
        repeats: int,
        concurrency: int | None,
        sampling: Sampling,
        bounds: Bounds,
        progress: bool,
        resume: bool,
        plan: dict[str, Any],
    ) -> None:
        self.tasks = tasks
        self.hashes = [task_sha256(task) for task in tasks]
        self.resume = resume
        self.output = output
        self.failures = failures_path_for(output)
        self.repeats = repeats
        self.concurrency = concurrency
        self.slots: int | None = None  # the embedded model's
        self.notice: LongRunNotice | None = None
        self.sampling = sampling
        self.bounds = bounds
        self.progress = progress
        self.plan = plan

    def _plan(self, identity: RunIdentity) -> tuple[list[tuple[int, int]], list[dict[str, Any]]]:
        """(pending jobs, rows kept); refuses a resume of another run before anything is written."""
        planned = [(t, r) for t in range(len(self.tasks)) for r in range(self.repeats)]
        if not self.resume:
            return planned, []
        kept: dict[tuple[int, int], dict[str, Any]] = {}
        for row in existing_rows(self.output):
            kept.setdefault(row_key(row), row)
        rows = list(kept.values())
        check_resume(self.output, identity, rows)
        check_plan(self.output, rows, self.tasks, self.repeats)
        return [job for job in planned if job not in kept], rows

    def _open_outputs(self, identity: RunIdentity, kept: list[dict[str, Any]]) -> None:
        """Prepare the output and failures files for appending."""
        try:
            self.output.parent.mkdir(parents=True, exist_ok=True)
            if not self.resume:
                self.output.write_bytes(b"")
                self.failures.write_bytes(b"")
            if not self.resume or not identity_path(self.output).exists():
                write_identity(self.output, identity)
            if kept:
                # The deduplicated, cut-clean rows come first; new rows are appended after them.
                atomic_write_bytes(self.output, b"".join(dumps(row) + b"\n" for row in kept))
            self.out_fd = os.open(self.output, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self.fail_fd = os.open(self.failures, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            with contextlib.suppress(AttributeError):
                os.close(self.out_fd)
            raise self._cannot_write(exc) from None

    def _cannot_write(self, exc: OSError) -> UserError:
        return UserError(f"{exc.filename or self.output}: cannot write: {exc.strerror}", hint="pass --output FILE")

    def _overrides(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(keys set in responses_create_params, keys sent to the model only)."""
        params = {
            k: v
            for k, v in (
                ("temperature", self.sampling.temperature),
                ("top_p", self.sampling.top_p),
                ("max_output_tokens", self.sampling.max_output_tokens),
            )
            if v is not None
        }
        model_only: dict[str, Any] = {}
        if self.sampling.seed is not None:
            model_only["seed"] = self.sampling.seed
        return params, model_only

    def _limiter(self, calls_ceiling: int) -> tuple[CallLimiter, str]:
        """The model-call limiter of this run and how it was chosen (for the summary)."""
        if self.concurrency is not None:
            return CallLimiter(FixedLimit(self.concurrency)), f"pinned at {self.concurrency}"
        if self.slots is not None:
            # llama.cpp queues calls beyond its slots itself; more in flight only adds latency.
            return CallLimiter(FixedLimit(self.slots)), f"{self.slots} (the embedded model's slots)"
        return CallLimiter(AdaptiveLimit(maximum=calls_ceiling)), "adaptive"

    async def main(self, endpoint: EndpointConfig, server: ServerSupervisor) -> CollectionSummary:
        started = time.monotonic()
        calls_ceiling, rollouts_ceiling = in_flight_ceiling()
        limiter, how = self._limiter(calls_ceiling)
        max_rollouts = min(self.concurrency, rollouts_ceiling) if self.concurrency else rollouts_ceiling
        # At most 2,048 connections (model and server together): past that, thousands of
        # connects at once move the rollouts in lockstep and results arrive in bursts.
        sockets = min(2048, self.concurrency or (calls_ceiling + max_rollouts))
        connector = aiohttp.TCPConnector(limit=sockets, limit_per_host=0, force_close=False)
        async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as http:
            pool = ReplicaPool(endpoint.base_urls)
            client = ModelClient(endpoint, http, limiter, pool)
            model_name = await client.check()
            self.meta = {
                "model": model_name,
                "endpoint": endpoint.display,
                "sampling": self.sampling.as_dict(),
                "gymkit_version": __version__,
            }
            identity = build_identity(
                **self.plan,
                model=model_name,
                endpoint=endpoint.display,
                api=endpoint.api,
                sampling=self.sampling.as_dict(),
                max_steps=self.bounds.max_steps,
            )
            try:
                pending, kept = self._plan(identity)
            except OSError as exc:
                raise self._cannot_write(exc) from None
            if pending:
                # Before the output is opened: a server that does not start leaves the file as it was.
                await asyncio.to_thread(server.start)
            self._open_outputs(identity, kept)
            runner = RolloutRunner(
                self.tasks, self.hashes, self.bounds, self.meta, self.out_fd, self.fail_fd, self._overrides()
            )
            embedded = endpoint.label == EMBEDDED
            if embedded and pending and self.notice is not None:
                self.notice.before_embedded(len(pending))
            bar = EstimatingProgress(
                notice=None if embedded else self.notice,
                total=len(pending) + len(kept),
                done=len(kept),
                enabled=self.progress,
            )
            try:
                await runner.run_all(
                    pending, client, server, endpoint, bar, pinned=self.concurrency, max_rollouts=max_rollouts
                )
            except ServerDiedError as exc:
                exc.message += f"; {runner.written + len(kept)} rows are in {self.output}"
                raise
            finally:
                os.close(self.out_fd)
                os.close(self.fail_fd)
                rows = finish_files(self.output, self.failures)
        rewards = [float(row["reward"]) for row in rows if isinstance(row.get("reward"), int | float)]
        if limiter.control.adaptive:
            how += f", ended at {limiter.limit}"
        return CollectionSummary(
            output_path=self.output,
            failures_path=self.failures,
            model=model_name,
            endpoint=endpoint.display,
            planned=len(self.tasks) * self.repeats,
            written=runner.written,
            skipped=len(kept),
            failed=runner.failed,
            rows=len(rows),
            mean_reward=sum(rewards) / len(rewards) if rewards else None,
            elapsed=time.monotonic() - started,
            failure_classes=dict(runner.failure_classes),
            tool_errors=runner.tool_errors.as_list(),
            replica_shares={redact_url(url): share for url, share in pool.shares().items()},
            replicas_taken_out={redact_url(r.url): r.out_count for r in pool.replicas if r.out_count},
            model_calls=limiter.calls,
            overloads=limiter.overloads,
            concurrency=how,
        )
