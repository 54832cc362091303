"""PNG plots of a reward profile and a training report (matplotlib's Agg backend, no display)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["profile_plots", "training_plot"]


def _png(draw: Callable[[Any], None], title: str, xlabel: str, ylabel: str) -> bytes:
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
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _bins(arrays: list[np.ndarray]) -> np.ndarray:
    values = np.concatenate(arrays)
    low, high = float(values.min()), float(values.max())
    distinct = np.unique(values)
    if len(distinct) <= 20:  # one bar per value, centred on it, as wide as the closest two are apart
        half = float(np.diff(distinct).min()) / 2 if len(distinct) > 1 else 0.5
        # Each value gets its own pair of edges; between unevenly spaced values an empty bin
        # fills the gap, where one edge midway would stretch the bar of the next value.
        return np.unique(np.column_stack([distinct - half, distinct + half]))
    return np.linspace(low, high, 21)


def profile_plots(report: dict[str, Any], data: dict[str, dict[str, np.ndarray]]) -> dict[str, bytes]:
    """File name -> PNG bytes: reward histogram, per-prompt mean reward, pass@k and calls vs reward.

    With several models every plot overlays them, one colour per model.
    """
    models = list(data)
    sections = report.get("by_model") or {models[0]: report}
    alpha = 0.55 if len(models) > 1 else 0.9

    def hist(key: str) -> Callable[[Any], None]:
        def draw(ax: Any) -> None:
            bins = _bins([data[m][key] for m in models])
            for m in models:
                ax.hist(data[m][key], bins=bins, alpha=alpha, label=m if len(models) > 1 else None)

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
        for m in models:
            points = sections[m]["tool_calls"]["calls_vs_reward"]
            ax.plot([p["calls"] for p in points], [p["mean_reward"] for p in points], marker="o", label=m)

    plots = {
        "reward_hist.png": _png(hist("reward"), "Reward distribution", "reward", "rollouts"),
        "prompt_mean_hist.png": _png(hist("prompt_mean"), "Mean reward per prompt", "mean reward", "prompts"),
        "pass_at_k.png": _png(pass_k, f"pass@k (reward >= {report['pass_threshold']:g})", "k", "pass@k"),
    }
    if report["tool_calls"]["total"]:
        plots["calls_vs_reward.png"] = _png(calls, "Mean reward by number of tool calls", "tool calls", "mean reward")
    return plots


def training_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> bytes:
    """Each named curve against step (training metric and test benchmark)."""

    def draw(ax: Any) -> None:
        for name, (steps, values) in curves.items():
            ax.plot(steps, values, marker="." if len(steps) < 200 else None, label=name)

    return _png(draw, "Training curves", "step", "value")
