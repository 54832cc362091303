"""Arguments and output shared by several commands: the checklist's, smoke and validate-data."""

from __future__ import annotations

import os
from typing import Annotated

import typer

__all__ = ["PANEL", "ServerArg", "VerifyTimeout", "echo"]

PANEL = "Checks"

ServerArg = Annotated[str, typer.Argument(help="Server name under resources_servers/, or a path to its folder.")]
VerifyTimeout = Annotated[
    float, typer.Option(help="Seconds to wait for one /verify answer during re-verification.", min=0.1)
]


def echo(text: str) -> None:
    """Print a report: coloured on a terminal unless NO_COLOR is set."""
    typer.echo(text, color=False if os.environ.get("NO_COLOR") else None)
