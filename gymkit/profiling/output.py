"""Write a report folder so that a reader sees the old report or the new one, never a mix."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from gymkit.artifacts.io import artifact_bytes
from gymkit.artifacts.profile import RewardProfile
from gymkit.errors import InvalidDataError, UserError
from gymkit.inputs import read_json
from gymkit.jsonl import dumps
from gymkit.profiling.markdown import profile_markdown
from gymkit.profiling.report import Profile

__all__ = ["PROFILE_JSON", "PROFILE_MD", "write_profile", "write_report_folder"]

PROFILE_JSON = "reward_profile.json"
PROFILE_MD = "reward_profile.md"

_STAGING = ".staging-"


def write_report_folder(folder: Path, files: Mapping[str, bytes | Iterable[bytes]], main: str) -> None:
    """Stage every file in a hidden folder, then move them into ``folder`` with ``main`` last.

    Nothing in ``folder`` changes until every file is fully written, so a crash while
    rendering leaves the previous report untouched. ``main`` (the JSON the checks read) moves
    last, so once it is new, everything it names is new too. Files named by the previous
    ``main`` that the new report no longer has (a plot for a model dropped since) are removed.
    """
    try:
        _replace_files(folder, files, main)
    except OSError as exc:
        raise UserError(f"{folder}: cannot write the report: {exc.strerror or exc}") from None


def _replace_files(folder: Path, files: Mapping[str, bytes | Iterable[bytes]], main: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for leftover in folder.glob(f"{_STAGING}*"):  # from a run that was killed mid-write
        shutil.rmtree(leftover, ignore_errors=True)
    previous = _listed_files(folder / main)
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=_STAGING))
    try:
        for name, data in files.items():
            with (staging / name).open("wb") as handle:
                for chunk in (data,) if isinstance(data, bytes) else data:
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
        for name in sorted(files, key=lambda n: n == main):
            os.replace(staging / name, folder / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for name in previous - set(files):
        if "/" not in name and not name.startswith("."):
            (folder / name).unlink(missing_ok=True)


def _listed_files(main: Path) -> set[str]:
    # Whatever the previous report was (any version, broken, a FIFO a checkout put there), a new
    # one replaces it: read under the bounds of a committed file, and forget what does not parse.
    try:
        listed = read_json(main).get("files", [])
    except (InvalidDataError, AttributeError):
        return set()
    return {name for name in listed if isinstance(name, str)}


def write_profile(profile: Profile, folder: Path, *, plots: bool = True) -> list[str]:
    """Render the JSON, Markdown, per-task rows and plots of ``profile`` into ``folder``."""
    from gymkit.profiling.plots import profile_plots  # matplotlib loads only when plotting

    files: dict[str, bytes | Iterable[bytes]] = {}
    if plots:
        files |= profile_plots(profile.report, profile.plot_data)
    files["per_task.jsonl"] = (dumps(row) + b"\n" for rows in profile.per_task for row in rows)
    files[PROFILE_MD] = profile_markdown(profile.report).encode()
    report = RewardProfile.model_validate(profile.report | {"files": sorted([*files, PROFILE_JSON])})
    files[PROFILE_JSON] = artifact_bytes(report)
    write_report_folder(folder, files, PROFILE_JSON)
    return sorted(files)
