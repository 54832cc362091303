"""``gymkit report``: the environment card, one HTML file a reviewer can open from a CI artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gymkit.jsonl import atomic_write_text
from gymkit.project import resolve_server

__all__ = ["register", "report"]


def report(
    server: Annotated[str, typer.Argument(help="Server name under resources_servers/, or its folder.")],
    html: Annotated[Path, typer.Option("--html", help="Write the card to this HTML file.", dir_okay=False)],
    audit: Annotated[bool, typer.Option(help="Run gymkit audit (starts the server) and put its findings in.")] = False,
    reverify: Annotated[
        bool, typer.Option(help="Let the checklist re-verify the example rollouts (starts the server).")
    ] = False,
) -> None:
    """Write the environment card: README summary, config, the eight steps, reward profile, audit,
    training evidence and example rollouts, in one self-contained HTML file (no script, no network).
    """
    from gymkit.cards import gather_card, render_card

    card = gather_card(resolve_server(server), audit=audit, reverify=reverify)
    atomic_write_text(html, render_card(card))
    failing = [str(s["step"]) for s in card.steps if s["status"] == "fail"]
    typer.echo(f"wrote {html}" + (f" (failing steps: {', '.join(failing)})" if failing else ""))


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Checks")(report)
