"""The ``gymkit`` command: a thin typer layer over the library."""

from __future__ import annotations

import importlib
import pkgutil
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


# Every public module of this package is a command group with a `register(app)` function;
# discovering them keeps adding a command to one new file.
for _module in sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")):
    importlib.import_module(f"{__name__}.{_module}").register(app)


def main() -> None:
    app()
