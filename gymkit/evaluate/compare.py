"""Two rollout files of the same tasks, compared task by task.

The unit of comparison is the task, not the rollout: samples of one prompt share its
difficulty, so resampling rollouts as if independent would make every change look
significant. Deltas are paired over tasks (bootstrap CI, sign-flip permutation test, sign
test); rollouts that exist on both sides under the same indices (the same responses
re-verified after a verify change) are also paired one to one, and their pass/fail flips
listed with McNemar's exact test.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from gymkit.errors import UserError
from gymkit.inputs import iter_json_rows
from gymkit.profiling.grouping import task_key

__all__ = ["DEFAULT_RESAMPLES", "Rewards", "compare_rewards", "rewards_of_file"]

Rewards = dict[Any, dict[Any, float]]  # task -> rollout index (or line) -> reward
DEFAULT_RESAMPLES = 10_000
ALPHA = 0.05
MAX_EXACT_TASKS = 16  # 2**16 sign patterns: the permutation test is exact up to here


def rewards_of_file(path: Path) -> Rewards:
    """Rewards by task and rollout index; rows without a numeric reward are left out."""
    out: Rewards = {}
    for line, row in iter_json_rows(path):
        reward = row.get("reward")
        if isinstance(reward, bool) or not isinstance(reward, int | float) or not math.isfinite(reward):
            continue
        rollout = row.get("_ng_rollout_index")
        key = rollout if isinstance(rollout, int) and not isinstance(rollout, bool) else f"line:{line}"
        out.setdefault(task_key(row), {})[key] = float(reward)
    return out


def _binomial_two_sided(k: int, n: int) -> float:
    """P(a result at least this lopsided) under a fair coin: the exact sign / McNemar test."""
    if n == 0:
        return 1.0
    low = min(k, n - k)
    tail: float = sum(math.comb(n, i) for i in range(low + 1)) / 2**n
    return min(1.0, 2 * tail)


def _permutation_p(deltas: np.ndarray, rng: np.random.Generator, resamples: int) -> float:
    # Under "no change" each task's delta is as likely to have either sign.
    observed = abs(deltas.mean())
    n = len(deltas)
    if n <= MAX_EXACT_TASKS:
        signs = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1) * 2 - 1
    else:
        signs = rng.choice(np.array([-1, 1]), size=(resamples, n))
    means = np.abs((signs * deltas).mean(axis=1))
    # The observed pattern is one of those drawn (Phipson & Smyth): p is never 0.
    extreme = int((means >= observed - 1e-12).sum())
    return extreme / len(means) if n <= MAX_EXACT_TASKS else (extreme + 1) / (resamples + 1)


def _bootstrap_ci(values: np.ndarray, rng: np.random.Generator, resamples: int) -> list[float]:
    if len(values) < 2:
        return [float(values.mean()), float(values.mean())] if len(values) else [math.nan, math.nan]
    picks = rng.integers(0, len(values), size=(resamples, len(values)))
    means = values[picks].mean(axis=1)
    lo, hi = np.quantile(means, [ALPHA / 2, 1 - ALPHA / 2])
    return [float(lo), float(hi)]


def _task_row(task: Any, a: dict[Any, float], b: dict[Any, float], rng: np.random.Generator, n: int) -> dict[str, Any]:
    ra, rb = np.array(list(a.values())), np.array(list(b.values()))
    shared = [k for k in a if k in b]
    if len(shared) == len(a) == len(b):  # the same rollouts on both sides: resample the pairs
        ci = _bootstrap_ci(np.array([b[k] - a[k] for k in shared]), rng, n)
    elif len(ra) > 1 and len(rb) > 1:
        da = ra[rng.integers(0, len(ra), size=(n, len(ra)))].mean(axis=1)
        db = rb[rng.integers(0, len(rb), size=(n, len(rb)))].mean(axis=1)
        ci = [float(q) for q in np.quantile(db - da, [ALPHA / 2, 1 - ALPHA / 2])]
    else:
        ci = [math.nan, math.nan]
    return {
        "task": task,
        "n_a": len(ra),
        "n_b": len(rb),
        "mean_a": float(ra.mean()),
        "mean_b": float(rb.mean()),
        "delta": float(rb.mean() - ra.mean()),
        "ci": ci,
    }


def _flips(a: Rewards, b: Rewards, tasks: list[Any], threshold: float) -> dict[str, Any]:
    to_fail: list[dict[str, Any]] = []
    to_pass: list[dict[str, Any]] = []
    paired = 0
    for task in tasks:
        for key, before in a[task].items():
            if key not in b[task] or str(key).startswith("line:"):
                continue
            paired += 1
            after = b[task][key]
            if (before >= threshold) != (after >= threshold):
                flip = {"task": task, "rollout": key, "reward_a": before, "reward_b": after}
                (to_fail if before >= threshold else to_pass).append(flip)
    return {
        "paired_rollouts": paired,
        "pass_to_fail": to_fail,
        "fail_to_pass": to_pass,
        "mcnemar_p": _binomial_two_sided(len(to_pass), len(to_pass) + len(to_fail)),
    }


def _verdict(delta: float, ci: list[float], p: float, tasks: int) -> str:
    if tasks < 2:
        return "too few shared tasks to judge"
    if p < ALPHA and not (ci[0] <= 0 <= ci[1]):
        return f"B is {'higher' if delta > 0 else 'lower'} than A: significant at {ALPHA:g} (permutation p = {p:.3g})"
    return f"no significant difference at {ALPHA:g} (permutation p = {p:.3g}; the CI includes 0)"


def compare_rewards(
    a: Rewards, b: Rewards, *, threshold: float = 1.0, seed: int = 0, resamples: int = DEFAULT_RESAMPLES
) -> dict[str, Any]:
    """The comparison as a JSON-ready dict; B minus A throughout."""
    tasks = [t for t in a if t in b]
    if not tasks:
        raise UserError("the two files share no task (_ng_task_index, or the same prompt when rows have no indices)")
    rng = np.random.default_rng(seed)
    per_task = [_task_row(t, a[t], b[t], rng, max(resamples // 10, 200)) for t in tasks]
    deltas = np.array([r["delta"] for r in per_task])
    ci = _bootstrap_ci(deltas, rng, resamples)
    perm = _permutation_p(deltas, rng, resamples) if len(deltas) else 1.0
    wins, losses = int((deltas > 0).sum()), int((deltas < 0).sum())
    mean_a = float(np.mean([r["mean_a"] for r in per_task]))
    mean_b = float(np.mean([r["mean_b"] for r in per_task]))

    def pass_rate(side: Rewards) -> float:
        values = [v for t in tasks for v in side[t].values()]
        return sum(v >= threshold for v in values) / len(values)

    per_task.sort(key=lambda r: (-abs(r["delta"]), str(r["task"])))
    return {
        "tasks": {"shared": len(tasks), "only_a": len(a) - len(tasks), "only_b": len(b) - len(tasks)},
        "threshold": threshold,
        "seed": seed,
        "resamples": resamples,
        "overall": {
            "mean_a": mean_a,
            "mean_b": mean_b,
            "delta": float(deltas.mean()),
            "ci": ci,
            "confidence": 1 - ALPHA,
            "pass_rate_a": pass_rate(a),
            "pass_rate_b": pass_rate(b),
            "permutation_p": perm,
            "permutation": "exact" if len(deltas) <= MAX_EXACT_TASKS else f"{resamples} random sign flips",
            "sign_test": {
                "higher": wins,
                "lower": losses,
                "ties": len(tasks) - wins - losses,
                "p": _binomial_two_sided(wins, wins + losses),
            },
        },
        "verdict": _verdict(float(deltas.mean()), ci, perm, len(tasks)),
        "flips": _flips(a, b, tasks, threshold),
        "per_task": per_task,
    }
