"""The embedded model's child process ends with the collector, whatever interrupts its start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gymkit.childproc import ChildProcess
from gymkit.rollouts.embedded import EmbeddedModel

pytestmark = pytest.mark.slow


def test_an_interrupted_start_stops_the_child(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[ChildProcess] = []
    wait_ready = EmbeddedModel._wait_ready

    def interrupted(self: EmbeddedModel) -> str | None:
        assert self._proc is not None
        started.append(self._proc)
        wait_ready(self)
        raise KeyboardInterrupt  # Ctrl-C while the model loads

    monkeypatch.setattr(EmbeddedModel, "_wait_ready", interrupted)
    with pytest.raises(KeyboardInterrupt):
        EmbeddedModel().__enter__()
    (proc,) = started
    try:
        assert proc.poll() is not None, "the embedded model outlived a failed start"
        assert not _running(proc.pid)
    finally:
        for pid in (proc.supervisor_pid, proc.pid):
            if pid > 0 and _running(pid):
                os.kill(pid, signal.SIGKILL)


_PARENT = """
import time
from gymkit.childproc import ChildProcess
from gymkit.rollouts.embedded import EmbeddedModel

model = EmbeddedModel().__enter__()
print(model._proc.supervisor_pid, model._proc.pid, model.url, flush=True)
time.sleep(120)
"""


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_the_model_dies_with_a_parent_killed_minus_9() -> None:
    parent = subprocess.Popen([sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, text=True)
    pids: list[int] = []
    try:
        assert parent.stdout is not None
        supervisor, model, url = parent.stdout.readline().split()
        pids = [int(supervisor), int(model)]
        assert httpx.get(f"{url}/models", timeout=10).status_code == 200
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 15
        while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [pid for pid in pids if _running(pid)] == []
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/models", timeout=5)
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout:
            parent.stdout.close()
        for pid in pids:
            if pid > 0 and _running(pid):
                os.kill(pid, signal.SIGKILL)
