"""The embedded model's child process ends with the collector, whatever interrupts its start."""

from __future__ import annotations

import subprocess

import pytest

from gymkit.rollouts.embedded import EmbeddedModel

pytestmark = pytest.mark.slow


def test_an_interrupted_start_stops_the_child(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[subprocess.Popen[str]] = []
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
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
