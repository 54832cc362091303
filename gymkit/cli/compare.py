"""``gymkit compare``: two rollout files of the same tasks, B minus A.

Exit codes: 0 compared (whatever the verdict); 1 an error such as files with no task in
common; 2 a usage error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
import typer

from gymkit.evaluate.compare import DEFAULT_RESAMPLES, compare_rewards, rewards_of_file

__all__ = ["compare", "register", "render_compare"]

SHOWN = 10


def _ci(ci: list[float]) -> str:
    return f"[{ci[0]:+.3f}, {ci[1]:+.3f}]"


def render_compare(result: dict[str, Any], a: Path, b: Path) -> str:
    o, t, f = result["overall"], result["tasks"], result["flips"]
    sign = o["sign_test"]
    lines = [
        f"A {a}\nB {b}",
        f"{t['shared']} shared tasks ({t['only_a']} only in A, {t['only_b']} only in B)",
        f"mean reward  A {o['mean_a']:.4f}  B {o['mean_b']:.4f}  delta {o['delta']:+.4f} "
        f"{o['confidence']:.0%} CI {_ci(o['ci'])} (paired bootstrap over tasks, seed {result['seed']})",
        f"pass rate (reward >= {result['threshold']:g})  A {o['pass_rate_a']:.1%}  B {o['pass_rate_b']:.1%}",
        f"permutation test ({o['permutation']}): p = {o['permutation_p']:.4g}; sign test: "
        f"{sign['higher']} tasks higher, {sign['lower']} lower, {sign['ties']} tied, p = {sign['p']:.4g}",
        f"verdict: {result['verdict']}",
        f"flips over {f['paired_rollouts']} paired rollouts: {len(f['pass_to_fail'])} pass->fail, "
        f"{len(f['fail_to_pass'])} fail->pass (McNemar exact p = {f['mcnemar_p']:.4g})",
    ]
    for label in ("pass_to_fail", "fail_to_pass"):
        for flip in f[label][:SHOWN]:
            lines.append(
                f"  {label.replace('_', ' ')}: task {flip['task']} rollout {flip['rollout']}  "
                f"{flip['reward_a']:g} -> {flip['reward_b']:g}"
            )
        if len(f[label]) > SHOWN:
            lines.append(f"  ... {len(f[label]) - SHOWN} more (--format json lists all)")
    changed = [r for r in result["per_task"] if r["delta"] != 0]
    lines.append(f"tasks whose mean changed: {len(changed)}")
    for row in changed[:SHOWN]:
        lines.append(
            f"  task {row['task']}: {row['mean_a']:.3f} -> {row['mean_b']:.3f} "
            f"({row['delta']:+.3f}, CI {_ci(row['ci'])})"
        )
    return "\n".join(lines)


def compare(
    a: Annotated[Path, typer.Argument(help="Rollouts file A (before).", exists=True, dir_okay=False)],
    b: Annotated[Path, typer.Argument(help="Rollouts file B (after).", exists=True, dir_okay=False)],
    pass_threshold: Annotated[float, typer.Option(help="A rollout passes when its reward is >= this.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap and of the random permutations.")] = 0,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples.", min=100)] = DEFAULT_RESAMPLES,
    fmt: Annotated[Literal["text", "json"], typer.Option("--format", "-f", help="text or json.")] = "text",
) -> None:
    """Compare two rollout files of the same tasks: reward deltas with CIs, significance, pass/fail flips.

    Tasks are matched by _ng_task_index, rollouts by _ng_rollout_index (the same responses
    re-verified pair one to one). The overall delta is the mean of per-task deltas.
    """
    result = compare_rewards(
        rewards_of_file(a), rewards_of_file(b), threshold=pass_threshold, seed=seed, resamples=resamples
    )
    if fmt == "json":
        typer.echo(orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode())
    else:
        typer.echo(render_compare(result, a, b))


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Rollouts & rewards")(compare)
