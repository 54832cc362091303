"""The figures of one reward profile section, computed from a table view."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np

from gymkit.contribution.thresholds import MIN_MIXED as MIXED_LOW  # one threshold with GYM505
from gymkit.profiling.passk import max_at_k, pass_at_k
from gymkit.profiling.stats import Groups, histogram, pearson, summary
from gymkit.profiling.table import TableView

__all__ = ["MIXED_LOW", "PER_TASK_INLINE", "PerTask", "section"]

PER_TASK_INLINE = 2000
_USAGE = ("input_tokens", "output_tokens", "total_tokens")


def section(view: TableView, threshold: float) -> dict[str, Any]:
    rewards = view.reward
    groups = Groups.of(view.task, rewards)
    counts = Counter(int(c) for c in groups.counts)
    # The usual count wins; a prompt with a missing rollout or two must not shrink every k.
    samples = max(counts, key=lambda c: (counts[c], c)) if counts else 0
    passes, used = pass_at_k(groups, samples, threshold)
    out = {
        "num_rollouts": len(rewards),
        "num_prompts": len(groups.ids),
        "samples_per_prompt": samples,
        "samples_per_prompt_range": [int(groups.counts.min()), int(groups.counts.max())] if counts else [0, 0],
        "reward": _reward(rewards, groups),
        "pass_at_k": passes,
        "pass_at_k_prompts": used,
        "max_at_k": max_at_k(groups, samples),
        "prompts": _prompts(groups, threshold, samples),
        "tool_calls": _tool_calls(view, rewards),
        "usage": _usage(view),
    }
    if view.table.components:
        out["reward_components"] = _components(view)
    return out


def _reward(rewards: np.ndarray, groups: Groups) -> dict[str, Any]:
    out = summary(rewards)
    out["histogram"] = histogram(rewards)
    out["binary"] = bool(len(rewards)) and bool(np.isin(rewards, (0.0, 1.0)).all())
    out["per_prompt"] = {"mean": summary(groups.mean()), "std": summary(groups.std())}
    return out


def _prompts(groups: Groups, threshold: float, samples: int) -> dict[str, Any]:
    n = len(groups.ids)
    if not n:
        return {"all_fail": None, "all_pass": None, "mixed": None, "counts": {}, "verdict": "no rollouts"}
    low, high = groups.min(), groups.max()
    constant = low == high
    counts = {
        "all_fail": int((constant & (high < threshold)).sum()),
        "all_pass": int((constant & (low >= threshold)).sum()),
        "mixed": int((~constant).sum()),
    }
    out: dict[str, Any] = {key: value / n for key, value in counts.items()}
    out["counts"] = counts
    out["verdict"] = _verdict(out, samples)
    return out


def _verdict(shares: dict[str, Any], samples: int) -> str | None:
    if samples < 2:
        return "one sample per prompt: whether rewards differ between samples cannot be measured"
    if shares["mixed"] >= MIXED_LOW:
        return None
    fail, ok = shares["all_fail"], shares["all_pass"]
    advice = (
        "make the tasks easier or profile a stronger model"
        if fail >= ok
        else "make the tasks harder or profile a weaker model"
    )
    return (
        f"only {shares['mixed']:.0%} of prompts give different rewards to different samples, so GRPO "
        f"learns from few prompts: {fail:.0%} always fail and {ok:.0%} always pass. To get more mixed "
        f"prompts, {advice} (or make the reward finer-grained)."
    )


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _tool_calls(view: TableView, rewards: np.ndarray) -> dict[str, Any]:
    calls, invalid, errors = view.ints("calls"), view.ints("invalid"), view.ints("errors")
    n, total = len(calls), int(calls.sum())
    sparse = view.tool_rows()
    names = {i: name for name, i in view.table.tools.items()}
    per_tool: dict[str, Any] = {}
    for tool in sorted(set(sparse["tool_id"].tolist()), key=lambda i: names[i]):
        mine = sparse["tool_id"] == tool
        x = np.zeros(n)
        x[sparse["row"][mine]] = sparse["tool_calls"][mine]
        tool_total = int(sparse["tool_calls"][mine].sum())
        per_tool[names[tool]] = {
            "calls": tool_total,
            "per_rollout_mean": tool_total / n,
            "rollouts_with_call": int(mine.sum()),
            "invalid_argument_rate": _rate(int(sparse["tool_invalid"][mine].sum()), tool_total),
            "tool_error_rate": _rate(int(sparse["tool_errors"][mine].sum()), tool_total),
            "reward_correlation": pearson(x, rewards),
        }
    by_count = Groups.of(calls, rewards)
    return {
        "total": total,
        "per_rollout_mean": total / n if n else None,
        "no_call_share": float((calls == 0).mean()) if n else None,
        "invalid_arguments": int(invalid.sum()),
        "invalid_argument_rate": _rate(int(invalid.sum()), total),
        "tool_errors": int(errors.sum()),
        "tool_error_rate": _rate(int(errors.sum()), total),
        "reward_correlation": pearson(calls.astype(float), rewards),
        "calls_vs_reward": [
            {"calls": int(c), "rollouts": int(k), "mean_reward": float(m)}
            for c, k, m in zip(by_count.ids, by_count.counts, by_count.mean(), strict=True)
        ],
        "per_tool": per_tool,
    }


def _components(view: TableView) -> dict[str, Any]:
    """Per objective of a multi-reward server: its mean, and the share of its prompts where it varies.

    A prompt whose objective is the same in every sample gives that objective no advantage to learn
    from, whatever the aggregate reward does: the share is the objective's own GRPO signal.
    """
    out: dict[str, Any] = {}
    for name in sorted(view.table.components):
        task, values = view.component(name)
        groups = Groups.of(task, values)
        n = len(groups.ids)
        out[name] = {
            "num_rollouts": len(values),
            "num_prompts": n,
            "mean": float(values.mean()) if len(values) else None,
            "mixed": float((groups.min() != groups.max()).sum()) / n if n else None,
        }
    return out


def _usage(view: TableView) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _USAGE:
        if name not in view.table.numeric:
            continue
        _, values = view.column(name)
        if len(values):
            stats = summary(values)
            stats.pop("quantiles")
            out[name] = stats | {"total": float(values.sum())}
    return out


class PerTask:
    """NeMo Gym's per-task statistics: ``mean/``, ``max/``, ``min/``, ``median/``, ``std/`` per column.

    The figures are computed per column as arrays; rows are built one at a time when
    iterated, so a profile of many tasks never holds all of them as dicts.
    """

    def __init__(self, view: TableView, model: str | None = None) -> None:
        self.model = model
        self.labels = {i: key for key, i in view.table.tasks.items()}
        self.columns: list[tuple[str, Groups, dict[str, np.ndarray]]] = []
        ids: set[int] = set()
        for name in sorted(view.table.numeric, key=lambda c: (c != "reward", c)):
            task, values = view.column(name)
            if not len(values):
                continue
            groups = Groups.of(task, values)
            stats = {
                "mean": groups.mean(),
                "max": groups.max(),
                "min": groups.min(),
                "median": groups.median(),
                "std": groups.std(),
            }
            self.columns.append((name, groups, stats))
            ids.update(groups.ids.tolist())
        self.task_ids = sorted(ids, key=lambda i: _sort_key(self.labels[i]))

    def __len__(self) -> int:
        return len(self.task_ids)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        positions = [{t: i for i, t in enumerate(groups.ids.tolist())} for _, groups, _ in self.columns]
        for task_id in self.task_ids:
            row = _task_head(self.labels[task_id], self.model)
            for (name, groups, stats), where in zip(self.columns, positions, strict=True):
                i = where.get(task_id)
                if i is None:
                    continue
                if name == "reward":
                    row["num_rollouts"] = int(groups.counts[i])
                for stat, figures in stats.items():
                    row[f"{stat}/{name}"] = float(figures[i])
            yield row


def _task_head(label: int | str, model: str | None) -> dict[str, Any]:
    head: dict[str, Any] = {"task": label}
    if isinstance(label, int):
        head["_ng_task_index"] = label
    if model is not None:
        head["model"] = model
    return head


def _sort_key(label: int | str) -> tuple[int, int | str]:
    return (0, label) if isinstance(label, int) else (1, label)
