"""Starting a resource server in a child process with the runtime it is written for.

A gymkit server runs under ``gymkit serve`` in gymkit's Python; a NeMo Gym server (its app.py
imports nemo_gym) runs under the real nemo-gym runtime in its own Python 3.12 environment
(gymkit.nemo.launch). Either way the caller gets a context manager with ``.url`` and talks
to the server over HTTP only.

An upstream server costs a Ray start (15-40 s on two busy cores), and ``gymkit check`` has three
checks that start one side by side: the audit, re-verification and the tool check. Inside
:func:`sharing` they get one server between them, started by the first and stopped when the
last scope closes, so a check starts Ray once instead of three times at once, which made the
starts time out. A gymkit server starts in a second and each caller keeps its own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gymkit.errors import GymkitError
from gymkit.nemo.detect import server_kind
from gymkit.nemo.launch import DEFAULT_TIMEOUT, UpstreamServer
from gymkit.nemo.programs import ProgramWatch
from gymkit.runtime.serving import ServerProcess

__all__ = ["sharing", "start_server"]


class _Shared:
    """One upstream server and the scopes that share it."""

    def __init__(self) -> None:
        self.scopes = 0
        self.lock = threading.Lock()  # held while the server starts: the others wait for it
        self.server: UpstreamServer | None = None
        self.error: GymkitError | None = None
        self.programs = ProgramWatch()  # what the server starts that is not installed here


_registry: dict[Path, _Shared] = {}
_registry_lock = threading.Lock()


@contextmanager
def sharing(server_dir: Path) -> Iterator[ProgramWatch]:
    """While open, :func:`start_server` of this upstream server, from any thread, returns the one server.

    Yields the watch on the programs it starts: its ``missing`` is filled in once the last scope stops it."""
    key = Path(server_dir).resolve()
    with _registry_lock:
        shared = _registry.setdefault(key, _Shared())
        shared.scopes += 1
    try:
        yield shared.programs
    finally:
        with _registry_lock:
            shared.scopes -= 1
            last = shared.scopes == 0
            if last:
                del _registry[key]
        if last:
            try:
                if shared.server is not None:
                    shared.server.__exit__(None, None, None)
            finally:
                shared.programs.collect()


class _Borrowed(UpstreamServer):
    """The shared server as one caller sees it: entering starts it if no one has; leaving leaves it running."""

    def __init__(self, shared: _Shared, server_dir: Path, *, timeout: float) -> None:
        super().__init__(server_dir, timeout=timeout)
        self._shared = shared

    def __enter__(self) -> UpstreamServer:
        shared = self._shared
        with shared.lock:
            # A start that failed is not tried again by each waiting caller: each would wait the full timeout.
            if shared.error is not None:
                raise shared.error
            if shared.server is None:
                server = UpstreamServer(self.server_dir, timeout=self.timeout, programs=shared.programs)
                try:
                    server.__enter__()
                except GymkitError as exc:
                    shared.error = exc
                    raise
                shared.server = server
            self.url, self.name = shared.server.url, shared.server.name
        return self

    def exited(self, timeout: float = 0.0) -> bool:
        server = self._shared.server
        return server is None or server.exited(timeout)

    def __exit__(self, *exc: object) -> None:
        pass  # the last sharing scope stops it


def start_server(server_dir: Path, *, timeout: float = 60.0) -> ServerProcess | UpstreamServer:
    """The server at ``server_dir``, not yet started: use it as a context manager."""
    if server_kind(server_dir) == "nemo_gym":
        # Callers' timeouts are sized for gymkit servers (a second or two); nemo_gym imports and Ray take longer.
        timeout = max(timeout, DEFAULT_TIMEOUT)
        with _registry_lock:
            shared = _registry.get(Path(server_dir).resolve())
        if shared is not None:
            return _Borrowed(shared, server_dir, timeout=timeout)
        return UpstreamServer(server_dir, timeout=timeout)
    return ServerProcess(server_dir, timeout=timeout)
