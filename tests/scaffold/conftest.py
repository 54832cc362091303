"""Fixtures for the scaffold tests: empty gym repositories and servers rendered into them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from gymkit.cli import app
from gymkit.scaffold import NewServer, new_server

REPO = Path(__file__).resolve().parents[2]

# The rendered servers' tests run under the same pytest settings as the repository's.
PYTEST_SETTINGS = """\
[tool.pytest.ini_options]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
filterwarnings = ["error"]
"""


def make_project(folder: Path) -> Path:
    (folder / "resources_servers").mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(PYTEST_SETTINGS)
    return folder


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout.strip()


def make_template_repo(folder: Path, *, with_servers: bool = False) -> Path:
    """A git repository holding a copy of gymkit's template, committed and tagged v0.1.0."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "copier.yml", folder / "copier.yml")
    shutil.copytree(REPO / "templates" / "resource_server", folder / "templates" / "resource_server")
    if with_servers:  # the layout of the real repository: template and servers side by side
        make_project(folder)
        (folder / "resources_servers" / ".gitkeep").write_text("")
    git(folder, "init", "-q", "-b", "main")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "template v0.1.0")
    git(folder, "tag", "v0.1.0")
    return folder


def run_gymkit(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gymkit", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )


@pytest.fixture
def gymkit_cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run a gymkit command in-process (as CliRunner does) from the folder ``cwd``."""

    def invoke(*args: str, cwd: Path) -> Result:
        monkeypatch.chdir(cwd)
        return CliRunner().invoke(app, list(args))

    return invoke


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "gym")


@pytest.fixture
def render(project: Path) -> Callable[..., NewServer]:
    def _render(name: str = "my_task", **answers: Any) -> NewServer:
        return new_server(name, root=project, template=REPO, **answers)

    return _render


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, NewServer]:
    """One server with the example tool and one without, rendered once for the read-only tests."""
    root = make_project(tmp_path_factory.mktemp("rendered"))
    return {
        True: new_server("calc_task", root=root, template=REPO),
        False: new_server("plain_task", root=root, template=REPO, tools=False, domain="knowledge", data_license="MIT"),
    }
