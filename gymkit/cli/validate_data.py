"""``gymkit validate-data``: the data stage of ``gymkit test``, on its own."""

from __future__ import annotations

from typing import Annotated

import typer

from gymkit.cli._shared import ServerArg
from gymkit.errors import InvalidDataError
from gymkit.project import resolve_server
from gymkit.smoke import shown
from gymkit.validation import MIN_EXAMPLE_ROWS, server_data_problems

__all__ = ["register", "validate_data"]


def validate_data(
    server: ServerArg,
    min_rows: Annotated[int, typer.Option(help="Fewest example rows accepted.", min=1)] = MIN_EXAMPLE_ROWS,
) -> None:
    """Check [bold]data/example.jsonl[/] (and [bold]data/example_rollouts.jsonl[/] when present).

    Every problem is printed as [bold]file:line: what is wrong and what to do[/].
    """
    paths = shown(resolve_server(server))
    problems = server_data_problems(paths, min_rows=min_rows)
    for problem in problems:
        typer.echo(str(problem), err=True)
    if problems:
        count = len(problems)
        raise InvalidDataError(
            paths.data,
            None,
            f"{count} problem{'s' if count != 1 else ''} in {paths.name}'s data (listed above)",
            hint=f"fix them, then run again: gymkit validate-data {paths.dir}",
        )
    checked = [p for p in (paths.example, paths.example_rollouts) if p.exists()]
    typer.echo(f"data ok: {', '.join(str(p) for p in checked)}")


def register(app: typer.Typer) -> None:
    app.command("validate-data", rich_help_panel="Test")(validate_data)
