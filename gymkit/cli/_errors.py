"""The one place where library errors become a red line on stderr and an exit code."""

from __future__ import annotations

from typing import Any

import typer
from typer import _click
from typer.core import TyperGroup

from gymkit.errors import GymkitError

__all__ = ["GymkitGroup", "fail"]


def fail(message: str, hint: str | None = None, code: int = 1) -> typer.Exit:
    """Print ``error: message`` (and ``hint: ...``) to stderr; return the Exit to raise."""
    typer.secho(f"error: {message}", fg="red", err=True)
    if hint:
        typer.secho(f"hint: {hint}", fg="yellow", err=True)
    return typer.Exit(code)


class GymkitGroup(TyperGroup):
    """Root command group: a :class:`GymkitError` from any command ends as one readable line."""

    # typer bundles its own copy of click: the context handed here is typer._click's, not click's.
    def invoke(self, ctx: _click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GymkitError as exc:
            raise fail(exc.message, exc.hint, exc.exit_code) from None
