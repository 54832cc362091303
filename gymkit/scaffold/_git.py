"""git, as the template's versioning needs it: run a command, find a checkout's top."""

from __future__ import annotations

import subprocess
from pathlib import Path

from gymkit.errors import GymkitError

__all__ = ["TemplateError", "git", "git_top", "is_template_repo"]


class TemplateError(GymkitError):
    """The template cannot be found or used (not a git checkout, unknown version, copier failed)."""


def git(cwd: Path, *args: str, check: bool = True, strip: bool = True) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    if check and result.returncode != 0:
        raise TemplateError(f"git {' '.join(args)} failed in {cwd}: {result.stderr.strip() or result.returncode}")
    return result.stdout.strip() if strip else result.stdout


def git_top(folder: Path) -> Path | None:
    try:
        return Path(git(folder, "rev-parse", "--show-toplevel"))
    except (TemplateError, OSError):
        return None


def is_template_repo(root: Path) -> bool:
    top = git_top(root)
    return top is not None and top.resolve() == root.resolve()
