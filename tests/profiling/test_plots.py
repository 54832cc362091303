"""The profile's plots, read back from the matplotlib figures (bars, lines, texts), not from pixels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from matplotlib.figure import Figure

from gymkit.profiling import profile_files
from gymkit.profiling.plots import profile_figures

from .conftest import rollout

CALL = ("search", '{"q": "x"}', '{"hits": 1}')
HISTOGRAMS = ("reward_hist.png", "prompt_mean_hist.png")
EPS = 1e-9  # matplotlib places a bar at its edge plus an offset computed in floats


def _figures(write: Any, rows: list[dict[str, Any]]) -> dict[str, Figure]:
    profile = profile_files([write(rows)], threshold=0.5)
    return profile_figures(profile.report, profile.plot_data)


def _bars(fig: Figure) -> list[tuple[float, float, float]]:
    """(left, right, height) of every drawn bar."""
    ax = fig.axes[0]
    return [(p.get_x(), p.get_x() + p.get_width(), p.get_height()) for p in ax.patches if p.get_height() > 0]


@pytest.mark.parametrize(
    "rewards",
    [
        [0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0],  # binary
        [0.0] * 8,  # nothing ever passed
        [1.0] * 8,
        [0.0, 0.1, 0.1, 1.0, 0.0, 0.5, 0.5, 0.9],  # a few unevenly spaced values
        [i / 40 for i in range(41)] + [0.0, 0.0, 0.0],  # more values than the plot gives a bar each
    ],
    ids=["binary", "all-zero", "all-one", "uneven", "many"],
)
def test_histograms_draw_no_bar_outside_the_reward_range(write: Any, rewards: list[float]) -> None:
    rows = [rollout(r, task=i % 4) for i, r in enumerate(rewards)]
    figures = _figures(write, rows)
    for name in HISTOGRAMS:
        bars = _bars(figures[name])
        assert bars, name
        assert all(-EPS <= left < right <= 1.0 + EPS for left, right, _ in bars), (name, bars)
        low, high = figures[name].axes[0].get_xlim()
        assert (low, high) == (0.0, 1.0), name
    # Every rollout is still counted, in the bar that holds its reward.
    reward_bars = _bars(figures["reward_hist.png"])
    assert sum(height for *_, height in reward_bars) == len(rewards)
    for value in set(rewards):
        holding = [h for left, right, h in reward_bars if left - EPS <= value <= right + EPS]
        assert holding, value


def _calls_axes(write: Any, rows: list[dict[str, Any]]) -> Any:
    return _figures(write, rows)["calls_vs_reward.png"].axes[0]


def test_calls_vs_reward_says_so_when_every_rollout_made_the_same_number_of_calls(write: Any) -> None:
    rows = [rollout(float(i % 2), task=i, calls=[CALL, CALL]) for i in range(6)]
    ax = _calls_axes(write, rows)
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["every rollout made 2 tool calls (mean reward 0.5)"]
    assert ax.get_xticks().tolist() == [2]


def test_calls_vs_reward_names_the_model_whose_rollouts_all_made_the_same_calls(write: Any) -> None:
    rows = [rollout(1.0, task=i, calls=[CALL], model="m-small") for i in range(3)]
    rows += [rollout(float(i % 2), task=3 + i, calls=[CALL] * (i % 2), model="m-large") for i in range(3)]
    ax = _calls_axes(write, rows)
    assert [t.get_text() for t in ax.texts] == ["every rollout of m-small made 1 tool call (mean reward 1)"]
    assert len(ax.get_lines()) == 2


def test_calls_vs_reward_draws_the_mean_reward_per_number_of_calls(write: Any) -> None:
    rows = [rollout(0.0, task=0), rollout(1.0, task=1, calls=[CALL]), rollout(0.0, task=2, calls=[CALL])]
    rows += [rollout(1.0, task=3, calls=[CALL] * 3)]
    ax = _calls_axes(write, rows)
    (line,) = ax.get_lines()
    assert np.asarray(line.get_xdata()).tolist() == [0, 1, 3]
    assert np.asarray(line.get_ydata()).tolist() == pytest.approx([0.0, 0.5, 1.0])
    assert not ax.texts
