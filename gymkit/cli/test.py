"""``gymkit test``: a server's tests, smoke test and data validation in an environment of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gymkit.errors import GymkitError, UserError
from gymkit.project import ServerPaths, list_servers, resolve_server

__all__ = ["register", "run_tests"]


def _split(words: list[str]) -> tuple[list[str], list[str]]:
    """Leading words name servers; from the first word starting with ``-`` on, it is pytest's."""
    names = []
    while words and not words[0].startswith("-"):
        names.append(words.pop(0))
    return names, words


def _servers(names: list[str], all_servers: bool) -> list[ServerPaths]:
    if all_servers:
        found = list_servers()
        if not found:
            raise typer.BadParameter("no servers under resources_servers/", param_hint="--all")
        return [*found, *(resolve_server(name) for name in names if name not in {p.name for p in found})]
    if names:
        return [resolve_server(name) for name in names]
    if (Path.cwd() / "app.py").is_file():
        return [ServerPaths(Path.cwd())]
    raise typer.BadParameter("name a server (or a path), or pass --all", param_hint="NAME | PATH")


def run_tests(
    words: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[NAME | PATH]... [-- PYTEST OPTIONS]",
            help="Servers to test; options from the first word starting with - go to the server's pytest.",
        ),
    ] = None,
    all_servers: Annotated[bool, typer.Option("--all", help="Test every server under resources_servers/.")] = False,
) -> None:
    """Test servers, each in a virtualenv of its own: pytest, smoke test and data validation.

    The environment (.gymkit-cache/envs/NAME) holds gymkit and the server's requirements.txt and
    is reused until they change. The result goes to .gymkit-cache/tests/NAME.json, where
    [bold]gymkit check[/] reads it; a run with pytest options records nothing. Exit 1 when a stage fails.
    """
    from gymkit.testing.session import run_session

    names, pytest_options = _split(list(words or []))
    servers = _servers(names, all_servers)
    failed = []
    for paths in servers:
        try:
            run_session(paths.dir, pytest_options)
        except GymkitError as exc:
            if len(servers) == 1:
                raise
            typer.secho(f"error: {exc.message}", fg="red", err=True)
            failed.append(paths.name)
    if failed:
        raise UserError(f"{len(failed)} of {len(servers)} servers failed: {', '.join(failed)}")


def register(app: typer.Typer) -> None:
    # Unknown options are pytest's: `gymkit test NAME -k verify` needs no `--`.
    settings = {"ignore_unknown_options": True, "allow_extra_args": False}
    app.command("test", rich_help_panel="Test", context_settings=settings)(run_tests)
