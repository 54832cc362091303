"""The result of ``gymkit test NAME``, kept where ``gymkit check`` reads it: evidence tied to the code it tested.

The stamp lives in ``.gymkit-cache/tests/NAME.json`` at the gym's root, which git ignores:
a local run is no evidence for a pull request, so CI runs the tests itself, then the
checklist, in one job. A stamp counts only for the code it was made from: the server's
code hash of :mod:`gymkit.hashing` plus its tests, test configuration and data rows, which
the stages also read (:func:`gymkit.hashing.is_test_or_data`). So every file of the server
counts but its README, the template's answers, the reports gymkit writes and caches.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gymkit import __version__
from gymkit.artifacts.io import read_artifact, write_artifact
from gymkit.artifacts.stamp import StageRecord, StageStatus, TestStampFile
from gymkit.errors import InvalidDataError
from gymkit.hashing import (
    code_digests,
    file_sha256,
    hashed_files,
    is_test_or_data,
    local_requirement_files,
    server_code_sha256,
)
from gymkit.project import SERVERS_DIR
from gymkit.testing.environment import CACHE_DIR

__all__ = [
    "SCHEMA_VERSION",
    "StageResult",
    "TestStamp",
    "changed_files",
    "code_fingerprint",
    "fingerprint_digests",
    "gym_root",
    "read_stamp",
    "stamp_path",
    "write_stamp",
]

SCHEMA_VERSION = TestStampFile.SCHEMA_VERSION
STAGES = ("environment", "tests", "smoke", "data")
_CODE = "(server code)"  # the server code hash, kept with the per-file hashes


def gym_root(server_dir: Path) -> Path:
    """The gym a server belongs to (above resources_servers/), or the server's own folder outside one."""
    server_dir = server_dir.resolve()
    return server_dir.parent.parent if server_dir.parent.name == SERVERS_DIR else server_dir


def stamp_path(server_dir: Path) -> Path:
    return gym_root(server_dir) / CACHE_DIR / "tests" / f"{server_dir.resolve().name}.json"


def _files(server_dir: Path) -> dict[str, str]:
    server_dir = server_dir.resolve()
    found = {rel.as_posix(): file_sha256(server_dir / rel) for rel in hashed_files(server_dir)}
    for path in local_requirement_files(server_dir):
        if not path.is_relative_to(server_dir):
            # Part of the code hash; listed so that a change there is named, not shown as configs/.
            found[os.path.relpath(path, server_dir)] = file_sha256(path)
    return found


def code_fingerprint(server_dir: Path) -> tuple[str, dict[str, str]]:
    """(one hash, per-file hashes) of what the stages' outcome depends on.

    The hash is the reward profiles' server code hash (every file but prose, gymkit's reports
    and caches, with configs less comments and waivers) plus the tests, pytest configuration
    and data rows, which the tests and the data stage read. The per-file hashes only say
    which files changed since a stamp; the configs are left out of them, as their bytes
    change with comments that decide nothing.
    """
    files = _files(server_dir)
    code = server_code_sha256(server_dir)
    return _fingerprint(code, files), _shown(code, files)


def fingerprint_digests(server_dir: Path) -> tuple[tuple[str, ...], dict[str, str]]:
    """(the fingerprint under each of gymkit's code-hash schemes, current first; the per-file hashes).

    A stamp that records any of them was made from this code (:func:`gymkit.hashing.code_digests`).
    """
    files = _files(server_dir)
    codes = code_digests(server_dir)
    return tuple(_fingerprint(code, files) for code in codes), _shown(codes[0], files)


def _fingerprint(code: str, files: dict[str, str]) -> str:
    digest = hashlib.sha256(code.encode())
    for rel, sha in files.items():
        if is_test_or_data(rel):
            digest.update(f"\0{rel}\0{sha}".encode())
    return digest.hexdigest()


def _shown(code: str, files: dict[str, str]) -> dict[str, str]:
    shown = {rel: sha for rel, sha in files.items() if not rel.startswith("configs/")}
    return {**shown, _CODE: code}


def changed_files(recorded: dict[str, str], now: dict[str, str]) -> list[str]:
    """The files that differ; ``configs/`` when only the server code hash says what changed."""
    changed = sorted(rel for rel in recorded.keys() | now.keys() if recorded.get(rel) != now.get(rel))
    if _CODE not in changed:
        return changed
    named = [rel for rel in changed if rel != _CODE]
    code_files = [rel for rel in named if not is_test_or_data(rel)]
    return named if code_files else [*named, "configs/"]


@dataclass
class StageResult:
    status: StageStatus = "not run"
    seconds: float = 0.0
    detail: str = ""
    counts: dict[str, int] | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "seconds": round(self.seconds, 3)}
        if self.detail:
            body["detail"] = self.detail
        if self.counts is not None:
            body["counts"] = self.counts
        return body


@dataclass
class TestStamp:
    server: str
    code_sha256: str
    files: dict[str, str]
    stages: dict[str, StageResult] = field(default_factory=lambda: {name: StageResult() for name in STAGES})
    duration_seconds: float = 0.0
    created_at: str = ""
    gymkit_version: str = __version__

    __test__ = False  # not a pytest test class, whatever its name says

    @property
    def passed(self) -> bool:
        return all(stage.status == "passed" for stage in self.stages.values())

    def failures(self) -> list[str]:
        """``tests (1 failed, 2 passed)``, ``smoke``: the stages that did not pass, with the tests' counts."""
        out = []
        for name, stage in self.stages.items():
            if stage.status == "passed":
                continue
            text = name if stage.status == "failed" else f"{name} (not run)"
            if stage.counts:
                counts = ", ".join(f"{n} {what}" for what, n in stage.counts.items() if n)
                text = f"{name} ({counts or 'no tests ran'})"
            out.append(text)
        return out

    def to_file(self) -> TestStampFile:
        return TestStampFile(
            server=self.server,
            passed=self.passed,
            created_at=self.created_at,
            duration_seconds=round(self.duration_seconds, 3),
            gymkit_version=self.gymkit_version,
            code_sha256=self.code_sha256,
            stages={name: StageRecord.model_validate(stage.to_json()) for name, stage in self.stages.items()},
            files=self.files,
        )

    @classmethod
    def from_file(cls, data: TestStampFile) -> TestStamp:
        stages = {name: StageResult(s.status, s.seconds, s.detail, s.counts) for name, s in data.stages.items()}
        return cls(
            data.server,
            data.code_sha256,
            data.files,
            stages,
            data.duration_seconds,
            data.created_at,
            data.gymkit_version,
        )


def write_stamp(server_dir: Path, stamp: TestStamp) -> Path:
    """Write atomically, so ``gymkit check`` never reads half a stamp."""
    stamp.created_at = stamp.created_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = stamp_path(server_dir)
    cache = path.parent.parent
    cache.mkdir(parents=True, exist_ok=True)
    if not (cache / ".gitignore").exists():
        # A gym whose own .gitignore does not name the cache still never commits it.
        (cache / ".gitignore").write_text("# written by gymkit: local results, not evidence for a PR\n*\n")
    write_artifact(path, stamp.to_file())
    return path


def read_stamp(server_dir: Path) -> tuple[TestStamp | None, str | None]:
    """(stamp, None), (None, why it is unusable), or (None, None) when there is none."""
    path = stamp_path(server_dir)
    if not path.is_file():
        return None, None
    try:
        data = read_artifact(path, TestStampFile)
    except InvalidDataError as exc:
        return None, f"{path.name}: {exc.problem}"
    return TestStamp.from_file(data), None
