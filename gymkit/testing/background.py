"""A stage that runs in the background while the server's tests run; its output is shown after theirs."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from types import TracebackType

from gymkit.childproc import ChildProcess, Confinement

__all__ = ["Background"]

_NEVER = re.compile(r"(?!)")


class Background:
    """``with Background(cmd, ...) as stage: ...; code, output = stage.finish()``.

    The smoke test and data validation do not depend on the tests; on two cores their
    second or so of start-up and requests hides behind the tests' run. The stage runs under
    gymkit.childproc's supervisor, so it and any server it started end with the session,
    however the session ends (an error, Ctrl-C, kill -9). It runs the server's code, so it is
    confined (gymkit.confine) to a temp folder of its own; its output is kept, in order.
    """

    def __init__(self, cmd: list[str], *, cwd: Path, env: dict[str, str]) -> None:
        self._child = ChildProcess(cmd, ready=_NEVER, env=env, cwd=cwd, output="capture", confine=Confinement())
        self.seconds = 0.0
        self._done = threading.Event()

    def __enter__(self) -> Background:
        self._started = time.perf_counter()
        self._child.launch()
        threading.Thread(target=self._wait, daemon=True, name="gymkit-test-background").start()
        return self

    def _wait(self) -> None:
        try:
            while self._child.poll() is None:
                time.sleep(0.02)
        except AttributeError:
            pass  # stopped from the session's thread meanwhile (it left the block early)
        self.seconds = time.perf_counter() - self._started
        self._done.set()

    def finish(self) -> tuple[int, str]:
        """Wait for the stage; its exit status and everything it printed."""
        self._done.wait()
        output = self._child.stop()
        code = self._child.returncode
        return (code if code is not None else 1), output

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._child.stop()
