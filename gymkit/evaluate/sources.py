"""Which rollout files a command-line target means: a file, or a server's rollouts."""

from __future__ import annotations

from pathlib import Path

from gymkit.errors import UserError
from gymkit.project import resolve_server

__all__ = ["rollout_files"]


def _server_files(target: str) -> list[Path]:
    paths = resolve_server(target)
    collection = paths.reward_profile / "collection"
    found = [paths.example_rollouts] if paths.example_rollouts.is_file() else []
    if collection.is_dir():
        found += sorted(p for p in collection.glob("rollouts_*.jsonl") if not p.stem.endswith("_failures"))
    if not found:
        raise UserError(
            f"{paths.name} has no rollouts yet (data/example_rollouts.jsonl, reports/reward_profile/collection/)",
            hint=f"gymkit rollouts {paths.name}",
        )
    return found


def rollout_files(targets: list[str]) -> list[Path]:
    """Each target as a rollouts file, or as a server name: its example rollouts and profile collection."""
    files: list[Path] = []
    for target in targets:
        path = Path(target)
        if path.is_file():
            files.append(path)
        elif path.suffix == ".jsonl":
            raise UserError(f"{target}: no such file")
        else:
            files += _server_files(target)
    return list(dict.fromkeys(files))
