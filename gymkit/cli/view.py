"""``gymkit view``: rollouts in the browser, served on 127.0.0.1 only."""

from __future__ import annotations

import threading
import time
import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import uvicorn

from gymkit.errors import UserError
from gymkit.evaluate.sources import rollout_files
from gymkit.runtime.serving import READY_PREFIX, bind, url_of

if TYPE_CHECKING:
    from gymkit.view import RolloutIndex

__all__ = ["register", "view"]


def view(
    targets: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH | NAME...",
            help="Rollout files, or server names (their example rollouts and reward-profile collection).",
        ),
    ],
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free port).", min=0, max=65535)] = 0,
    browser: Annotated[bool, typer.Option(help="Open the page in the browser.")] = True,
    pass_threshold: Annotated[float, typer.Option(help="A rollout passes when its reward is >= this.")] = 1.0,
) -> None:
    """Browse rollouts: filter the list, see each prompt's group, read one rollout as a conversation.

    The figures (reward histogram, pass@k, tool calls against reward) link to the rollouts
    behind each bar, point and cell; two files can be compared. Nothing is fetched from the
    internet. Stop with Ctrl+C.
    """
    from gymkit.view import RolloutIndex, create_app, loopback_hosts

    files = rollout_files(targets)
    index = RolloutIndex(threshold=pass_threshold)
    # The page is served while the index fills: the first rows show at once, the rest as they come.
    loader = threading.Thread(target=_load, args=(index, files), name="gymkit-view-index", daemon=True)
    loader.start()
    sock = bind("127.0.0.1", port)
    url = url_of(sock) + "/"
    app = create_app(index, loopback_hosts(sock.getsockname()[1]))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    typer.echo(f"{READY_PREFIX} view at {url}", err=False)
    if browser:
        # After uvicorn starts accepting: the socket already listens, so an early request just waits.
        threading.Timer(0.3, webbrowser.open, args=(url,)).start()
    server.run(sockets=[sock])


def _load(index: RolloutIndex, files: list[Path]) -> None:
    started = time.perf_counter()
    try:
        index.load(files, audit=False)
    except (UserError, OSError) as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)  # the page shows it too
        return
    typer.echo(f"indexed {len(index):,} rows in {len(index.groups):,} groups from {len(index.files)} file(s) "
               f"in {time.perf_counter() - started:.1f}s", err=True)  # fmt: skip
    index.flag_suspicious()
    typer.echo(f"audit flags computed ({time.perf_counter() - started:.1f}s after start)", err=True)


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Rollouts & rewards")(view)
