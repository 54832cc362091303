"""Running servers: what is left behind when starting one fails or is interrupted."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from pydantic import BaseModel

from gymkit import BaseResourcesServer, confine
from gymkit.childproc import ChildProcess
from gymkit.errors import ServerLoadError
from gymkit.runtime import serving
from gymkit.runtime.serving import ServerProcess, serving_in_thread


def _alive(pid: int) -> bool:
    """Running, that is: a zombie waiting for a parent that does not reap it counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def test_interrupted_start_stops_the_child(
    fixture_server: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The child runs in its own session, so a Ctrl-C at the terminal never reaches it:
    # if the parent is interrupted while it waits for the ready line, it must stop the child.
    pids: list[int] = []
    wait_ready = ServerProcess._wait_ready

    def interrupted(self: ServerProcess) -> str | None:
        assert self._proc is not None
        pids.extend((self._proc.supervisor_pid, self._proc.pid))
        wait_ready(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(ServerProcess, "_wait_ready", interrupted)
    try:
        with pytest.raises(KeyboardInterrupt), ServerProcess(fixture_server("tutorial")):
            pass
        assert len(pids) == 2 and all(pids) and not any(_alive(pid) for pid in pids)
    finally:
        for pid in pids:
            if pid > 0 and _alive(pid):
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
    stopped = "startup failed: uvicorn stopped before serving"
    with pytest.raises(ServerLoadError, match=stopped), serving_in_thread(object()):
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


# A parent that starts a child with two grandchildren, one of which left the group (setsid, as
# a sandbox does), prints every pid, then waits to be killed.
_PARENT = """
import re, sys, threading, time
from gymkit.childproc import ChildProcess

script = "sleep 60 & a=$!; setsid sleep 61 & b=$!; echo ready $a $b; wait"
child = ChildProcess(["sh", "-c", script], ready=re.compile(r"ready (\\d+) (\\d+)"), timeout=20, grace=1)

def start():
    match = child.start()
    print(child.supervisor_pid, child.pid, *match.groups(), flush=True)

if sys.argv[1] == "thread":
    # Started from a thread that then ends: PDEATHSIG alone would kill the child right here.
    thread = threading.Thread(target=start)
    thread.start()
    thread.join()
else:
    start()
time.sleep(60)
"""


@pytest.mark.parametrize(
    ("sig", "started_in"),
    [(signal.SIGKILL, "thread"), (signal.SIGKILL, "main"), (signal.SIGTERM, "main"), (signal.SIGINT, "thread")],
)
def test_children_die_with_their_parent(sig: signal.Signals, started_in: str) -> None:
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, started_in], stdout=subprocess.PIPE, text=True)
    pids: list[int] = []
    try:
        assert parent.stdout is not None
        pids = [int(word) for word in parent.stdout.readline().split()]
        assert len(pids) == 4 and all(_alive(pid) for pid in pids)
        time.sleep(0.3)  # a thread that started the child has ended by now: the child is still there
        assert all(_alive(pid) for pid in pids)
        parent.send_signal(sig)
        # Bounded, but loose: on two cores under a full suite, stopping the children has taken over 20 s.
        assert parent.wait(timeout=60) == -sig
        if sig != signal.SIGKILL:
            # A handled signal stops the children before the parent goes.
            assert [pid for pid in pids if _alive(pid)] == []
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [pid for pid in pids if _alive(pid)] == []
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout:
            parent.stdout.close()
        for pid in pids:
            if pid > 0 and _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_child_that_ends_takes_its_group_along() -> None:
    script = "sleep 60 & echo ready $!; echo oops >&2; exit 3"
    child = ChildProcess(["sh", "-c", script], ready=re.compile(r"ready (\d+)"), timeout=20)
    try:
        match = child.start()
        assert match is not None
        grandchild = int(match.group(1))
        deadline = time.monotonic() + 5
        while child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert child.returncode == 3 and not _alive(grandchild)
    finally:
        assert child.stop() == "oops\n"


def test_a_command_that_cannot_run_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info, ChildProcess([str(tmp_path / "nothing")], ready=re.compile("x")):
        pass
    assert info.value.filename == str(tmp_path / "nothing")


@pytest.mark.skipif(confine.landlock_abi() < confine.MIN_ABI, reason="needs Landlock")
def test_a_served_server_writes_only_to_its_own_temp_folder(
    fixture_server: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server's code runs at import: it may use tempfile, but not write its own folder.
    server = fixture_server("tutorial")
    app = server / "app.py"
    outside = server / "written-by-the-server.txt"
    app.write_text(
        "import tempfile\n"
        "with tempfile.NamedTemporaryFile() as scratch:\n"
        "    scratch.write(b'fine')\n"
        f"open({str(outside)!r}, 'w').write('escaped')\n" + app.read_text()
    )
    monkeypatch.delenv("GYMKIT_CONFINE", raising=False)
    with pytest.raises(ServerLoadError, match="Permission denied"), ServerProcess(server):
        pass
    assert not outside.exists()
