"""Statistics over numpy columns: grouped (per task) summaries, quantiles, histograms, Pearson r."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

__all__ = [
    "QUANTILES",
    "Groups",
    "histogram",
    "pearson",
    "quantiles",
    "summary",
    "upper_tail",
]

QUANTILES = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)
_DISCRETE_MAX = 20  # at most this many distinct values: the histogram lists each value


@dataclass
class Groups:
    """Values sorted by (group, value), with each group's start and size.

    Sorting once makes min, max and median index look-ups and keeps every statistic exact.
    """

    ids: np.ndarray  # group id of each group, ascending
    starts: np.ndarray
    counts: np.ndarray
    values: np.ndarray  # sorted by group, then value

    @classmethod
    def of(cls, group: np.ndarray, values: np.ndarray) -> Groups:
        order = np.lexsort((values, group))
        group, values = group[order], values[order]
        ids, starts, counts = np.unique(group, return_index=True, return_counts=True)
        return cls(ids, starts, counts, values)

    def mean(self) -> np.ndarray:
        if not len(self.ids):
            return np.zeros(0)
        means: np.ndarray = np.add.reduceat(self.values, self.starts) / self.counts
        return means

    def min(self) -> np.ndarray:
        lowest: np.ndarray = self.values[self.starts]
        return lowest

    def max(self) -> np.ndarray:
        highest: np.ndarray = self.values[self.starts + self.counts - 1]
        return highest

    def median(self) -> np.ndarray:
        low = self.values[self.starts + (self.counts - 1) // 2]
        high = self.values[self.starts + self.counts // 2]
        medians: np.ndarray = (low + high) / 2
        return medians

    def std(self) -> np.ndarray:
        """Sample standard deviation, 0 for a group of one (as NeMo Gym reports it)."""
        if not len(self.ids):
            return np.zeros(0)
        deviations = self.values - np.repeat(self.mean(), self.counts)
        squares = np.add.reduceat(deviations * deviations, self.starts)
        with np.errstate(invalid="ignore", divide="ignore"):
            std = np.sqrt(squares / (self.counts - 1))
        return np.where(self.counts > 1, std, 0.0)


def upper_tail(z: float) -> float:
    """P(Z >= z) for a standard normal Z, accurate far into the tail (where 1 - cdf rounds to 0)."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def quantiles(values: np.ndarray) -> dict[str, float]:
    """Linear-interpolation quantiles (``statistics.quantiles(method="inclusive")`` agrees)."""
    if not len(values):
        return {}
    points = np.quantile(values, QUANTILES)
    return {f"{q:g}": float(v) for q, v in zip(QUANTILES, points, strict=True)}


def summary(values: np.ndarray) -> dict[str, Any]:
    """count, mean, sample std, min, max and quantiles; ``None`` figures when there are no values."""
    n = len(values)
    if not n:
        return {"count": 0, "mean": None, "std": None, "min": None, "max": None, "quantiles": {}}
    return {
        "count": int(n),
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if n > 1 else 0.0,
        "min": float(values.min()),
        "max": float(values.max()),
        "quantiles": quantiles(values),
    }


def histogram(values: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Equal-width bins over [min, max]; with few distinct values, also the count of each value."""
    if not len(values):
        return {"edges": [], "counts": []}
    low, high = float(values.min()), float(values.max())
    if low == high:
        low, high = low - 0.5, high + 0.5
    counts, edges = np.histogram(values, bins=bins, range=(low, high))
    out: dict[str, Any] = {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}
    distinct, distinct_counts = np.unique(values, return_counts=True)
    if len(distinct) <= _DISCRETE_MAX:
        out["values"] = dict(zip(_labels(distinct), (int(c) for c in distinct_counts), strict=True))
    return out


def _labels(distinct: np.ndarray) -> list[str]:
    """Short labels of distinct values, with more digits only when short ones would collide."""
    for digits in (6, 9, 12):
        labels = [f"{v:.{digits}g}" for v in distinct]
        if len(set(labels)) == len(labels):
            return labels
    return [repr(float(v)) for v in distinct]  # shortest text that round-trips: always distinct


def pearson(x: np.ndarray, y: np.ndarray, confidence: float = 0.95) -> dict[str, Any]:
    """Pearson r with a Fisher-z confidence interval and two-sided p-value.

    Undefined cases give ``r: null`` and a ``reason`` rather than a made-up number.
    """
    n = len(x)
    out: dict[str, Any] = {"method": "pearson", "n": int(n), "confidence": confidence}
    if n < 3:
        return out | {"r": None, "reason": f"needs at least 3 rollouts, has {n}"}
    # Constancy is tested on the values: the mean of equal floats can differ from them by an ulp,
    # which leaves deviations of ~1e-17 and an r that is pure rounding noise.
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        which = "number of calls" if np.ptp(x) == 0 else "reward"
        return out | {"r": None, "reason": f"{which} is the same in every rollout (zero variance)"}
    dx, dy = x - x.mean(), y - y.mean()
    # Two square roots, not the root of a product: the product of two large sums overflows.
    r = max(-1.0, min(1.0, float(dx @ dy) / (math.sqrt(float(dx @ dx)) * math.sqrt(float(dy @ dy)))))
    out["r"] = r
    if n < 4:
        return out | {"ci_low": None, "ci_high": None, "p_value": None, "reason": "Fisher z needs n >= 4"}
    if abs(r) == 1.0:
        return out | {"ci_low": r, "ci_high": r, "p_value": 0.0}
    z, se = math.atanh(r), 1 / math.sqrt(n - 3)
    crit = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = 2 * upper_tail(abs(z) / se)
    return out | {"ci_low": math.tanh(z - crit * se), "ci_high": math.tanh(z + crit * se), "p_value": p}
