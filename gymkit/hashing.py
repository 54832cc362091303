"""Content hashes that let a report say what it was computed from, so a check can tell stale from fresh."""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["file_sha256", "server_code_sha256"]

# What decides a reward: the code, its pinned dependencies, and the config. Data, reports,
# docs and tests do not, so editing them must not make a reward profile stale.
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


def server_code_sha256(server_dir: Path) -> str:
    """One hash over the server's Python files, requirements.txt and configs/ (paths and bytes)."""
    digest = hashlib.sha256()
    for path in _code_files(server_dir):
        digest.update(path.relative_to(server_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()
