from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.view.synthetic import write_rollouts

_READY = re.compile(r"gymkit: serving view at (http://\S+)")


@pytest.fixture(scope="session")
def rollout_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two files of the same 30 tasks x 4 samples: "before" with hostile text and failures, "after" re-seeded."""
    folder = tmp_path_factory.mktemp("view")
    before, after = folder / "before.jsonl", folder / "after.jsonl"
    write_rollouts(before, 30, 4, seed=1, hostile=True, failures=3)
    write_rollouts(after, 30, 4, seed=2)
    return before, after


@pytest.fixture(scope="session")
def view_url(rollout_files: tuple[Path, Path]) -> Iterator[str]:
    """``gymkit view`` on both files, as a person would start it, on a free port."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
    cmd = [sys.executable, "-m", "gymkit", "view", *map(str, rollout_files), "--no-browser", "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = _READY.search(line)
        assert match, f"gymkit view did not start: {line!r}"
        yield match.group(1)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
