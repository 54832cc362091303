"""``gymkit changed``: the servers a branch changes, as CI sees them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from gymkit.gitutil import changed_servers

__all__ = ["changed", "register"]


def changed(
    base: Annotated[str, typer.Option(help="Branch, tag or commit the change is compared with, e.g. origin/main.")],
    head: Annotated[
        str | None,
        typer.Option(help="Commit to compare; without it, the working tree (uncommitted and untracked files too)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list of names (a CI job matrix) instead of one per line.")
    ] = False,
    direct: Annotated[
        bool,
        typer.Option(
            "--direct",
            help="Only servers whose own files changed; a change to gymkit or the template selects none.",
        ),
    ] = False,
    repo: Annotated[Path, typer.Option(help="Any folder inside the git repository.")] = Path("."),
) -> None:
    """List the resource servers changed since the merge base with [bold]--base[/].

    A change to gymkit itself, [bold]templates/[/], [bold]copier.yml[/], [bold]noxfile.py[/] or
    [bold]pyproject.toml[/] selects every server. Deleted servers are not listed.
    """
    result = changed_servers(repo, base, head)
    names = result.direct if direct else result.servers
    if as_json:
        typer.echo(json.dumps(names))
    else:
        for name in names:
            typer.echo(name)
    if result.all_selected and not direct:
        typer.echo(f"gymkit: every server selected: {result.global_files[0]} changed", err=True)
    elif not names:
        typer.echo("gymkit: no resource server changed", err=True)


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Checks")(changed)
