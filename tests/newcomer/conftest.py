"""A new contributor's starting points: a fresh clone of this repository, and gymkit installed from a wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

__all__ = ["REPO", "build_wheel", "fresh_clone", "install_from_wheel", "run"]


def run(cmd: list[str | Path], cwd: Path, *, timeout: float = 1200, **env: str) -> subprocess.CompletedProcess[str]:
    """A command as a contributor's shell runs it: no variables that point into this checkout or its venv."""
    clean = {k: v for k, v in os.environ.items() if k not in ("GYMKIT_SOURCE", "PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env={**clean, "NO_COLOR": "1", "COLUMNS": "200", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=timeout,
        check=False,
    )


def git(cwd: Path, *args: str) -> str:
    done = run(["git", "-c", "user.name=Newcomer", "-c", "user.email=new@example.com", *args], cwd)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stdout}"
    return done.stdout.strip()


def fresh_clone(dest: Path) -> Path:
    """What `git clone` of this working tree gives: its files that git would commit, nothing it ignores.

    A copy of the working tree rather than a clone of HEAD, so the tree under test is the one
    being tested; caches, virtualenvs and ignored data stay behind as they do in a real clone.
    """
    listed = git(REPO, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for rel in filter(None, listed.split("\0")):
        source = REPO / rel
        if source.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / rel)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "clone")
    return dest


def build_wheel(source: Path, dist: Path) -> Path:
    """gymkit's wheel, as `pip wheel` builds it from a checkout."""
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, source], source)
    assert built.returncode == 0, built.stdout
    (wheel,) = dist.glob("gymkit-*.whl")
    return wheel


def install_from_wheel(tmp: Path, python: str, *, uv: str | None = None) -> tuple[Path, Path]:
    """A fresh clone of this repository under ``tmp`` and a venv with gymkit installed from its wheel (and uv).

    uv beside gymkit (`pip install gymkit uv`) builds a server's environment in seconds. With
    ``uv`` (its path) the install is `uv pip install`, as a contributor who has uv runs it.
    """
    source = fresh_clone(tmp / "gymkit-src")
    venv = tmp / "venv"
    assert run([python, "-m", "venv", venv], tmp).returncode == 0
    pip = [venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if uv:
        pip = [uv, "pip", "install", "-q", "--python", venv / "bin" / "python"]
    done = run([*pip, build_wheel(source, tmp / "dist1"), "uv"], tmp)
    assert done.returncode == 0, done.stdout
    return source, venv


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fresh_clone(tmp_path_factory.mktemp("clone"))
