"""The run's resource server, restarted once when it dies.

A server that crashed mid-run used to take every rollout still to come with it (251 of 300
written off in a second). Death is noticed where it shows, a rollout failing with a
connection error: the supervisor then probes the server's port, and if nothing listens it
starts a new ``gymkit serve`` (on a new port) and tells the rollout to run again. Rollouts
in flight on the dead server fail the same way and see the new generation, so they run
again too. A second death ends the run: the output keeps every row written so far and
``--resume`` continues from there.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from gymkit.errors import UserError
from gymkit.launch import start_server as ServerProcess  # the runtime the server is written for

if TYPE_CHECKING:
    from gymkit.nemo.launch import UpstreamServer
    from gymkit.runtime import serving

__all__ = ["ServerDiedError", "ServerSupervisor"]

RESTARTS = 1
_EXIT_WAIT = 1.0  # seconds a server that failed a request gets to show it is exiting
_PROBE_TIMEOUT = 2.0


class ServerDiedError(UserError):
    """The resource server died again after its restart."""


class ServerSupervisor:
    def __init__(self, server_dir: Path, url: str | None = None, *, restarts: int = RESTARTS) -> None:
        self.server_dir = server_dir
        self.owned = url is None  # a server someone else runs is theirs to restart
        self.url = (url or "").rstrip("/")
        self.restarts_left = restarts
        self.restarted = 0
        self.generation = 0
        self._process: serving.ServerProcess | UpstreamServer | None = None  # what start_server returns
        self._lock = asyncio.Lock()

    def start(self) -> str:
        if self.owned:
            process = ServerProcess(self.server_dir)
            self.url = process.__enter__().url.rstrip("/")
            self._process = process
        return self.url

    def close(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.__exit__(None, None, None)

    async def _alive(self) -> bool:
        # A crashing server can still accept on its port for a moment while it exits, so its
        # process says first; a listening port is believed only of a process still running.
        process = self._process
        if process is not None and await asyncio.to_thread(process.exited, _EXIT_WAIT):
            return False
        parts = urlsplit(self.url)
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(parts.hostname, parts.port), timeout=_PROBE_TIMEOUT
            )
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    async def after_server_error(self, generation: int) -> bool:
        """A rollout started on ``generation`` could not reach the server; True = run it again."""
        async with self._lock:
            if generation != self.generation:
                return True  # another rollout already restarted it
            if not self.owned or await self._alive():
                return False
            if self.restarts_left <= 0:
                raise ServerDiedError(
                    f"the resource server {self.server_dir.name} died again after {self.restarted} restart(s)",
                    hint="fix the crash (see the server's log), then run again with --resume",
                )
            self.restarts_left -= 1
            # Starting blocks until the child is ready; the other rollouts keep running meanwhile.
            await asyncio.to_thread(self._restart)
            self.restarted += 1
            self.generation += 1
            return True

    def _restart(self) -> None:
        self.close()
        self.start()
