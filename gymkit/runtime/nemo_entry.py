"""``python app.py`` for a gymkit server: how ``ng_run`` starts every server it runs.

``ng_run`` runs each server of its configuration as ``python <entrypoint>`` from the server's
folder, with the merged configuration as YAML in ``NEMO_GYM_CONFIG_DICT`` and the server's
instance name in ``NEMO_GYM_CONFIG_PATH``; it then waits for ``GET /`` on the host and port it
wrote into that instance's entry. A gymkit server whose app.py ends with ``server.run()`` (under
``if __name__ == "__main__":``) therefore takes part in an ``ng_run`` like any other: it reads
its own entry (host, port and fields) from there and serves on it, under its instance name,
which keys its session cookie as NeMo Gym's servers key theirs. Without those variables it
serves as ``gymkit serve`` would: its folder's configs/, a free loopback port.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from gymkit.childproc import _PR_SET_PDEATHSIG, _prctl
from gymkit.errors import ServerLoadError, UserError

if TYPE_CHECKING:
    from gymkit.runtime.server import BaseResourcesServer

__all__ = ["CONFIG_DICT_VAR", "CONFIG_PATH_VAR", "nemo_instance", "run_server"]

CONFIG_DICT_VAR = "NEMO_GYM_CONFIG_DICT"
CONFIG_PATH_VAR = "NEMO_GYM_CONFIG_PATH"


def nemo_instance(environ: dict[str, str] | os._Environ[str]) -> tuple[str, dict[str, Any]] | None:
    """(instance name, its fields) from NeMo Gym's variables; None when they are not set."""
    text, name = environ.get(CONFIG_DICT_VAR), environ.get(CONFIG_PATH_VAR)
    if not text or not name:
        return None
    try:
        merged = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UserError(f"{CONFIG_DICT_VAR} is not YAML: {str(exc).splitlines()[0]}") from None
    entry = merged.get(name) if isinstance(merged, dict) else None
    # name: {resources_servers: {implementation: fields}}, as ng_run writes every instance.
    inner = entry.get("resources_servers") if isinstance(entry, dict) else None
    if not isinstance(inner, dict) or len(inner) != 1:
        raise UserError(f"{CONFIG_DICT_VAR} has no resources server named {name!r} ({CONFIG_PATH_VAR})")
    fields = next(iter(inner.values()))
    if not isinstance(fields, dict) or not fields.get("host") or not fields.get("port"):
        raise UserError(f"{CONFIG_DICT_VAR}: resources server {name!r} has no host and port")
    return name, fields


def _main_folder() -> Path:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path:
        raise ServerLoadError("server.run() serves the app.py it is called from; run it as: python app.py")
    return Path(path).resolve().parent


def _end_with_parent() -> None:
    """Under ng_run, end (SIGTERM: uvicorn's graceful stop) when the shell ng_run started us in ends.

    ng_run stops its servers by killing those shells. NeMo Gym's own servers then end because
    the Ray cluster they joined goes with ng_run; a gymkit server has no such tie and would
    serve on, holding its port, after ng_run is gone.
    """
    parent = os.getppid()
    if _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM) and os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)  # the shell ended before the request took effect


def run_server(server: BaseResourcesServer, *, host: str = "127.0.0.1", port: int = 0) -> None:
    """Serve ``server`` until interrupted, on NeMo Gym's host and port when ng_run started it."""
    from gymkit.runtime.config import ResourcesServerConfig, find_config, load_config
    from gymkit.runtime.serving import serve_forever

    found = nemo_instance(os.environ)
    if found is not None:
        name, fields = found
        server.config = ResourcesServerConfig.model_validate(fields)
        host, port = str(fields["host"]), int(fields["port"])
        _end_with_parent()
    else:
        config = load_config(find_config(_main_folder()))
        server.config = config.resources_server
        name = config.resources_servers[0].name
    server.name = name
    server._app = None  # the session cookie's key is the name
    serve_forever(server.app, name, host, port)
