"""A stage that runs in the background while the server's tests run; its output is shown after theirs."""

from __future__ import annotations

import re
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

from gymkit.childproc import ChildProcess

__all__ = ["Background"]

# ChildProcess reads stdout only for a ready line and keeps stderr; a stage's whole output
# is wanted, in order, so the stage's stdout is pointed at its stderr before it starts.
_MERGE_OUTPUT = "import os, sys; os.dup2(2, 1); os.execv(sys.argv[1], sys.argv[1:])"
_NEVER = re.compile(r"(?!)")


class Background:
    """``with Background(cmd, ...) as stage: ...; code, output = stage.finish()``.

    The smoke test and data validation do not depend on the tests; on two cores their
    second or so of start-up and requests hides behind the tests' run. The stage runs under
    gymkit.childproc's supervisor, so it and any server it started end with the session,
    however the session ends (an error, Ctrl-C, kill -9).
    """

    def __init__(self, cmd: list[str], *, cwd: Path, env: dict[str, str]) -> None:
        self._child = ChildProcess([sys.executable, "-c", _MERGE_OUTPUT, *cmd], ready=_NEVER, env=env, cwd=cwd)
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
