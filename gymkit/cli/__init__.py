"""The ``gymkit`` command: a thin typer layer over the library."""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

from gymkit import __version__
from gymkit.cli._errors import GymkitGroup

__all__ = ["app", "main"]

app = typer.Typer(
    name="gymkit",
    cls=GymkitGroup,
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Build, test and validate resource servers for LLM reinforcement learning.",
    pretty_exceptions_enable=False,
)

# Each module registers its commands on `app`; the order is the order of --help panels.
_COMMAND_MODULES = ["serve"]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gymkit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Build, test and validate resource servers for LLM reinforcement learning."""


for _name in _COMMAND_MODULES:
    importlib.import_module(f"gymkit.cli.{_name}").register(app)


def main() -> None:
    app()
