"""``gymkit reproduce``: a reviewer's run of a contribution, offline."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from gymkit.checks import CheckOptions
from gymkit.cli._shared import PANEL, ServerArg, VerifyTimeout, echo
from gymkit.project import resolve_server

__all__ = ["register", "reproduce"]


def reproduce(
    server: ServerArg,
    isolated: Annotated[
        bool,
        typer.Option(hidden=True, help="Accepted for older scripts: the tests always run as gymkit test runs them."),
    ] = True,
    recollect: Annotated[bool, typer.Option(help="Re-collect the example rollouts with the recorded model.")] = True,
    endpoint: Annotated[
        str | None, typer.Option(help="OpenAI-compatible base URL for re-collection when not recorded as embedded.")
    ] = None,
    verify_timeout: VerifyTimeout = 30.0,
) -> None:
    """Reproduce a contribution as a reviewer: tests, re-verification, re-collection, then the checklist.

    The tests are [bold]gymkit test NAME[/] (the server's own virtualenv), whose result step 3
    of the checklist reads. Works offline with the embedded model. Exit 1 when tests, re-verification or a check fail.
    """
    from gymkit.review.render import render_reproduce
    from gymkit.review.reproduce import reproduce as run_reproduce

    report = run_reproduce(
        resolve_server(server).dir,
        options=CheckOptions(verify_timeout=verify_timeout),
        isolated=isolated,
        recollection=recollect,
        endpoint_url=endpoint,
        api_key=os.environ.get("GYMKIT_API_KEY") or os.environ.get("OPENAI_API_KEY"),
    )
    echo(render_reproduce(report))
    raise typer.Exit(1 if report.failed else 0)


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel=PANEL)(reproduce)
