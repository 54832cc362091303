"""``gymkit reproduce NAME``: what a reviewer runs, in one command, offline.

1. the server's tests, smoke test and data validation as ``gymkit test NAME`` runs them,
   in the server's own virtualenv; its result is what the checklist's GYM303 reads;
2. re-verification of the stored example rollouts (must match exactly);
3. re-collection of the example rollouts with the recorded model, compared with the
   stored rewards. A sampling model gives different completions on another machine or
   library version, so differences here are reported, side by side and as mean rewards,
   but do not fail; only a re-collection that cannot run at all is worth a warning;
4. the full checklist.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gymkit import childproc
from gymkit.artifacts import rollout_meta
from gymkit.checks.fixtures import CheckOptions, Fixtures
from gymkit.checks.runner import run_checks
from gymkit.errors import GymkitError
from gymkit.findings import ServerReport, Status
from gymkit.jsonl import iter_rows
from gymkit.project import ServerPaths
from gymkit.reverify import reverify_rollouts
from gymkit.testing.stamp import read_stamp

__all__ = ["ReproduceReport", "Stage", "recollect", "reproduce", "run_tests"]


@dataclass
class Stage:
    name: str
    status: Status
    summary: str
    details: list[str] = field(default_factory=list)
    required: bool = True


@dataclass
class ReproduceReport:
    stages: list[Stage]
    checks: ServerReport

    @property
    def failed(self) -> bool:
        return self.checks.failed or any(s.required and s.status == "fail" for s in self.stages)


def run_tests(paths: ServerPaths, *, isolated: bool = True, timeout: float = 1800.0) -> Stage:
    """The server's tests as ``gymkit test NAME`` runs them: its own environment, with smoke test and data validation.

    The run writes the result stamp the checklist's GYM303 reads, so the checklist below
    judges step 3 on this very run. ``isolated`` is accepted for older callers; every run is.
    """
    del isolated
    # A child process: the session prints its progress, and the report here shows only its outcome.
    cmd = [sys.executable, "-m", "gymkit", "test", str(paths.dir)]
    started = time.perf_counter()
    # Under the supervisor: a reproduce killed mid-way takes the session and its servers with it.
    code, output = childproc.run(cmd, cwd=paths.root, env={**os.environ, "NO_COLOR": "1"}, timeout=timeout)
    if code is None:
        return Stage("tests", Status.FAIL, f"`gymkit test {paths.name}` took longer than {timeout:.0f}s")
    seconds = time.perf_counter() - started
    lines = [line for line in output.splitlines() if line.strip()]
    stamp, _ = read_stamp(paths.dir)
    counts = stamp.stages["tests"].counts if stamp is not None and "tests" in stamp.stages else None
    tests = f"{counts['passed']} passed" if counts else "tests"
    if code == 0:
        return Stage(
            "tests", Status.PASS, f"{tests}, smoke test and data validation passed (gymkit test, {seconds:.0f} s)"
        )
    failed = [line for line in lines if "FAILED" in line or line.startswith("error:")]
    return Stage("tests", Status.FAIL, f"`gymkit test {paths.name}` exited with {code}", failed or lines[-8:])


def _reverify_stage(paths: ServerPaths, options: CheckOptions) -> tuple[Stage, Any]:
    if not paths.example_rollouts.is_file():
        return Stage("re-verification", Status.FAIL, "no data/example_rollouts.jsonl"), None
    report = reverify_rollouts(paths, verify_timeout=options.verify_timeout, startup_timeout=options.startup_timeout)
    if report.error:
        return Stage("re-verification", Status.FAIL, report.error), report
    details = [
        f"line {row.line}: stored {row.stored}, " + (row.error or f"verify now returns {row.reward}")
        for row in report.differences
    ]
    matched = len(report.rows) - len(details)
    status = Status.PASS if report.ok else Status.FAIL
    return Stage("re-verification", status, f"{matched}/{len(report.rows)} stored rewards reproduced", details), report


def _recorded(rows: list[dict[str, Any]]) -> tuple[str | None, str | None, dict[str, Any]]:
    metas = [rollout_meta(r) for r in rows]
    if not metas or None in metas:
        return None, None, {}
    first = metas[0]
    assert first is not None
    return first.model, first.endpoint, first.sampling or {}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def recollect(paths: ServerPaths, *, endpoint_url: str | None = None, api_key: str | None = None) -> Stage:
    """Collect the example rollouts again with the recorded model into a temp file; compare rewards."""
    from gymkit.rollouts import collect_rollouts
    from gymkit.rollouts.config import EndpointConfig, Sampling

    name = "re-collection"
    try:
        stored = [row for _, row in iter_rows(paths.example_rollouts)]
    except GymkitError as exc:
        return Stage(name, Status.SKIP, exc.message, required=False)
    model, endpoint, sampling = _recorded(stored)
    if model is None:
        return Stage(name, Status.SKIP, "the rollouts do not record their model (_gymkit)", required=False)
    if endpoint != "embedded" and endpoint_url is None:
        message = f"recorded with {model} at {endpoint}; pass --endpoint URL to re-collect with it"
        return Stage(name, Status.SKIP, message, required=False)
    config = EndpointConfig((endpoint_url,), api_key=api_key, model=model) if endpoint_url else None
    known = {k: sampling.get(k) for k in ("temperature", "top_p", "max_output_tokens", "seed")}
    repeats = max(1, math.ceil(len(stored) / max(1, _count(paths.example))))
    with tempfile.TemporaryDirectory(prefix="gymkit-reproduce-") as tmp:
        out = Path(tmp) / "example_rollouts.jsonl"
        try:
            summary = collect_rollouts(
                paths.dir,
                paths.example,
                out,
                repeats=repeats,
                endpoint=config,
                sampling=Sampling(**known),
                progress=True,  # the bar gymkit rollouts shows: rate and time left; silent off a terminal
            )
            fresh = [row for _, row in iter_rows(out)] if out.is_file() else []
        except GymkitError as exc:
            return Stage(name, Status.WARN, f"could not re-collect: {exc.message}", [exc.hint or ""], required=False)
        except Exception as exc:  # noqa: BLE001 - an informational stage must not end the reproduction
            return Stage(name, Status.WARN, f"could not re-collect: {type(exc).__name__}: {exc}", required=False)
    settings = ", ".join(f"{k}={v}" for k, v in known.items() if v is not None)
    return _compare(stored, fresh, summary.model + (f" ({settings})" if settings else ""), summary.failed)


def _count(path: Path) -> int:
    try:
        return sum(1 for _ in iter_rows(path))
    except GymkitError:
        return 1


def _key(row: dict[str, Any], fallback: int) -> tuple[Any, Any]:
    if isinstance(row.get("_ng_task_index"), int):
        return row["_ng_task_index"], row.get("_ng_rollout_index", 0)
    return fallback, 0


def _order(key: tuple[Any, Any]) -> tuple[int, int]:
    return tuple(k if isinstance(k, int) else -1 for k in key)  # type: ignore[return-value]


def _distribution(rewards: list[Any]) -> str:
    counts = Counter(float(r) for r in rewards if isinstance(r, int | float))
    return ", ".join(f"{value:g}: {n}" for value, n in sorted(counts.items())) or "none"


def _compare(stored: list[dict[str, Any]], fresh: list[dict[str, Any]], model: str, failed: int) -> Stage:
    old = {_key(r, i): r.get("reward") for i, r in enumerate(stored)}
    new = {_key(r, i): r.get("reward") for i, r in enumerate(fresh)}
    details = []
    same = 0
    for key in sorted(old, key=_order):
        if key in new and old[key] == new[key]:
            same += 1
        else:
            got = new.get(key, "no rollout")
            details.append(f"task {key[0]} rollout {key[1]}: stored {old[key]}, re-collected {got}")
    old_mean = _mean([float(v) for v in old.values() if isinstance(v, int | float)])
    new_mean = _mean([float(v) for v in new.values() if isinstance(v, int | float)])
    summary = (
        f"{same}/{len(old)} rewards equal with {model}; mean reward stored {_fmt(old_mean)}, re-collected "
        f"{_fmt(new_mean)}" + (f"; {failed} rollouts failed" if failed else "")
    )
    details.insert(
        0,
        f"reward counts stored {{{_distribution(list(old.values()))}}}, "
        f"re-collected {{{_distribution(list(new.values()))}}}",
    )
    if len(details) > 1:
        details.append(
            "a sampling model's completions differ between runs and machines; these differences are "
            "information for the reviewer, not a failure (re-verification above is the exact check)"
        )
    return Stage("re-collection", Status.PASS if len(details) == 1 else Status.WARN, summary, details, required=False)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def reproduce(
    folder: Path,
    *,
    options: CheckOptions | None = None,
    isolated: bool = True,
    recollection: bool = True,
    endpoint_url: str | None = None,
    api_key: str | None = None,
) -> ReproduceReport:
    options = options or CheckOptions()
    paths = ServerPaths(folder.resolve())
    stages = [run_tests(paths, isolated=isolated)]
    stage, reverified = _reverify_stage(paths, options)
    stages.append(stage)
    if recollection and paths.example_rollouts.is_file():
        stages.append(recollect(paths, endpoint_url=endpoint_url, api_key=api_key))
    fixtures = Fixtures(paths, options)
    if reverified is not None:
        fixtures.__dict__["reverify"] = reverified  # reuse the run above instead of starting the server again
    return ReproduceReport(stages, run_checks(paths.dir, options=options, fixtures=fixtures))
