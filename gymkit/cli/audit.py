"""``gymkit audit``: send a server's verify adversarial responses before a policy finds them.

Exit codes: 0 no probe earned reward it should not (waived findings allowed); 1 a probe
did, or the server could not be audited; 2 a usage error.
"""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer

from gymkit.audit import PROBES, AuditOptions, render_audit, run_audit
from gymkit.findings.render import Format
from gymkit.project import resolve_server

__all__ = ["audit", "register"]


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def audit(
    server: Annotated[str, typer.Argument(help="Server name under resources_servers/, or a path to its folder.")],
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="text, json, markdown (PR comment) or github.")
    ] = "text",
    probe: Annotated[
        list[str] | None,
        typer.Option(help=f"Run only these probes (repeat or separate with commas): {', '.join(PROBES)}."),
    ] = None,
    row: Annotated[
        list[int] | None, typer.Option(help="Only these example rows (0-based, as _ng_task_index); repeatable.", min=0)
    ] = None,
    show: Annotated[bool, typer.Option(help="Print each failing probe's full response after the report.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for one /verify answer.", min=0.1)] = 30.0,
    concurrency: Annotated[int, typer.Option(help="Requests in flight at once.", min=1)] = 16,
) -> None:
    """Probe a server's [bold]/verify[/] for reward hacks: empty, echoed, pasted, hedged, swapped,
    overlong and grader-addressing answers built from its own rows, plus determinism and malformed bodies.

    Exit 1 when a probe earns reward it should not. A server may waive a probe only with a written
    reason: [bold]gymkit: {waive: {GYM3A08: "why"}}[/]. See docs/audit.md.
    """
    paths = resolve_server(server)
    options = AuditOptions(
        target=server,
        probes=set(_split(probe)) or None,
        rows=set(row) if row else None,
        timeout=timeout,
        concurrency=concurrency,
    )
    result = run_audit(paths, options)
    color = False if os.environ.get("NO_COLOR") else None
    shown = paths.dir.relative_to(paths.dir.parents[1]).as_posix() if len(paths.dir.parents) > 1 else str(paths.dir)
    typer.echo(render_audit(paths.name, shown, list(result.findings), fmt), color=color)
    if fmt == "text":
        typer.echo(f"audit: {result.cases} cases, {result.requests} requests in {result.seconds:.2f} s", color=color)
    if show:
        for f in result.findings:
            if f.status == "fail" and f.response is not None:
                typer.echo(f"\n{f.code} {f.probe} row {f.row}:\n{json.dumps(f.response, indent=2, ensure_ascii=False)}")
    raise typer.Exit(1 if any(f.status == "fail" for f in result.findings) else 0)


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Test")(audit)
