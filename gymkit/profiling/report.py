"""Build a reward profile from rollout files: figures, provenance and per-task rows."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from gymkit import __version__
from gymkit.artifacts.profile import RewardProfile
from gymkit.errors import InvalidDataError
from gymkit.hashing import file_sha256, server_code_sha256
from gymkit.inputs import iter_json_rows, repo_root
from gymkit.profiling.sections import PER_TASK_INLINE, PerTask, section
from gymkit.profiling.stats import Groups
from gymkit.profiling.table import RolloutTable, failures_path
from gymkit.runtime.config import check_configs

__all__ = ["SCHEMA_VERSION", "Profile", "build_profile", "dataset_info", "profile_files", "shown_path"]

SCHEMA_VERSION = RewardProfile.SCHEMA_VERSION


@dataclass
class Profile:
    """A finished profile: the JSON report, its per-task rows and the arrays the plots draw."""

    report: dict[str, Any]
    per_task: list[PerTask]  # the overall rows, then each model's
    plot_data: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


def profile_files(
    rollouts: list[Path],
    *,
    threshold: float = 1.0,
    dataset: Path | None = None,
    server_dir: Path | None = None,
    extra: dict[str, Any] | None = None,
) -> Profile:
    """Stream every rollouts file into one table and profile it.

    ``_ng_task_index`` must be below the dataset's row count (when a dataset is given) and
    ``_ng_rollout_index`` below the samples of the collection (when this is one).
    """
    table = RolloutTable()
    table.hacks.threshold = threshold
    num_tasks = _count_rows(dataset) if dataset is not None else None
    planned = (extra or {}).get("collection")
    samples = planned.get("samples") if isinstance(planned, dict) else None
    for path in rollouts:
        table.add_file(path, num_tasks=num_tasks, samples=samples if isinstance(samples, int) else None)
    if not len(table):
        raise InvalidDataError(rollouts[0], None, "no rollouts to profile", hint="collect some with gymkit rollouts")
    return build_profile(table, threshold=threshold, dataset=dataset, server_dir=server_dir, extra=extra)


def build_profile(
    table: RolloutTable,
    *,
    threshold: float = 1.0,
    dataset: Path | None = None,
    server_dir: Path | None = None,
    extra: dict[str, Any] | None = None,
) -> Profile:
    models = list(table.models)
    if server_dir is not None:
        # The code hash parses every YAML in configs/: refuse hostile ones before it does.
        check_configs(server_dir, repo_root(server_dir) or server_dir)
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "gymkit_version": __version__,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "server": server_dir.name if server_dir else None,
        "models": models,
        "sampling": _sampling(table.sampling.values()),
        "dataset": dataset_info(dataset, server_dir),
        "server_code_sha256": server_code_sha256(server_dir) if server_dir else None,
        "rollouts_files": [{"path": shown_path(p, server_dir), "sha256": file_sha256(p)} for p in table.sources],
        "pass_threshold": threshold,
        **(extra or {}),
    }
    overall = table.view()
    report |= section(overall, threshold)
    report["failures"] = _failures(table.sources, len(table), server_dir)
    hacks = table.hacks.report()
    for example in hacks["examples"]:
        example["file"] = shown_path(Path(example["file"]), server_dir)
    report["suspicious"] = hacks
    per_task = [PerTask(overall)]
    plot_data = {}
    if len(models) > 1:
        report["by_model"] = {}
        for model in models:
            view = table.view(model)
            part = section(view, threshold) | {"sampling": _sampling([table.sampling[model]])}
            rows = PerTask(view, model)
            part["per_task"] = list(rows) if len(rows) <= PER_TASK_INLINE else _per_task_ref(len(rows))
            report["by_model"][model] = part
            per_task.append(rows)
            plot_data[model] = _plot_arrays(view.reward, view.task)
    else:
        plot_data[models[0]] = _plot_arrays(overall.reward, overall.task)
    n = len(per_task[0])
    report["per_task"] = list(per_task[0]) if n <= PER_TASK_INLINE else _per_task_ref(n)
    return Profile(report, per_task, plot_data)


def _per_task_ref(num_tasks: int) -> dict[str, Any]:
    return {"file": "per_task.jsonl", "num_tasks": num_tasks}


def _plot_arrays(rewards: np.ndarray, task: np.ndarray) -> dict[str, np.ndarray]:
    return {"reward": rewards, "prompt_mean": Groups.of(task, rewards).mean()}


def _sampling(per_model: Any) -> dict[str, Any] | list[dict[str, Any]] | None:
    """The one sampling setting used, or the list of them when rollouts differ."""
    seen: Counter[bytes] = Counter()
    for counter in per_model:
        seen.update(counter)
    settings = [orjson.loads(blob) for blob, _ in seen.most_common()]
    if not settings:
        return None
    return settings[0] if len(settings) == 1 else settings


def shown_path(path: Path, server_dir: Path | None = None) -> str:
    """``path`` relative to the server (then the working folder) when inside it.

    Reports are committed; an absolute path would only mean something on the machine that
    made them.
    """
    resolved = path.resolve()
    for base in (server_dir, Path.cwd()):
        if base is not None and resolved.is_relative_to(base.resolve()):
            return resolved.relative_to(base.resolve()).as_posix()
    return str(path)


def dataset_info(path: Path | None, server_dir: Path | None = None) -> dict[str, Any]:
    if path is None:
        return {"path": None, "sha256": None, "num_rows": None}
    rows = _count_rows(path)
    return {"path": shown_path(path, server_dir), "sha256": file_sha256(path), "num_rows": rows}


def _count_rows(path: Path) -> int:
    return sum(1 for _ in iter_json_rows(path))


def _failures(sources: list[Path], num_rollouts: int, server_dir: Path | None) -> dict[str, Any]:
    """Failed attempts from each ``<stem>_failures.jsonl`` side file, by ``_ng_failure_class``."""
    classes: Counter[str] = Counter()
    terminal = 0
    files = []
    for source in sources:
        side = failures_path(source)
        if not side.is_file():
            continue
        files.append(shown_path(side, server_dir))
        for _, row in iter_json_rows(side):
            classes[str(row.get("_ng_failure_class") or "unknown")] += 1
            terminal += bool(row.get("_ng_failure_terminal"))
    count = sum(classes.values())
    return {
        "files": files,
        "count": count,
        "terminal": terminal,
        "rate": count / (count + num_rollouts) if count + num_rollouts else None,
        "classes": dict(classes.most_common()),
    }
