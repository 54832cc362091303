"""``gymkit check-pr-body``: a PR description has every required section filled in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gymkit import prbody
from gymkit.cli._shared import PANEL, echo

__all__ = ["check_pr_body_command", "register"]


def check_pr_body_command(
    file: Annotated[
        Path, typer.Argument(help="A Markdown file, or a GitHub pull_request event payload (JSON).", dir_okay=False)
    ],
) -> None:
    """Check that a PR description has every required section filled in."""
    problems = prbody.check_pr_body(prbody.read_pr_body(file))
    for problem in problems:
        typer.secho(f"{file}: {problem.message}", fg="red", err=True)
    if problems:
        typer.secho("hint: gymkit pr-body NAME renders a complete description", fg="yellow", err=True)
        raise typer.Exit(1)
    echo(f"{file}: all {len(prbody.PR_SECTIONS)} required sections are filled")


def register(app: typer.Typer) -> None:
    sections = ", ".join(name for name, _ in prbody.PR_SECTIONS)
    check_pr_body_command.__doc__ = f"{check_pr_body_command.__doc__}\n\nRequired sections: {sections}."
    app.command("check-pr-body", rich_help_panel=PANEL)(check_pr_body_command)
