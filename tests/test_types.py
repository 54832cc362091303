"""The package type-checks: mypy --strict over gymkit, as pyproject.toml's [tool.mypy] sets it up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import get_type_hints

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow  # a minute or two on a first run; mypy's cache (.mypy_cache) makes later ones quick
def test_mypy_strict_passes() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=1200, check=False
    )
    assert done.returncode == 0, f"mypy exited {done.returncode}:\n{done.stdout}{done.stderr}"


def test_the_root_group_is_handed_typers_own_context() -> None:
    """typer bundles its own click (typer._click): the Context GymkitGroup.invoke names is the one typer passes."""
    from typer.core import TyperGroup

    from gymkit.cli._errors import GymkitGroup

    assert get_type_hints(GymkitGroup.invoke)["ctx"] is get_type_hints(TyperGroup.invoke)["ctx"]
