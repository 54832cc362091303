"""Real git repositories in temp folders for the pipeline tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

__all__ = ["GitRepo"]

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "gymkit tests",
    "GIT_AUTHOR_EMAIL": "tests@gymkit.invalid",
    "GIT_COMMITTER_NAME": "gymkit tests",
    "GIT_COMMITTER_EMAIL": "tests@gymkit.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


class GitRepo:
    """A throwaway repository driven through the git command line, as CI's checkout is."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        env = {**os.environ, **_GIT_ENV}
        done = subprocess.run(["git", *args], cwd=self.root, env=env, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    def write(self, rel: str, text: str = "x\n") -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def link(self, rel: str, target: str) -> Path:
        """A symbolic link at ``rel`` to ``target`` (relative to the link's folder), as git stores one."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target)
        return path

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    """A repository with servers ``alpha`` and ``beta`` and a ``gymkit/`` package on main."""
    r = GitRepo(tmp_path / "gym")
    for name in ("alpha", "beta"):
        r.write(f"resources_servers/{name}/app.py")
        r.write(f"resources_servers/{name}/data/example.jsonl", "{}\n")
    r.write("gymkit/__init__.py")
    r.write("README.md")
    r.commit("base")
    return r
