"""``gymkit check --format json`` (and ``gymkit audit --format json``): the findings of a run.

The pull request's comment script reads it in CI without gymkit, so the keys and their order
are a contract: the JSON renderer writes this model's dump and nothing else. An optional key
is absent, not empty, when a finding has no value for it. Reports written before
``schema_version`` was added lack it and read as version 1; the comment script reads only
``servers``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from gymkit.artifacts.io import Artifact
from gymkit.findings.model import STEPS, ServerReport, Status

__all__ = ["CheckReport", "ReportedFinding", "ReportedServer"]


class ReportedFinding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, description="The check's code, e.g. GYM214 (GYM3A01... for audit probes).")
    step: int = Field(ge=1, le=len(STEPS), description="The contribution guide's step, 1-8.")
    status: Status
    message: str = ""
    title: str = ""
    fix: str = Field(default="", description="Markdown: how to make the check pass.")
    file: str | None = Field(default=None, description="Relative to the server folder.")
    line: int | None = None
    waived: str | None = Field(default=None, description="The written reason of the waiver that made it a warning.")
    # What reproduces an audit probe's finding (gymkit audit only).
    probe: str | None = None
    row: int | None = Field(default=None, description="0-based row of data/example.jsonl.")
    reward: float | None = None
    reproduce: str | None = Field(default=None, description="The command that sends the probe again.")
    response: dict[str, Any] | None = Field(default=None, description="The response sent, long texts cut.")


class ReportedServer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    path: str = Field(description="The server folder, relative to the repository when inside it.")
    findings: list[ReportedFinding]


class CheckReport(Artifact):
    SCHEMA_NAME: ClassVar[str] = "check_report"

    servers: list[ReportedServer]

    @classmethod
    def of(cls, reports: Sequence[ServerReport]) -> CheckReport:
        """The report of ``reports``; each finding keeps exactly the keys its ``to_json`` gives."""
        return cls.model_validate({"servers": [r.to_json() for r in reports]})

    def body(self) -> dict[str, Any]:
        """The document as written: ``schema_version`` first, then the keys each finding set, in the model's order."""
        return {
            "schema_version": self.schema_version,
            **self.model_dump(exclude_unset=True, exclude={"schema_version"}),
        }
