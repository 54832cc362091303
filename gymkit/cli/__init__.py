"""The ``gymkit`` command: a thin typer layer over the library."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from typing import Annotated, Any

import typer

from gymkit import __version__
from gymkit.cli._errors import GymkitGroup

__all__ = ["app", "main"]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gymkit {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Build, test and validate resource servers for LLM reinforcement learning."""


# The order commands are listed in by `gymkit --help`, within their panels: the order of the
# contribution flow, not of module names. A command missing here is listed after these.
_HELP_ORDER = (
    "audit", "test", "smoke", "validate-data",
    "changed", "check", "pr-body", "check-pr-body", "reproduce", "report",
    "compare", "health", "profile", "training-report", "train", "view",
    "new", "update",
    "rollouts", "serve",
)  # fmt: skip


def _help_rank(name: str | None) -> int:
    return _HELP_ORDER.index(name) if name in _HELP_ORDER else len(_HELP_ORDER)


def _command_modules() -> list[str]:
    # Every public module of this package is a command group with a `register(app)` function;
    # discovering them keeps adding a command to one new file.
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def build_app(modules: list[str] | None = None) -> typer.Typer:
    """The ``gymkit`` app with the commands of ``modules`` (default: all of them)."""
    app = typer.Typer(
        name="gymkit",
        cls=GymkitGroup,
        no_args_is_help=True,
        rich_markup_mode="rich",
        context_settings={"help_option_names": ["-h", "--help"]},
        help="Build, test and validate resource servers for LLM reinforcement learning.",
        pretty_exceptions_enable=False,
    )
    app.callback()(_root)
    for module in _command_modules() if modules is None else modules:
        importlib.import_module(f"{__name__}.{module}").register(app)
    app.registered_commands.sort(key=lambda c: _help_rank(c.name or (c.callback and c.callback.__name__)))
    for command in app.registered_commands:
        if command.help is None and command.callback is not None:
            command.help = _reflow(inspect.getdoc(command.callback) or "")
    return app


def _reflow(doc: str) -> str:
    # Rich help keeps a docstring's line breaks, so lines wrapped for the source would break
    # again at the terminal's width; one line per paragraph lets rich wrap them once.
    return "\n\n".join(" ".join(p.split()) for p in doc.split("\n\n"))


def __getattr__(name: str) -> Any:
    if name == "app":  # every command, built on first use
        app = globals()["app"] = build_app()
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    # `gymkit NAME ...`, where a command module is named NAME, needs only that module: the
    # others import FastAPI, aiohttp and GitPython, which would be most of a quick command's time.
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    module = command.replace("-", "_")
    if module in _command_modules():
        app = build_app([module])
        if command in typer.main.get_group(app).commands:
            app()
            return
    build_app()()
