"""Running servers under uvicorn: in the foreground, in a thread, or in a child process.

The socket is bound before uvicorn starts (port 0 = the kernel picks a free port), so the
URL is known without a race between "find a free port" and "listen on it".
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import uvicorn

from gymkit.childproc import ChildProcess, Confinement
from gymkit.errors import ServerLoadError

__all__ = ["READY_PREFIX", "ServerProcess", "bind", "serve_forever", "serving_in_thread"]

READY_PREFIX = "gymkit: serving"
_READY = re.compile(rf"^{READY_PREFIX} (\S+) at (http://\S+)")


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio turns Nagle off (TCP_NODELAY) only on accepted
    # sockets whose proto says TCP; with proto 0 every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServerLoadError(f"cannot listen on {host}:{port}: {exc.strerror}", hint="choose another --port") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _config(app: Any) -> uvicorn.Config:
    # One worker, no access log: a GRPO job sends thousands of requests a second and the
    # log would cost more than the handlers. A request still running 3 s into shutdown is
    # cancelled: otherwise one handler that never returns keeps the server up for good.
    # Lifespan on: an MCP-exposed server runs the SDK's session manager in it (gymkit.runtime.mcp),
    # and "on", unlike "auto", stops the start when it fails instead of logging and serving on.
    return uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", timeout_keep_alive=30, timeout_graceful_shutdown=3
    )


class _StartupWatch:
    """The app as uvicorn sees it: remembers, in one line, why the app's lifespan startup failed.

    Starlette reports a failed startup with the whole traceback as the message, which uvicorn
    would log. The last line (``RuntimeError: database not reachable``) is what the user needs,
    and the caller reports it, with the server's name.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.failure: str | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def sending(message: Any) -> None:
            if message["type"] == "lifespan.startup.failed":
                lines = [line.strip() for line in str(message.get("message") or "").splitlines() if line.strip()]
                self.failure = lines[-1] if lines else "no reason given"
                message = {**message, "message": ""}
            await send(message)

        await self.app(scope, receive, sending)


class _Server(uvicorn.Server):
    """uvicorn's server, ready only once the app's startup has run; ``failure`` says why it did not."""

    def __init__(self, app: Any, on_ready: Callable[[], None] | None = None) -> None:
        self.watch = _StartupWatch(app)
        super().__init__(_config(self.watch))
        self._on_ready = on_ready

    async def startup(self, sockets: Any = None) -> None:
        try:
            await super().startup(sockets=sockets)
        except SystemExit:
            # uvicorn exits the process when the app's startup fails; the caller says why instead.
            self.should_exit = True
            return
        if not self.should_exit and self._on_ready is not None:
            self._on_ready()

    def failed(self, where: str) -> ServerLoadError:
        why = self.watch.failure or "uvicorn stopped before serving"
        return ServerLoadError(f"{where}: the server's startup failed: {why}")


def serve_forever(app: Any, name: str, host: str = "127.0.0.1", port: int = 0) -> None:
    """Serve until interrupted; prints the ready line (``gymkit: serving NAME at URL``) once the app started.

    Before the app's startup has run the server is not ready: a caller waiting for the line
    must not send a request that would find the port closed a moment later.
    """
    sock = bind(host, port)
    url = url_of(sock)
    server = _Server(app, on_ready=lambda: print(f"{READY_PREFIX} {name} at {url}", flush=True))
    server.run(sockets=[sock])
    if not server.started:
        raise server.failed(name)


@contextlib.contextmanager
def serving_in_thread(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a background thread; yields the base URL."""
    sock = bind(host, 0)
    server = _Server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive():
                raise server.failed(url_of(sock))
            if time.monotonic() > deadline:
                raise ServerLoadError(f"uvicorn did not start serving on {url_of(sock)} within 10 s")
            time.sleep(0.005)
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _child_error(stderr: str) -> tuple[str | None, str | None]:
    """The child's own ``error: ...`` line and the ``hint: ...`` under it, else its last line.

    A failing ``gymkit serve`` ends with its hint, so the last line alone would report the
    hint as the error and lose the file, line and field the error line names.
    """
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [i for i, line in enumerate(lines) if line.startswith("error: ")]
    if not errors:
        return (lines[-1] if lines else None), None
    at = errors[-1]
    after = lines[at + 1] if at + 1 < len(lines) else ""
    return lines[at].removeprefix("error: "), (after.removeprefix("hint: ") if after.startswith("hint: ") else None)


class ServerProcess:
    """A resource server in a child process (``gymkit serve DIR --port 0``).

    A hung or crashing verify cannot take the caller down with it, and the child can be
    killed. Use as a context manager; ``url`` is set once the server is ready. The server and
    whatever it starts die with the caller, however the caller ends (see gymkit.childproc).
    It runs the contributor's code, so it is confined (gymkit.confine): it writes only to a temp
    folder of its own (its TMPDIR) and the folders in ``writable``.
    """

    def __init__(
        self,
        server_dir: Path,
        *,
        python: str | None = None,
        timeout: float = 60.0,
        env: dict[str, str] | None = None,
        writable: tuple[Path, ...] = (),
    ) -> None:
        self.server_dir = server_dir
        self.python = python or sys.executable
        self.timeout = timeout
        self.env = env
        self.writable = writable
        self.url = ""
        self._proc: ChildProcess | None = None

    def __enter__(self) -> ServerProcess:
        cmd = [self.python, "-m", "gymkit", "serve", str(self.server_dir), "--host", "127.0.0.1", "--port", "0"]
        env = {**os.environ, **(self.env or {}), "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
        # Grace: uvicorn cancels requests still running 3 s into its shutdown.
        confine = Confinement(writable=tuple(self.writable))
        self._proc = ChildProcess(cmd, ready=_READY, timeout=self.timeout, env=env, grace=5.0, confine=confine)
        try:
            self._proc.launch()
        except OSError as exc:
            self._proc = None
            raise ServerLoadError(f"cannot run {self.python}: {exc.strerror}") from None
        try:
            ready = self._wait_ready()
        except BaseException:
            self._stop()  # __exit__ will not run: without this the server outlives an interrupted start
            raise
        if ready is None:
            message, hint = _child_error(self._stop())
            raise ServerLoadError(message or f"{self.server_dir}: server did not start", hint=hint)
        self.url = ready
        return self

    def _wait_ready(self) -> str | None:
        assert self._proc is not None
        match = self._proc.wait_ready()
        return match.group(2) if match else None

    def _stop(self) -> str:
        proc, self._proc = self._proc, None
        return proc.stop() if proc is not None else ""

    def exited(self, timeout: float = 0.0) -> bool:
        """True once the server process has ended, waiting up to ``timeout`` seconds for it to."""
        proc = self._proc
        return proc is None or proc.wait(timeout) is not None

    def __exit__(self, *exc: object) -> None:
        self._stop()
