"""``gymkit validate-data`` and ``gymkit smoke``: the data and smoke stages of ``nox -s test-server``."""

from __future__ import annotations

from typing import Annotated

import typer

from gymkit.errors import InvalidDataError, UserError
from gymkit.project import resolve_server
from gymkit.smoke import DEFAULT_TIMEOUT, shown, smoke_test
from gymkit.validation import MIN_EXAMPLE_ROWS, server_data_problems

ServerArg = Annotated[str, typer.Argument(help="Server name under resources_servers/, or a path to its folder.")]


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


def smoke(
    server: ServerArg,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each request.", min=0.1)] = DEFAULT_TIMEOUT,
) -> None:
    """Serve the server on 127.0.0.1 and call its routes and [bold]/verify[/] on every example row.

    Tool routes must answer an invalid body with HTTP 422; seed_session and verify must
    answer each example row (with an empty response, and with the row's expected_answer if
    any) with a reward in [0, 1].
    """
    paths = shown(resolve_server(server))
    report = smoke_test(paths, timeout=timeout, progress=lambda line: typer.echo(f"  {line}"))
    if not report.ok:
        count = len(report.problems)
        raise UserError(
            f"smoke test of {report.server} ({paths.dir}) failed: {count} problem{'s' if count != 1 else ''}",
            hint=f"each FAIL line above names the file at fault; run again with: gymkit smoke {paths.dir}",
        )
    typer.echo(f"smoke ok: {report.server}, {report.passed} checks in {report.seconds:.2f} s")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Test")(smoke)
    app.command("validate-data", rich_help_panel="Test")(validate_data)
