"""Finding an installed Python that NeMo Gym runs on (3.12 and later), never downloading one.

There is often no network beyond the package registries, so ``uv python install`` is no
option: the interpreter must already be on this machine. Each candidate is run once to read
its version, because a pyenv shim on PATH exists for versions that are not active and only
fails when run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from gymkit.errors import UserError
from gymkit.testing.environment import find_uv

__all__ = ["MIN_VERSION", "find_python", "python_version"]

MIN_VERSION = (3, 12)
_NAMES = ("python3.12", "python3.13", "python3.14")


@cache
def python_version(executable: str) -> tuple[int, int, int] | None:
    try:
        done = subprocess.run(
            [executable, "-c", "import sys; print(*sys.version_info[:3])"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = done.stdout.split()
    if done.returncode != 0 or len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1]), int(parts[2])


def _recent(version: str, minimum: tuple[int, int]) -> bool:
    match = re.match(r"(\d+)\.(\d+)", version)
    return match is not None and (int(match.group(1)), int(match.group(2))) >= minimum


def _pyenv_candidates(minimum: tuple[int, int]) -> list[str]:
    # Its versions folder first: one listing, where asking pyenv costs a process per version.
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    found = []
    if root.is_dir():
        found = [str(p / "bin" / "python3") for p in sorted(root.iterdir()) if _recent(p.name, minimum)]
    pyenv = shutil.which("pyenv")
    if found or not pyenv:
        return found
    done = subprocess.run(
        [pyenv, "versions", "--bare"], stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    for version in done.stdout.split():
        if not _recent(version, minimum):
            continue
        prefix = subprocess.run(
            [pyenv, "prefix", version], stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
        ).stdout.strip()
        if prefix:
            found.append(str(Path(prefix) / "bin" / "python3"))
    return found


def _uv_candidates() -> list[str]:
    uv = find_uv()
    if not uv:
        return []
    found = []
    for request in (".".join(map(str, MIN_VERSION)), f">={'.'.join(map(str, MIN_VERSION))}"):
        done = subprocess.run(
            [uv, "python", "find", "--no-python-downloads", request],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0 and done.stdout.strip():
            found.append(done.stdout.strip().splitlines()[-1])
    return found


def _candidates(minimum: tuple[int, int]) -> Iterator[str]:
    # pyenv's shims are skipped: each costs seconds to fail for an inactive version, and the
    # interpreters behind them are found in pyenv's own folder next.
    yield from (found for name in _NAMES if (found := shutil.which(name)) and "/shims/" not in found)
    yield from _pyenv_candidates(minimum)
    # Last, and only when reached: asking uv costs seconds.
    yield from _uv_candidates()


@cache
def find_python(minimum: tuple[int, int] = MIN_VERSION) -> str:
    """GYMKIT_NEMO_PYTHON, else python3.12+ on PATH, else pyenv's, else uv's; UserError when none is installed."""
    named = os.environ.get("GYMKIT_NEMO_PYTHON")
    if named:
        version = python_version(named)
        if version is None or version[:2] < minimum:
            raise UserError(f"GYMKIT_NEMO_PYTHON={named} is not a Python {'.'.join(map(str, minimum))} or later")
        return named
    for candidate in _candidates(minimum):
        version = python_version(candidate)
        if version is not None and version[:2] >= minimum:
            return candidate
    wanted = ".".join(map(str, minimum))
    raise UserError(
        f"NeMo Gym servers need Python {wanted} or later and none is installed "
        f"(looked on PATH, in pyenv and with uv); install one, or set GYMKIT_NEMO_PYTHON to its path"
    )
