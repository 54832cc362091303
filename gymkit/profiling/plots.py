"""PNG plots of a reward profile and a training report (matplotlib's Agg backend, no display)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = ["profile_figures", "profile_plots", "training_plot"]


def _figure(draw: Callable[[Any], None], title: str, xlabel: str, ylabel: str) -> Figure:
    # A bare Figure on the Agg canvas: no pyplot state, no display, nothing to close.
    fig = Figure(figsize=(6.4, 4.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    draw(ax)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


# Rewards and their means lie in [0, 1]: a bar must not reach past either end.
_REWARD_RANGE = (0.0, 1.0)
_MAX_HALF_WIDTH = 0.05  # a lone value's bar, as wide as one of ten bins over the range


def _range(values: np.ndarray) -> tuple[float, float]:
    return min(_REWARD_RANGE[0], float(values.min())), max(_REWARD_RANGE[1], float(values.max()))


def _bins(arrays: list[np.ndarray]) -> np.ndarray:
    values = np.concatenate(arrays)
    distinct = np.unique(values)
    if len(distinct) <= 20:  # one bar per value, centred on it, as wide as the closest two are apart
        half = min(float(np.diff(distinct).min()) / 2, _MAX_HALF_WIDTH) if len(distinct) > 1 else _MAX_HALF_WIDTH
        # Each value gets its own pair of edges; between unevenly spaced values an empty bin
        # fills the gap, where one edge midway would stretch the bar of the next value. A value
        # at an end of the range gets the half of its bar that lies inside it.
        return np.unique(np.clip(np.column_stack([distinct - half, distinct + half]), *_range(values)))
    return np.linspace(float(values.min()), float(values.max()), 21)


def _note_lone_point(ax: Any, model: str | None, point: dict[str, Any]) -> None:
    """A line from one point says nothing: say instead that every rollout made the same number of calls."""
    calls, mean = point["calls"], point["mean_reward"]
    who = f"every rollout of {model}" if model else "every rollout"
    text = f"{who} made {calls} tool call{'' if calls == 1 else 's'} (mean reward {mean:.3g})"
    # Above the point when it sits low, below it when high, so the text stays inside the axes.
    offset = 24 if mean < 0.5 else -24
    ax.annotate(text, (calls, mean), xytext=(0, offset), textcoords="offset points", ha="center", va="center")


def profile_plots(report: dict[str, Any], data: dict[str, dict[str, np.ndarray]]) -> dict[str, bytes]:
    """File name -> PNG bytes of :func:`profile_figures`."""
    return {name: _png(fig) for name, fig in profile_figures(report, data).items()}


def profile_figures(report: dict[str, Any], data: dict[str, dict[str, np.ndarray]]) -> dict[str, Figure]:
    """File name -> figure: reward histogram, per-prompt mean reward, pass@k and calls vs reward.

    With several models every plot overlays them, one colour per model.
    """
    models = list(data)
    sections = report.get("by_model") or {models[0]: report}
    alpha = 0.55 if len(models) > 1 else 0.9

    def hist(key: str) -> Callable[[Any], None]:
        def draw(ax: Any) -> None:
            arrays = [data[m][key] for m in models]
            bins = _bins(arrays)
            for m in models:
                ax.hist(data[m][key], bins=bins, alpha=alpha, label=m if len(models) > 1 else None)
            ax.set_xlim(*_range(np.concatenate(arrays)))

        return draw

    def pass_k(ax: Any) -> None:
        for m in models:
            figures = sections[m]["pass_at_k"]
            ax.plot([int(k) for k in figures], list(figures.values()), marker="o", label=f"pass@k {m}")
            best = sections[m]["max_at_k"]
            if not sections[m]["reward"]["binary"]:
                ax.plot([int(k) for k in best], list(best.values()), marker="s", ls="--", label=f"max@k {m}")
        ax.set_xscale("log", base=2)
        ks = sorted({int(k) for m in models for k in sections[m]["pass_at_k"]})
        ax.set_xticks(ks, [str(k) for k in ks])

    def calls(ax: Any) -> None:
        counts: set[int] = set()
        for m in models:
            points = sections[m]["tool_calls"]["calls_vs_reward"]
            counts.update(p["calls"] for p in points)
            ax.plot([p["calls"] for p in points], [p["mean_reward"] for p in points], marker="o", label=m)
            if len(points) == 1:
                _note_lone_point(ax, m if len(models) > 1 else None, points[0])
        # Calls come whole: a tick at each count drawn (1.975 calls means nothing), or whole ticks when many.
        if len(counts) <= 12:
            ax.set_xticks(sorted(counts))
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(-0.05, 1.05)

    figures = {
        "reward_hist.png": _figure(hist("reward"), "Reward distribution", "reward", "rollouts"),
        "prompt_mean_hist.png": _figure(hist("prompt_mean"), "Mean reward per prompt", "mean reward", "prompts"),
        "pass_at_k.png": _figure(pass_k, f"pass@k (reward >= {report['pass_threshold']:g})", "k", "pass@k"),
    }
    if report["tool_calls"]["total"]:
        title = "Mean reward by number of tool calls"
        figures["calls_vs_reward.png"] = _figure(calls, title, "tool calls", "mean reward")
    return figures


def training_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> bytes:
    """Each named curve against step (training metric and test benchmark)."""

    def draw(ax: Any) -> None:
        for name, (steps, values) in curves.items():
            ax.plot(steps, values, marker="." if len(steps) < 200 else None, label=name)

    return _png(_figure(draw, "Training curves", "step", "value"))
