"""Each statistic against a hand calculation or the standard library."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from gymkit.profiling.passk import max_at_k, pass_at_k, pass_at_k_one
from gymkit.profiling.stats import Groups, histogram, pearson, quantiles, summary


def test_pass_at_k_one_matches_the_combinatorial_formula() -> None:
    # 5 samples, 2 pass: pass@2 = 1 - C(3,2)/C(5,2) = 1 - 3/10.
    assert pass_at_k_one(5, 2, 2) == pytest.approx(0.7)
    assert pass_at_k_one(5, 2, 1) == pytest.approx(0.4)
    assert pass_at_k_one(5, 2, 4) == 1.0  # only 3 failures: any 4 include a pass
    assert pass_at_k_one(16, 0, 16) == 0.0
    assert pass_at_k_one(16, 1, 8) == pytest.approx(1 - math.comb(15, 8) / math.comb(16, 8))
    with pytest.raises(ValueError, match="larger"):
        pass_at_k_one(2, 1, 4)


def test_pass_at_k_averages_prompts_and_skips_prompts_with_too_few_samples() -> None:
    # Prompt 0: 4 samples, 1 passes. Prompt 1: 4 samples, 4 pass. Prompt 2: 2 samples, none pass.
    task = np.array([0] * 4 + [1] * 4 + [2] * 2)
    reward = np.array([1, 0, 0, 0, 1, 1, 1, 1, 0, 0], dtype=float)
    figures, used = pass_at_k(Groups.of(task, reward), samples=4, threshold=1.0)
    assert figures["1"] == pytest.approx((0.25 + 1 + 0) / 3)
    assert figures["2"] == pytest.approx(((1 - 3 / 6) + 1 + 0) / 3)  # C(3,2)/C(4,2) = 3/6
    assert figures["4"] == pytest.approx((1 + 1) / 2)  # prompt 2 has only 2 samples
    assert used == {"1": 3, "2": 3, "4": 2}
    assert "8" not in figures


def test_pass_threshold_applies_to_continuous_rewards() -> None:
    task = np.zeros(4, dtype=np.int64)
    reward = np.array([0.2, 0.6, 0.8, 0.9])
    figures, _ = pass_at_k(Groups.of(task, reward), samples=4, threshold=0.75)
    assert figures["1"] == pytest.approx(0.5)


def test_max_at_k_is_the_expected_best_of_k_draws() -> None:
    values = [0.1, 0.4, 0.7]
    task = np.zeros(3, dtype=np.int64)
    figures = max_at_k(Groups.of(task, np.array(values)), samples=3)
    # Pairs: (0.1,0.4)->0.4, (0.1,0.7)->0.7, (0.4,0.7)->0.7: mean 0.6.
    assert figures == pytest.approx({"1": 0.4, "2": 0.6})


def test_grouped_statistics_agree_with_the_statistics_module() -> None:
    rng = np.random.default_rng(7)
    task = rng.integers(0, 6, 200)
    values = rng.normal(3, 2, 200).round(2)  # rounding makes ties
    groups = Groups.of(task, values)
    for i, group in enumerate(groups.ids):
        mine = values[task == group].tolist()
        assert groups.mean()[i] == pytest.approx(statistics.mean(mine))
        assert groups.median()[i] == pytest.approx(statistics.median(mine))
        assert groups.std()[i] == pytest.approx(statistics.stdev(mine))
        assert (groups.min()[i], groups.max()[i]) == (min(mine), max(mine))
    single = Groups.of(np.array([0]), np.array([5.0]))
    assert single.std().tolist() == [0.0]


def test_quantiles_and_summary_match_the_standard_library() -> None:
    values = np.array([0.0, 0.0, 0.25, 0.5, 1.0, 1.0, 1.0, 0.75])
    q = statistics.quantiles(values.tolist(), n=20, method="inclusive")  # 5%, 10%, ... 95%
    got = quantiles(values)
    assert got["0.05"] == pytest.approx(q[0])
    assert got["0.25"] == pytest.approx(q[4])
    assert got["0.5"] == pytest.approx(statistics.median(values.tolist()))
    assert got["0.95"] == pytest.approx(q[18])
    s = summary(values)
    assert s["std"] == pytest.approx(statistics.stdev(values.tolist()))
    assert s["mean"] == pytest.approx(0.5625)


def test_histogram_counts_each_value_when_there_are_few() -> None:
    h = histogram(np.array([-1.0, 1.0, 1.0, -1.0, 1.0]))
    assert h["values"] == {"-1": 2, "1": 3}
    assert sum(h["counts"]) == 5
    assert h["edges"][0] == -1.0 and h["edges"][-1] == 1.0


def test_pearson_r_and_fisher_interval_by_hand() -> None:
    x = np.array([1, 2, 3, 4, 5], dtype=float)
    y = np.array([2, 4, 5, 4, 5], dtype=float)
    # dx = -2..2, dy = (-2, 0, 1, 0, 1): sum dxdy = 6, sum dx^2 = 10, sum dy^2 = 6.
    r = 6 / math.sqrt(60)
    result = pearson(x, y)
    assert result["r"] == pytest.approx(r)
    z, se = math.atanh(r), 1 / math.sqrt(5 - 3)
    assert result["ci_low"] == pytest.approx(math.tanh(z - 1.959964 * se), abs=1e-6)
    assert result["ci_high"] == pytest.approx(math.tanh(z + 1.959964 * se), abs=1e-6)
    assert result["ci_low"] == pytest.approx(-0.3400, abs=1e-3)
    assert result["ci_high"] == pytest.approx(0.9845, abs=1e-3)
    assert result["p_value"] == pytest.approx(2 * (1 - statistics.NormalDist().cdf(z / se)))


def test_pearson_is_undefined_with_a_reason_when_a_side_is_constant() -> None:
    flat = pearson(np.array([1.0, 1, 1, 1]), np.array([0.0, 1, 0, 1]))
    assert flat["r"] is None and "number of calls" in flat["reason"]
    same = pearson(np.array([0.0, 1, 2, 3]), np.ones(4))
    assert same["r"] is None and "reward" in same["reason"]
    assert pearson(np.array([1.0, 2]), np.array([1.0, 2]))["r"] is None


def test_histogram_value_counts_add_up_when_values_agree_to_six_digits() -> None:
    # 0.1234567 and 0.1234568 print alike with 6 significant digits; neither count may be lost.
    h = histogram(np.array([0.1234567, 0.1234568, 0.1234568, 1.0]))
    assert sum(h["values"].values()) == 4
    assert h["values"] == {"0.1234567": 1, "0.1234568": 2, "1": 1}


def test_pearson_is_undefined_for_a_constant_reward_that_floats_cannot_average_exactly() -> None:
    # The mean of seven 0.1s is not exactly 0.1, so deviations are ~1e-17, not 0: r would be noise.
    result = pearson(np.arange(7, dtype=float), np.full(7, 0.1))
    assert result["r"] is None and "reward" in result["reason"]
    assert pearson(np.full(7, 0.1), np.arange(7, dtype=float))["r"] is None


def test_histogram_plot_bars_are_centred_on_unevenly_spaced_rewards() -> None:
    from gymkit.profiling.plots import _bins

    values = np.array([0.0, 0.1, 0.1, 1.0])
    edges = _bins([values])
    counts, _ = np.histogram(values, bins=edges)
    bars = [bound for lo, hi, n in zip(edges[:-1], edges[1:], counts, strict=True) if n for bound in (lo, hi)]
    # One bar per value, each 0.1 wide (the closest two values) and centred on it: 1.0 is not
    # drawn as a bar from 0.15 to 1.05. Bars stop at the ends of the reward range, [0, 1].
    assert bars == pytest.approx([0.0, 0.05, 0.05, 0.15, 0.95, 1.0])
    assert counts.sum() == 4 and sorted(counts[counts > 0].tolist()) == [1, 1, 2]
