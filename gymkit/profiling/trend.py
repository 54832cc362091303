"""Is a series going up? The Mann-Kendall trend test, and a first-vs-last window comparison.

Both are rank tests: they ask whether later values tend to be larger, not whether the rise is
a straight line, and one noisy spike cannot decide them. p-values are one-sided (H1: the
series increases). Mann-Kendall is exact for n <= 10 without ties and uses the normal
approximation with tie correction and continuity correction otherwise.
"""

from __future__ import annotations

import math
from collections import Counter
from functools import cache
from typing import Any

import numpy as np

from gymkit.profiling.stats import upper_tail

__all__ = ["EXACT_MAX_N", "mann_kendall", "mann_whitney_greater", "trend"]

EXACT_MAX_N = 10


@cache
def _inversion_counts(n: int) -> tuple[int, ...]:
    """How many permutations of n items have 0, 1, 2, ... inversions (the Mahonian numbers)."""
    counts = [1]
    for k in range(2, n + 1):
        grown = [0] * (len(counts) + k - 1)
        for inversions, ways in enumerate(counts):
            for extra in range(k):
                grown[inversions + extra] += ways
        counts = grown
    return tuple(counts)


def _s_statistic(x: np.ndarray) -> int:
    return int(sum(np.sign(x[i + 1 :] - x[i]).sum() for i in range(len(x) - 1)))


def mann_kendall(values: np.ndarray) -> dict[str, Any]:
    """S, Kendall's tau, and the one-sided p-value of an increasing trend."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n < 3:
        return {"test": "mann-kendall", "n": n, "S": None, "tau": None, "p_value": None, "reason": "needs 3 points"}
    s = _s_statistic(x)
    pairs = n * (n - 1) // 2
    ties = [t for t in Counter(x.tolist()).values() if t > 1]
    if n <= EXACT_MAX_N and not ties:
        # S = pairs - 2 * inversions, so S >= s exactly when inversions <= (pairs - s) / 2.
        counts = _inversion_counts(n)
        p = sum(counts[: (pairs - s) // 2 + 1]) / math.factorial(n)
        return {"test": "mann-kendall", "method": "exact", "n": n, "S": s, "tau": s / pairs, "p_value": p}
    var = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in ties)) / 18
    z = 0.0 if var == 0 or s == 0 else (s - math.copysign(1, s)) / math.sqrt(var)
    p = 1.0 if var == 0 else upper_tail(z)
    return {"test": "mann-kendall", "method": "normal", "n": n, "S": s, "tau": s / pairs, "z": z, "p_value": p}


def mann_whitney_greater(first: np.ndarray, last: np.ndarray) -> dict[str, Any]:
    """One-sided Mann-Whitney U: are values of ``last`` larger than those of ``first``?

    Normal approximation with tie and continuity correction; fine for windows of a few points
    upward, and only a supporting figure next to Mann-Kendall.
    """
    n1, n2 = len(first), len(last)
    both = np.concatenate([first, last])
    order = both.argsort(kind="stable")
    ranks = np.empty(len(both))
    ranks[order] = np.arange(1, len(both) + 1)
    for value in np.unique(both):  # average ranks of ties
        tied = both == value
        ranks[tied] = ranks[tied].mean()
    u = float(ranks[n1:].sum() - n2 * (n2 + 1) / 2)
    ties = np.unique(both, return_counts=True)[1]
    n = n1 + n2
    var = n1 * n2 / 12 * ((n + 1) - float((ties**3 - ties).sum()) / (n * (n - 1)))
    mean = n1 * n2 / 2
    p = 1.0 if var <= 0 else upper_tail((u - mean - 0.5) / math.sqrt(var))
    return {"test": "mann-whitney-u", "U": u, "p_value": p}


def trend(steps: np.ndarray, values: np.ndarray, alpha: float = 0.05) -> dict[str, Any]:
    """Everything a report says about one curve: windows, slope, test, verdict."""
    n = len(values)
    window = max(1, min(n // 2, max(3, math.ceil(n * 0.1)))) if n else 0
    first, last = values[:window], values[-window:]
    out: dict[str, Any] = {
        "points": n,
        "window": window,
        "first": float(first.mean()) if n else None,
        "last": float(last.mean()) if n else None,
        "first_value": float(values[0]) if n else None,
        "last_value": float(values[-1]) if n else None,
        "slope": float(np.polyfit(steps, values, 1)[0]) if n >= 2 and np.ptp(steps) > 0 else None,
    }
    mk = mann_kendall(values)
    out |= {"test": "mann-kendall (one-sided, increasing)", "p_value": mk["p_value"], "mann_kendall": mk}
    if n >= 2:
        out["window_test"] = mann_whitney_greater(first, last)
    out["alpha"] = alpha
    out["improved"] = bool(mk["p_value"] is not None and mk["p_value"] < alpha and out["last"] > out["first"])
    return out
