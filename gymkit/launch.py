"""Starting a resource server in a child process with the runtime it is written for.

A gymkit server runs under ``gymkit serve`` in gymkit's Python; a NeMo Gym server (its app.py
imports nemo_gym) runs under the real nemo-gym runtime in its own Python 3.12 environment
(gymkit.nemo.launch). Either way the caller gets a context manager with ``.url`` and talks
to the server over HTTP only.
"""

from __future__ import annotations

from pathlib import Path

from gymkit.nemo.detect import server_kind
from gymkit.nemo.launch import DEFAULT_TIMEOUT, UpstreamServer
from gymkit.runtime.serving import ServerProcess

__all__ = ["start_server"]


def start_server(server_dir: Path, *, timeout: float = 60.0) -> ServerProcess | UpstreamServer:
    """The server at ``server_dir``, not yet started: use it as a context manager."""
    if server_kind(server_dir) == "nemo_gym":
        # Callers' timeouts are sized for gymkit servers (a second or two); nemo_gym imports and Ray take longer.
        return UpstreamServer(server_dir, timeout=max(timeout, DEFAULT_TIMEOUT))
    return ServerProcess(server_dir, timeout=timeout)
