"""``gymkit serve``: run one resource server, under gymkit's runtime or NeMo Gym's."""

from __future__ import annotations

import threading
from typing import Annotated

import typer

from gymkit.nemo.detect import server_kind
from gymkit.project import load_server, resolve_server
from gymkit.runtime.serving import READY_PREFIX, serve_forever


def serve(
    server: Annotated[str, typer.Argument(help="Server name under resources_servers/, or a path to its folder.")],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on; 0 picks a free one.", min=0, max=65535)] = 0,
) -> None:
    """Serve a resource server's tools, [bold]/seed_session[/] and [bold]/verify[/] over HTTP.

    A server whose app.py imports nemo_gym runs under the real nemo-gym runtime, in its own
    Python 3.12 environment (built on first use). Prints [bold]gymkit: serving NAME at URL[/]
    once it listens. Stop with Ctrl-C.
    """
    paths = resolve_server(server)
    if server_kind(paths.dir) == "nemo_gym":
        from gymkit.nemo.launch import UpstreamServer

        with UpstreamServer(paths.dir, host=host, port=port) as upstream:
            print(f"{READY_PREFIX} {upstream.name} at {upstream.url}", flush=True)
            # Until interrupted: Ctrl-C or SIGTERM ends this process, and the server with it.
            threading.Event().wait()
        return
    instance = load_server(paths)
    serve_forever(instance.app, instance.name, host, port)


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Run")(serve)
