"""``.gymkit-cache/tests/NAME.json``: the result of ``gymkit test NAME`` and the code it tested."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from gymkit.artifacts.io import Artifact

__all__ = ["StageRecord", "StageStatus", "TestStampFile"]

StageStatus = Literal["passed", "failed", "not run"]


class StageRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: StageStatus
    seconds: float = 0.0
    detail: str = ""  # absent when empty
    counts: dict[str, int] | None = None  # pytest's outcome counts, for the tests stage


class TestStampFile(Artifact):
    SCHEMA_NAME: ClassVar[str] = "test_stamp"
    __test__ = False  # not a pytest test class, whatever its name says

    server: str
    passed: bool = Field(description="Every stage passed; recomputed from the stages when read.")
    created_at: str = ""
    duration_seconds: float = 0.0
    gymkit_version: str = ""
    code_sha256: str
    stages: dict[str, StageRecord]
    # Per-file hashes: they only name what changed since the stamp; code_sha256 decides.
    files: dict[str, str] = {}
