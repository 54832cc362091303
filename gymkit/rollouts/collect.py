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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from gymkit import __version__
from gymkit.errors import UserError
from gymkit.hashing import file_sha256
from gymkit.jsonl import atomic_write_bytes, dumps
from gymkit.rollouts.agent import DEFAULT_AGENT_REF, RolloutFailure, run_rollout
from gymkit.rollouts.clients import ModelClient
from gymkit.rollouts.config import (
    DEFAULT_MAX_STEPS,
    EMBEDDED,
    EMBEDDED_MODEL_TIMEOUT,
    Bounds,
    EndpointConfig,
    Sampling,
)
from gymkit.rollouts.identity import (
    build_identity,
    check_plan,
    check_resume,
    identity_path,
    refuse_shrink,
    task_sha256,
    write_identity,
)
from gymkit.rollouts.limits import config_max_steps, raise_open_files_limit
from gymkit.rollouts.progress import Progress
from gymkit.rollouts.rowfiles import existing_rows, failures_path_for, finish_files, load_tasks, row_key
from gymkit.rollouts.supervisor import ServerDiedError, ServerSupervisor

__all__ = ["CollectionSummary", "collect_rollouts", "failures_path_for"]

# A small model left unbounded rambles to the end of its context; tasks that set their own
# limit keep it.
EMBEDDED_MAX_OUTPUT_TOKENS = 128
SLOW_START = 64


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

    @property
    def rollouts_per_second(self) -> float:
        return (self.written + self.failed) / self.elapsed if self.elapsed > 0 else 0.0

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
    concurrency: int = 8,
    resume: bool = False,
    force: bool = False,
    endpoint: EndpointConfig | None = None,
    sampling: Sampling | None = None,
    server_url: str | None = None,
    max_steps: int | None = None,
    bounds: Bounds | None = None,
    model_limits: dict[str, Any] | None = None,
    progress: bool = True,
) -> CollectionSummary:
    """Run ``repeats`` rollouts of the first ``limit`` tasks of ``input_path``; None endpoint = embedded model.

    ``max_steps`` (or ``bounds.max_steps``) defaults to the server config's, else 16 turns.
    ``model_limits`` (EndpointConfig fields: timeout, max_retries, ...) apply to the embedded
    model; an endpoint carries its own.
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
    run = _Run(tasks, output_path, repeats, max(1, concurrency), sampling, bounds, progress, resume, plan)
    with contextlib.ExitStack() as stack:
        if endpoint is None:
            from gymkit.rollouts.embedded import EmbeddedModel

            model = stack.enter_context(EmbeddedModel())
            endpoint = EndpointConfig(
                (model.url,),
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
        concurrency: int,
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
        self.sampling = sampling
        self.bounds = bounds
        self.progress = progress
        self.plan = plan
        self.written = self.failed = 0
        self.reward_sum = 0.0
        self.failure_classes: dict[str, int] = {}

    def _plan(self, identity: dict[str, Any]) -> tuple[list[tuple[int, int]], list[dict[str, Any]]]:
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

    def _open_outputs(self, identity: dict[str, Any], kept: list[dict[str, Any]]) -> None:
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

    async def main(self, endpoint: EndpointConfig, server: ServerSupervisor) -> CollectionSummary:
        started = time.monotonic()
        connector = aiohttp.TCPConnector(limit=min(self.concurrency, 2048), limit_per_host=0, force_close=False)
        async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as http:
            client = ModelClient(endpoint, http)
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
            try:
                await self._run_all(pending, client, server, endpoint, len(kept))
            except ServerDiedError as exc:
                exc.message += f"; {self.written + len(kept)} rows are in {self.output}"
                raise
            finally:
                os.close(self.out_fd)
                os.close(self.fail_fd)
                rows = finish_files(self.output, self.failures)
        rewards = [float(row["reward"]) for row in rows if isinstance(row.get("reward"), int | float)]
        return CollectionSummary(
            output_path=self.output,
            failures_path=self.failures,
            model=model_name,
            endpoint=endpoint.display,
            planned=len(self.tasks) * self.repeats,
            written=self.written,
            skipped=len(kept),
            failed=self.failed,
            rows=len(rows),
            mean_reward=sum(rewards) / len(rewards) if rewards else None,
            elapsed=time.monotonic() - started,
            failure_classes=dict(self.failure_classes),
        )

    async def _run_all(
        self,
        pending: list[tuple[int, int]],
        client: ModelClient,
        server: ServerSupervisor,
        endpoint: EndpointConfig,
        already: int,
    ) -> None:
        params_overrides, model_only = self._overrides()
        jobs: Iterator[tuple[int, int]] = iter(pending)
        bar = Progress(total=len(pending) + already, done=already, enabled=self.progress)

        target = min(self.concurrency, len(pending))
        started = 0

        def spawn(group: asyncio.TaskGroup) -> None:
            nonlocal started
            started += 1
            group.create_task(worker(group))

        async def worker(group: asyncio.TaskGroup) -> None:
            for task_index, rollout_index in jobs:
                task = self.tasks[task_index]
                body = {k: v for k, v in task.items() if k != "_line"}
                rcp = {**body["responses_create_params"], **params_overrides}
                extra = dict(model_only)
                if endpoint.label == EMBEDDED and rcp.get("max_output_tokens") is None:
                    extra["max_output_tokens"] = EMBEDDED_MAX_OUTPUT_TOKENS
                body.update(
                    responses_create_params=rcp,
                    _ng_task_index=task_index,
                    _ng_rollout_index=rollout_index,
                    agent_ref=body.get("agent_ref") or DEFAULT_AGENT_REF,
                )
                reward = await self._one(body, client, server, endpoint, extra)
                bar.advance(reward)
                if started < target:
                    spawn(group)

        # Slow start: thousands of rollouts started at once move in lockstep (all seeding,
        # then all waiting on the model, ...), so results arrive in bursts with long gaps.
        # Adding a worker per finished rollout spreads them over the phases of a rollout.
        try:
            with bar:
                async with asyncio.TaskGroup() as group:
                    for _ in range(min(target, SLOW_START)):
                        spawn(group)
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
                self._fail(body, exc.kind, exc.message, forced)
                return None
            except TimeoutError:
                limit = self.bounds.rollout_timeout
                self._fail(body, "rollout_timeout", f"the rollout took longer than {limit:g}s", forced)
                return None
            except Exception as exc:  # noqa: BLE001 - one broken rollout must not end a 10k-rollout run
                self._fail(body, _failure_class(exc), f"{type(exc).__name__}: {exc}", forced)
                return None
        for key in ("_ng_task_index", "_ng_rollout_index", "agent_ref"):
            row.setdefault(key, body[key])
        row["_gymkit"] = {
            **self.meta,
            "forced_tool_call": forced,
            "tool_calls": result.tool_calls,
            "tool_errors": result.tool_errors,
            "task_sha256": self.hashes[body["_ng_task_index"]],
        }
        os.write(self.out_fd, dumps(row) + b"\n")
        self.written += 1
        reward = float(row["reward"])
        self.reward_sum += reward
        return reward

    def _fail(self, body: dict[str, Any], kind: str, message: str, forced: bool) -> None:
        self.failed += 1
        self.failure_classes[kind] = self.failure_classes.get(kind, 0) + 1
        row = {
            "_ng_task_index": body["_ng_task_index"],
            "_ng_rollout_index": body["_ng_rollout_index"],
            "agent_ref": body["agent_ref"],
            "_ng_failure_class": kind,
            "_ng_failure_message": message[:2000],
            "_gymkit": {**self.meta, "forced_tool_call": forced},
        }
        os.write(self.fail_fd, dumps(row) + b"\n")


def _failure_class(exc: Exception) -> str:
    name = type(exc).__name__
    return {"ModelCallError": "model_error", "ModelResponseError": "model_bad_response"}.get(name, "agent_error")
