"""pass@k and max@k over groups of samples of the same prompt, without bias."""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from gymkit.profiling.stats import Groups

__all__ = ["K_VALUES", "max_at_k", "pass_at_k", "pass_at_k_one"]

K_VALUES = (1, 2, 4, 8, 16)


def pass_at_k_one(n: int, c: int, k: int) -> float:
    """Chance that at least one of k samples drawn from n (c of them passing) passes.

    ``1 - C(n-c, k) / C(n, k)``, computed as a product so large n stays exact in floats.
    """
    if k > n:
        raise ValueError(f"k={k} is larger than the {n} samples")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / j for j in range(n - c + 1, n + 1))


@cache
def _max_weights(n: int, k: int) -> np.ndarray:
    """Weight of the i-th smallest of n values being the maximum of a random k-subset."""
    total = math.comb(n, k)
    return np.array([math.comb(i - 1, k - 1) / total for i in range(1, n + 1)])


def _ks(groups: Groups, samples: int) -> list[int]:
    return [k for k in K_VALUES if k <= samples]


def pass_at_k(groups: Groups, samples: int, threshold: float) -> tuple[dict[str, float], dict[str, int]]:
    """Mean over prompts of the unbiased pass@k, for k in 1, 2, 4, 8, 16 up to ``samples``.

    A sample passes when its value is >= ``threshold``. Prompts with fewer than k samples are
    left out of that k; the second mapping says how many prompts each figure averages.
    """
    if not len(groups.ids):
        return {}, {}
    passed = np.add.reduceat((groups.values >= threshold).astype(np.int64), groups.starts)
    figures: dict[str, float] = {}
    used: dict[str, int] = {}
    for k in _ks(groups, samples):
        total, count = 0.0, 0
        # Prompts share a handful of sample counts: one lookup table per count, indexed by passes.
        for n in np.unique(groups.counts[groups.counts >= k]).tolist():
            table = np.array([pass_at_k_one(n, c, k) for c in range(n + 1)])
            mine = passed[groups.counts == n]
            total += float(table[mine].sum())
            count += len(mine)
        if count:
            figures[str(k)], used[str(k)] = total / count, count
    return figures, used


def max_at_k(groups: Groups, samples: int) -> dict[str, float]:
    """Mean over prompts of the expected best value among k samples drawn without replacement.

    The continuous counterpart of pass@k: with the values of a prompt sorted ascending, the
    i-th is the maximum of a random k-subset with probability ``C(i-1, k-1) / C(n, k)``.
    """
    figures: dict[str, float] = {}
    for k in _ks(groups, samples):
        total, count = 0.0, 0
        for n in np.unique(groups.counts[groups.counts >= k]).tolist():
            starts = groups.starts[groups.counts == n]
            matrix = groups.values[starts[:, None] + np.arange(n)]  # one sorted row per prompt
            total += float((matrix @ _max_weights(n, k)).sum())
            count += len(starts)
        if count:
            figures[str(k)] = total / count
    return figures
