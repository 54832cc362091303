"""``gymkit update``: merge template changes into servers made with ``gymkit new``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gymkit.cli._errors import fail

__all__ = ["register", "update"]


def update(
    names: Annotated[
        list[str] | None, typer.Argument(help="Servers to update (names under resources_servers/).")
    ] = None,
    all_servers: Annotated[bool, typer.Option("--all", help="Update every server made with gymkit new.")] = False,
) -> None:
    """Merge template changes into servers made with [bold]gymkit new[/], keeping your edits.

    Each server's folder must be committed first. Conflicts are left as
    <<<<<<< markers in the files named, and the exit code is 1.
    """
    from gymkit.project import list_servers, resolve_server
    from gymkit.scaffold import ANSWERS_FILE

    if all_servers == bool(names):
        raise fail("name the servers to update, or pass --all (not both)")
    if all_servers:
        servers = [p.dir for p in list_servers() if (p.dir / ANSWERS_FILE).is_file()]
    else:
        servers = [resolve_server(n).dir for n in names or []]
    failed = 0
    for server_dir in servers:
        failed += not _update_one(server_dir, keep_going=all_servers)
    if not servers:
        typer.echo("no servers made with gymkit new")
    if failed:
        raise fail(
            f"{failed} of {len(servers)} server(s) not updated cleanly",
            hint="resolve the conflicts above (<<<<<<< before updating ... >>>>>>> after updating), then commit",
        )


def _update_one(server_dir: Path, *, keep_going: bool) -> bool:
    """Update one server and print how it went; False when it has conflicts or failed."""
    from gymkit.errors import GymkitError
    from gymkit.scaffold import update_server

    try:
        result = update_server(server_dir)
    except GymkitError as exc:
        if not keep_going:
            raise
        typer.secho(f"error: {server_dir.name}: {exc.message}", fg="red", err=True)
        return False
    for note in result.notes:
        typer.secho(f"note: {result.name}: {note}", fg="yellow", err=True)
    if result.status == "up to date":
        typer.echo(f"{result.name}: up to date (template {result.from_commit})")
    else:
        typer.echo(f"{result.name}: {result.status}, template {result.from_commit} -> {result.to_commit}")
    for path in result.conflicts:
        typer.secho(f"conflict: {path}", fg="red", err=True)
    return not result.conflicts


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Scaffold")(update)
