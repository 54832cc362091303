"""``gymkit changed``: the servers a branch changes, as CI sees them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from gymkit.errors import CannotWriteError
from gymkit.gitutil import Changes, changed_servers, one_line

__all__ = ["changed", "register", "verdict"]


def verdict(result: Changes) -> tuple[str, str]:
    """(selection, reason): ``all``, ``some`` or ``none`` servers to check, and why, on one line.

    The PR status job passes with no server checked only when this said ``none``, so every
    way of reaching an empty list has to be named here.
    """
    if result.servers and result.all_selected:
        return "all", f"every server selected: {one_line(result.global_files[0])} changed"
    if result.servers:
        return "some", f"servers changed: {', '.join(result.servers)}"
    if result.all_selected:
        return "none", f"no resource server to check: {one_line(result.global_files[0])} changed, but there are none"
    if result.deleted:
        return "none", f"no resource server changed (deleted: {', '.join(map(one_line, result.deleted))})"
    return "none", "no resource server changed"


def _write_github_output(path: Path, result: Changes) -> None:
    selection, reason = verdict(result)
    # One `name=value` line each; names and reason are single lines, so none can add an output.
    lines = [
        f"servers={json.dumps(result.servers)}",
        f"direct={json.dumps(result.direct)}",
        f"selection={selection}",
        f"reason={reason}",
    ]
    try:
        with path.open("a", encoding="utf-8") as out:
            out.write("".join(f"{line}\n" for line in lines))
    except OSError as exc:
        raise CannotWriteError(path, exc) from None


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
    github_output: Annotated[
        Path | None,
        typer.Option(
            help="Also append servers=, direct=, selection= (all, some or none) and reason= lines to this file "
            "(a GitHub Actions step's $GITHUB_OUTPUT).",
            dir_okay=False,
        ),
    ] = None,
    repo: Annotated[Path, typer.Option(help="Any folder inside the git repository.")] = Path("."),
) -> None:
    """List the resource servers changed since the merge base with [bold]--base[/].

    A file inside [bold]resources_servers/NAME/[/] selects NAME. Markdown and pictures at the
    top level, in [bold]docs/[/] or directly in [bold]resources_servers/[/] select nothing.
    Any other change ([bold]gymkit/[/], [bold]templates/[/], a conftest.py or pytest/nox
    configuration outside a server, shared requirements...) selects every server. A symbolic
    link or submodule under [bold]resources_servers/[/] is an error. Deleted servers are not listed.
    """
    result = changed_servers(repo, base, head)
    if github_output is not None:
        _write_github_output(github_output, result)
    names = result.direct if direct else result.servers
    if as_json:
        typer.echo(json.dumps(names))
    else:
        for name in names:
            typer.echo(name)
    selection, reason = verdict(result)
    if direct:
        if not names:
            typer.echo("gymkit: no resource server's own files changed", err=True)
    elif selection != "some":
        typer.echo(f"gymkit: {reason}", err=True)


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Checks")(changed)
