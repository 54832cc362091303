"""Content hashes that let a report say what it was computed from, so a check can tell stale from fresh."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

__all__ = ["file_sha256", "server_code_sha256"]

# What decides a reward: the code, its pinned dependencies, and the config. Data, reports,
# docs and tests do not, so editing them must not make a reward profile stale. Nor do the
# config's comments and its `gymkit:` blocks (waivers with their reasons): those are about the
# checklist, and rewording a waiver must not cost a new profile.
_SKIP_DIRS = {"data", "reports", "tests", "__pycache__", ".venv", ".nox", ".pytest_cache"}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _code_files(server_dir: Path) -> list[Path]:
    files = []
    for path in server_dir.rglob("*"):
        rel = path.relative_to(server_dir)
        wanted = path.suffix == ".py" or path.name == "requirements.txt" or rel.parts[0] == "configs"
        if wanted and path.is_file() and not _SKIP_DIRS.intersection(rel.parts[:-1]):
            files.append(path)
    return sorted(files)


def _without_gymkit(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _without_gymkit(value) for key, value in node.items() if key != "gymkit"}
    if isinstance(node, list):
        return [_without_gymkit(value) for value in node]
    return node


def _hashed_bytes(path: Path, rel: Path) -> bytes:
    data = path.read_bytes()
    if rel.parts[0] != "configs" or path.suffix not in (".yaml", ".yml"):
        return data
    try:
        config = yaml.safe_load(data)
    except yaml.YAMLError:
        return data  # a broken config fails its own check; its bytes still say when it changes
    return json.dumps(_without_gymkit(config), sort_keys=True, default=str).encode()


def server_code_sha256(server_dir: Path) -> str:
    """One hash over the server's Python files, requirements.txt and configs/ (paths and content).

    A config counts by what it says, less comments and `gymkit:` blocks; other files by their bytes.
    """
    digest = hashlib.sha256()
    for path in _code_files(server_dir):
        rel = path.relative_to(server_dir)
        digest.update(rel.as_posix().encode() + b"\0")
        digest.update(_hashed_bytes(path, rel) + b"\0")
    return digest.hexdigest()
