"""``gymkit serve``: run one resource server under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from gymkit.project import load_server, resolve_server
from gymkit.serving import serve_forever


def serve(
    server: Annotated[str, typer.Argument(help="Server name under resources_servers/, or a path to its folder.")],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on; 0 picks a free one.", min=0, max=65535)] = 0,
) -> None:
    """Serve a resource server's tools, [bold]/seed_session[/] and [bold]/verify[/] over HTTP.

    Prints [bold]gymkit: serving NAME at URL[/] once it listens. Stop with Ctrl-C.
    """
    instance = load_server(resolve_server(server))
    serve_forever(instance.app, instance.name, host, port)


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Run")(serve)
