"""``gymkit smoke``: the smoke stage of ``gymkit test``, on its own."""

from __future__ import annotations

from typing import Annotated

import typer

from gymkit.cli._shared import ServerArg
from gymkit.errors import UserError
from gymkit.project import resolve_server
from gymkit.smoke import DEFAULT_TIMEOUT, shown, smoke_test

__all__ = ["register", "smoke"]


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
