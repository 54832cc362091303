"""``gymkit test`` from a gymkit installed as a wheel, in a fresh venv and a fresh git repository outside this one.

No checkout to install editable: the server's environment gets the installed gymkit
rebuilt into a wheel (gymkit.testing.wheel), a copy of its own, not this checkout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gymkit.testing.environment import find_uv

from .builders import REPO, add_server

pytestmark = pytest.mark.slow


def run(cmd: list[str | Path], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("GYMKIT_SOURCE", "PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env={**clean, "NO_COLOR": "1", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
        check=False,
    )


def test_gymkit_test_from_a_wheel_in_a_fresh_repository(tmp_path: Path) -> None:
    uv = find_uv()
    if uv is None:
        pytest.skip("uv is needed to install the wheel's dependencies in reasonable time")
    dist = tmp_path / "dist"
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, REPO], tmp_path)
    assert built.returncode == 0, built.stdout
    (wheel,) = dist.glob("gymkit-*.whl")
    venv = tmp_path / "venv"
    assert run([uv, "venv", "-q", "--python", sys.executable, venv], tmp_path).returncode == 0
    # uv beside gymkit, as `pip install gymkit uv` gives; without it the session uses venv and pip.
    installed = run([uv, "pip", "install", "-q", "--python", venv / "bin" / "python", wheel, "uv"], tmp_path)
    assert installed.returncode == 0, installed.stdout

    repo = tmp_path / "my-gym"
    (repo / "resources_servers").mkdir(parents=True)
    add_server(repo, "solo")
    assert run(["git", "init", "-q"], repo).returncode == 0
    run(["git", "add", "."], repo)
    commit = run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "solo"], repo)
    assert commit.returncode == 0, commit.stdout

    done = run([venv / "bin" / "gymkit", "test", "solo"], repo)
    assert done.returncode == 0, done.stdout
    assert "[solo] environment: built in" in done.stdout and "rebuilt from its installation" in done.stdout
    assert "[solo] 1/3 tests: passed" in done.stdout and "[solo] result: passed" in done.stdout
    # The server's environment has a gymkit of its own, the same version, and no path into the checkout.
    env_python = repo / ".gymkit-cache" / "envs" / "solo" / "bin" / "python"
    probe = run(
        [env_python, "-c", "import gymkit, json; print(json.dumps([gymkit.__file__, gymkit.__version__]))"], repo
    )
    where, version = json.loads(probe.stdout)
    assert Path(where).is_relative_to(repo / ".gymkit-cache" / "envs" / "solo")
    assert version == run([venv / "bin" / "gymkit", "--version"], repo).stdout.split()[-1]
    # The cache, environment and stamp included, stays out of git without any .gitignore of the gym's.
    assert run(["git", "status", "--porcelain"], repo).stdout == ""

    check = run([venv / "bin" / "gymkit", "check", "solo", "--select", "GYM303"], repo)
    assert check.returncode == 0, check.stdout
    again = run([venv / "bin" / "gymkit", "test", "solo"], repo)
    assert "[solo] environment: reused" in again.stdout, again.stdout
