"""``gymkit check``: the contribution checklist.

Exit codes: 0 nothing failed (warnings and waived findings allowed); 1 a check failed, or
an error such as an unknown server; 2 a usage error (bad option or value).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated

import typer

from gymkit.checks import CheckOptions, all_checks, run_checks
from gymkit.cli._shared import PANEL, VerifyTimeout, echo
from gymkit.findings import ServerReport
from gymkit.findings.render import FORMATS, Format, render
from gymkit.jsonl import atomic_write_text
from gymkit.project import ServerPaths, list_servers, resolve_server

__all__ = ["check", "register"]

Targets = Annotated[
    list[str] | None,
    typer.Argument(metavar="[NAME | PATH]...", help="Server names under resources_servers/, or folder paths."),
]
Codes = Annotated[
    list[str] | None, typer.Option(help="Check codes or prefixes (GYM4 = step 4); repeat or separate with commas.")
]


def _codes(values: list[str] | None) -> list[str]:
    return [code.strip() for value in values or [] for code in value.split(",") if code.strip()]


def _servers(targets: list[str] | None, all_servers: bool) -> list[ServerPaths]:
    if all_servers:
        found = list_servers()
        if not found:
            raise typer.BadParameter("no servers under resources_servers/", param_hint="--all")
        return found
    if targets:
        return [resolve_server(t) for t in targets]
    if (Path.cwd() / "app.py").is_file():
        return [ServerPaths(Path.cwd())]
    raise typer.BadParameter("name a server (or a path), or pass --all", param_hint="NAME | PATH")


def _report_target(value: str) -> tuple[Format, Path]:
    fmt, sep, path = value.partition(":")
    if not sep or not path or fmt not in FORMATS:
        raise typer.BadParameter(f"{value!r}: expected FORMAT:PATH with FORMAT one of {', '.join(FORMATS)}")
    return fmt, Path(path)


def check(
    targets: Targets = None,
    all_servers: Annotated[bool, typer.Option("--all", help="Check every server under resources_servers/.")] = False,
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="text, json, markdown (PR comment) or github.")
    ] = "text",
    select: Codes = None,
    ignore: Codes = None,
    reverify: Annotated[bool, typer.Option(help="Start the server and re-verify the example rollouts.")] = True,
    run_tests: Annotated[
        bool,
        typer.Option(help="Run `gymkit test NAME` first where its recorded result is missing or older than the code."),
    ] = False,
    verify_timeout: VerifyTimeout = 30.0,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Servers checked at the same time.", min=1)] = 4,
    report: Annotated[
        list[str] | None,
        typer.Option(
            metavar="FORMAT:PATH",
            help="Also write the report in FORMAT to PATH (repeatable): one run, several formats, e.g. for CI.",
        ),
    ] = None,
) -> None:
    """Run the eight-step contribution checklist on servers.

    Exit 0 when nothing fails, 1 when a check fails, 2 on a usage error. A server can waive
    a check with a written reason in its config: [bold]gymkit: {waive: {GYM501: "why"}}[/].
    """
    extra = [_report_target(value) for value in report or []]
    options = CheckOptions(reverify=reverify, verify_timeout=verify_timeout, run_tests=run_tests)
    sel, ign = _codes(select), _codes(ignore)
    servers = _servers(targets, all_servers)
    all_checks()  # register every check before threads look them up
    # Most of a server's time is spent waiting on its child processes, so servers overlap well.
    with ThreadPoolExecutor(max_workers=min(jobs, len(servers))) as pool:
        reports: list[ServerReport] = list(
            pool.map(lambda paths: run_checks(paths.dir, options=options, select=sel, ignore=ign), servers)
        )
    echo(render(reports, fmt))
    for extra_fmt, path in extra:
        atomic_write_text(path, render(reports, extra_fmt) + "\n")
    raise typer.Exit(1 if any(r.failed for r in reports) else 0)


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel=PANEL)(check)
