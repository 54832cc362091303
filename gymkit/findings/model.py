"""The one vocabulary of gymkit's reports: a status, a finding, and one server's findings.

A status carries its rank, mark, emoji and colours here and nowhere else, so the text,
JSON, Markdown, GitHub, HTML and reproduction renderers cannot disagree on what "warn"
looks like or whether it outranks "pass". A finding is frozen: a waiver makes a new one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal, NamedTuple, Self

__all__ = ["STEPS", "Finding", "ServerReport", "Status", "problem"]

# The contribution guide's eight steps, in its words.
STEPS: dict[int, str] = {
    1: "Curate tasks",
    2: "Implementation",
    3: "Testing",
    4: "Example rollouts",
    5: "Reward profiling",
    6: "Training validation",
    7: "PR information",
    8: "Review and reproduction",
}


class _Look(NamedTuple):
    rank: int
    mark: str
    emoji: str
    colour: str  # a terminal colour name (typer/click)
    html: str  # a CSS colour


class Status(StrEnum):
    """pass, fail, warn or skip; a str, so ``status == "fail"`` and JSON keep working."""

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"

    @property
    def rank(self) -> int:
        """fail 3 > warn 2 > pass 1 > skip 0: a step shows its worst finding."""
        return _LOOKS[self].rank

    @property
    def mark(self) -> str:
        return _LOOKS[self].mark

    @property
    def emoji(self) -> str:
        return _LOOKS[self].emoji

    @property
    def colour(self) -> str:
        return _LOOKS[self].colour

    @property
    def html_colour(self) -> str:
        return _LOOKS[self].html

    @property
    def word(self) -> str:
        return self.value.upper()

    @property
    def notable(self) -> bool:
        """A finding a reader must look at: a failure or a warning."""
        return self in (Status.FAIL, Status.WARN)

    @classmethod
    def by_rank(cls) -> list[Status]:
        """Worst first: the order reports count and list statuses in."""
        return sorted(cls, key=lambda s: -s.rank)

    @classmethod
    def worst(cls, statuses: Iterable[str], default: Status | None = None) -> Status:
        """The highest-ranked of ``statuses``; ``default`` (skip) when there are none."""
        found = [cls(s) for s in statuses]
        return max(found, key=lambda s: s.rank) if found else (default or cls.SKIP)


_LOOKS = {
    Status.FAIL: _Look(3, "✗", "❌", "red", "#c0392b"),
    Status.WARN: _Look(2, "!", "⚠️", "yellow", "#c58a00"),
    Status.PASS: _Look(1, "✓", "✅", "green", "#1f8a4c"),
    Status.SKIP: _Look(0, "-", "⏭️", "bright_black", "#8a8a8f"),
}


@dataclass(frozen=True)
class Finding:
    """One result of a check: where (``file``, ``line``), what, and how to fix it."""

    code: str
    step: int
    status: Status
    message: str
    title: str = ""
    fix: str = ""
    file: str | None = None
    line: int | None = None
    waived: str | None = None

    def __post_init__(self) -> None:
        # Producers may pass "fail"; every finding holds a Status all the same.
        object.__setattr__(self, "status", Status(self.status))

    @property
    def where(self) -> str:
        """``file:line``, ``file`` or ``""``."""
        if not self.file:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file

    def waive(self, reason: str) -> Self:
        """This finding under a written waiver: a failure or warning becomes a warning that says why."""
        if not self.status.notable:
            return self
        return replace(self, status=Status.WARN, waived=reason)

    def to_json(self) -> dict[str, Any]:
        """The finding as the JSON report carries it: empty optional keys left out."""
        data = {k: v for k, v in asdict(self).items() if v not in (None, "")}
        data["status"] = self.status.value
        return data


def problem(
    message: str, file: str | None = None, line: int | None = None, level: Literal["fail", "warn"] = "fail"
) -> Finding:
    """What a check returns for one thing wrong; the runner fills in its code, step, title and fix."""
    return Finding("", 0, Status(level), message, file=file, line=line)


@dataclass
class ServerReport:
    name: str
    path: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(f.status == Status.FAIL for f in self.findings)

    def step_status(self, step: int) -> Status:
        """The worst status of a step's findings (skip when it has none)."""
        return Status.worst(f.status for f in self.findings if f.step == step)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "findings": [f.to_json() for f in self.findings]}
