"""Running servers: what is left behind when starting one fails or is interrupted."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from pydantic import BaseModel

from gymkit import BaseResourcesServer, serving
from gymkit.errors import ServerLoadError
from gymkit.serving import ServerProcess, serving_in_thread


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_interrupted_start_stops_the_child(
    fixture_server: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The child runs in its own session, so a Ctrl-C at the terminal never reaches it:
    # if the parent is interrupted while it waits for the ready line, it must stop the child.
    pids: list[int] = []
    wait_ready = ServerProcess._wait_ready

    def interrupted(self: ServerProcess) -> str | None:
        assert self._proc is not None
        pids.append(self._proc.pid)
        wait_ready(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(ServerProcess, "_wait_ready", interrupted)
    try:
        with pytest.raises(KeyboardInterrupt), ServerProcess(fixture_server("tutorial")):
            pass
        assert pids and not _alive(pids[0])
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def test_missing_interpreter_is_a_load_error(fixture_server: Callable[[str], Path], tmp_path: Path) -> None:
    python = tmp_path / "venv" / "bin" / "python"
    with pytest.raises(ServerLoadError) as info, ServerProcess(fixture_server("tutorial"), python=str(python)):
        pass
    assert str(info.value).startswith(f"cannot run {python}: ")


def test_thread_that_fails_to_start_closes_its_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    bound: list[socket.socket] = []

    def recording_bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
        bound.append(real_bind(host, port))
        return bound[-1]

    real_bind = serving.bind
    monkeypatch.setattr(serving, "bind", recording_bind)
    # A uvicorn that returns without serving, as it does when it cannot load the app.
    monkeypatch.setattr(serving.uvicorn.Server, "run", lambda self, sockets=None: None)
    with pytest.raises(ServerLoadError, match="did not start"), serving_in_thread(object()):
        pass
    assert bound and bound[0].fileno() == -1


class _Empty(BaseModel):
    pass


class _Hangs(BaseResourcesServer):
    async def hang(self, body: _Empty) -> _Empty:
        await asyncio.sleep(600)
        return body


def test_leaving_with_a_hung_handler_stops_the_server_thread() -> None:
    # The smoke test gives up on a handler that never answers, then leaves the block: the
    # server must still stop instead of waiting on that request past the join timeout.
    before = set(threading.enumerate())
    started = time.monotonic()
    with serving_in_thread(_Hangs().app) as url, pytest.raises(httpx.TimeoutException):
        httpx.post(url + "/hang", json={}, timeout=0.2)
    assert [t for t in threading.enumerate() if t not in before] == []
    assert time.monotonic() - started < 8
