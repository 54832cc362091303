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

    def interrupted(self: EmbeddedModel, proc: ChildProcess) -> str | None:
        started.extend(self._procs)
        wait_ready(self, proc)
        raise KeyboardInterrupt  # Ctrl-C while the first process loads

    monkeypatch.setattr(EmbeddedModel, "_wait_ready", interrupted)
    with pytest.raises(KeyboardInterrupt):
        EmbeddedModel(processes=2).__enter__()
    assert len(started) == 2
    try:
        for proc in started:
            assert proc.poll() is not None, "the embedded model outlived a failed start"
            assert not _running(proc.pid)
    finally:
        for pid in [pid for proc in started for pid in (proc.supervisor_pid, proc.pid)]:
            if pid > 0 and _running(pid):
                os.kill(pid, signal.SIGKILL)


_PARENT = """
import time
from gymkit.childproc import ChildProcess
from gymkit.rollouts.embedded import EmbeddedModel

model = EmbeddedModel(processes=2).__enter__()
pids = [pid for proc in model._procs for pid in (proc.supervisor_pid, proc.pid)]
print(",".join(map(str, pids)), " ".join(model.urls), flush=True)
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
        listed, *urls = parent.stdout.readline().split()
        pids = [int(pid) for pid in listed.split(",")]
        assert len(pids) == 4 and len(urls) == 2
        for url in urls:
            assert httpx.get(f"{url}/models", timeout=10).status_code == 200
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 15
        while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [pid for pid in pids if _running(pid)] == []
        for url in urls:
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
