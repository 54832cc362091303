"""``gymkit health``: rollouts that are hollow, runaway, empty, erroring or mis-indexed.

Exit codes: 0 nothing above its threshold; 1 a category is flagged (its rate is above
--max-rate, or any index gap at all), or an error such as a missing file; 2 a usage error.
"""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
import typer

from gymkit.evaluate.health import CATEGORIES, DEFAULT_MAX_RATE, HealthReport, health_of_files
from gymkit.evaluate.sources import rollout_files

__all__ = ["health", "register", "render_health"]


def render_health(report: HealthReport) -> str:
    data = report.to_json()
    lines = [f"{data['rows']} rollouts of {data['tasks']} tasks in {', '.join(data['files'])}"]
    for name, part in data["categories"].items():
        mark = "FLAG" if part["flagged"] else ("warn" if part["count"] else "ok")
        lines.append(f"  {mark:<4} {name:<16} {part['count']:>7} ({part['rate']:.1%})  {part['meaning']}")
        for example in part["examples"] if part["count"] else []:
            where = f"{example.get('file')}:{example['line']}" if "line" in example else example.get("file", "")
            ids = f"task {example.get('task')}" + (
                f" rollout {example['rollout']}" if example.get("rollout") is not None else ""
            )
            why = f": {example['why']}" if example.get("why") else ""
            lines.append(f"         {where} {ids}{why}")
    flagged = data["flagged"]
    limit = f"rates above {report.max_rate:.0%} (index gaps: any)"
    lines.append(f"flagged: {', '.join(flagged)} ({limit})" if flagged else f"healthy: nothing above {limit}")
    return "\n".join(lines)


def health(
    targets: Annotated[
        list[str], typer.Argument(metavar="PATH | NAME...", help="Rollout files, or server names (their rollouts).")
    ],
    max_rate: Annotated[
        float, typer.Option(help="A category is flagged when its share of rollouts is above this.", min=0.0, max=1.0)
    ] = DEFAULT_MAX_RATE,
    fmt: Annotated[Literal["text", "json"], typer.Option("--format", "-f", help="text or json.")] = "text",
) -> None:
    """Flag rollouts a policy learns nothing from: hollow, runaway, zero-completion, tool errors, no usage.

    Also counts failed attempts (the _failures.jsonl side file) and gaps in the task/rollout
    indices. Exit 1 when a category's rate is above --max-rate, or on any index gap.
    """
    report = health_of_files(rollout_files(targets), max_rate=max_rate)
    if fmt == "json":
        typer.echo(orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2).decode())
    else:
        typer.echo(render_health(report))
    raise typer.Exit(1 if report.failed else 0)


health.__doc__ = (health.__doc__ or "") + "\n\n" + "\n".join(f"{k}: {v}." for k, v in CATEGORIES.items())


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Rollouts & rewards")(health)
