"""``gymkit pr-body``: the pull-request description, rendered from a server's files and checked as CI checks it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gymkit import prbody
from gymkit.cli._shared import PANEL, ServerArg, echo
from gymkit.jsonl import atomic_write_text
from gymkit.project import resolve_server

__all__ = ["pr_body", "register"]


def pr_body(
    server: ServerArg,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Render the pull-request description from the server's README, config and reports.

    Exit 1 (after writing it) when [bold]gymkit check-pr-body[/] would reject it, with one line per problem.
    """
    paths = resolve_server(server)
    body = prbody.render_pr_body(paths)
    if output is None:
        echo(body)
    else:
        atomic_write_text(output, body)
    problems = prbody.check_pr_body(body)
    for problem in problems:
        typer.secho(f"{paths.readme}: {problem.message}", fg="red", err=True)
    if problems:
        typer.secho("hint: fill those sections of README.md, then run gymkit pr-body again", fg="yellow", err=True)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("pr-body", rich_help_panel=PANEL)(pr_body)
