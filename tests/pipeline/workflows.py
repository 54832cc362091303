"""Loading the repository's workflow files for the pipeline tests."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

__all__ = ["REPO", "WORKFLOWS", "load", "steps", "tool"]

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(job id, step) for every step of every job."""
    return [(job_id, step) for job_id, job in workflow["jobs"].items() for step in job.get("steps", [])]


def tool(name: str) -> str:
    """A command installed beside the running Python (the dev extra), else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise AssertionError(f"{name} is not installed; run: pip install -e '.[dev]'")
    return found
