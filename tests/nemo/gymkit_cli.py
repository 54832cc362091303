"""gymkit's own CLI as the nemo tests run it: this checkout's, in a NeMo Gym checkout, a JSON report back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

GYMKIT = str(Path(sys.executable).parent / "gymkit")


def check_json(gym: Path, *args: str, timeout: float = 900) -> tuple[subprocess.CompletedProcess[str], list[Any]]:
    """`gymkit check ARGS -f json` run in ``gym``; the finished process and its report's servers."""
    done = subprocess.run(
        [GYMKIT, "check", *args, "-f", "json"], cwd=gym, capture_output=True, text=True, timeout=timeout, check=False
    )
    return done, json.loads(done.stdout)["servers"]
