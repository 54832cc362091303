"""``gymkit view``: rollouts in the browser, served on 127.0.0.1 only."""

from __future__ import annotations

import threading
import time
import webbrowser
from typing import Annotated

import typer
import uvicorn

from gymkit.evaluate.sources import rollout_files
from gymkit.serving import READY_PREFIX, bind, url_of

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
    from gymkit.view import build_index, create_app, loopback_hosts

    files = rollout_files(targets)
    started = time.perf_counter()
    index = build_index(files, threshold=pass_threshold)
    typer.echo(
        f"indexed {len(index):,} rows in {len(index.groups):,} groups from {len(index.files)} file(s) "
        f"in {time.perf_counter() - started:.1f}s",
        err=True,
    )
    sock = bind("127.0.0.1", port)
    url = url_of(sock) + "/"
    app = create_app(index, loopback_hosts(sock.getsockname()[1]))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    typer.echo(f"{READY_PREFIX} view at {url}", err=False)
    if browser:
        # After uvicorn starts accepting: the socket already listens, so an early request just waits.
        threading.Timer(0.3, webbrowser.open, args=(url,)).start()
    server.run(sockets=[sock])


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Rollouts & rewards")(view)
