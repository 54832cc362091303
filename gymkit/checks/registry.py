"""The registry of checks: a check is a small class whose docstrings are its user interface.

Class name = code (``GYM201``: step 2, check 01), class docstring = one-line title, the
``check`` method's docstring = the how-to-fix text shown with a failure.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    from gymkit.checks.fixtures import Fixtures

__all__ = [
    "STEPS",
    "Check",
    "Finding",
    "Problem",
    "Skip",
    "Status",
    "all_checks",
    "register",
]

Status = Literal["pass", "fail", "warn", "skip"]

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


@dataclass(frozen=True)
class Problem:
    """One thing wrong, found by a check; ``warn`` problems do not fail the run."""

    message: str
    file: str | None = None
    line: int | None = None
    level: Literal["fail", "warn"] = "fail"


@dataclass(frozen=True)
class Skip:
    """Returned by a check whose input is absent or failed an earlier check."""

    reason: str


@dataclass
class Finding:
    code: str
    step: int
    status: Status
    message: str
    title: str = ""
    fix: str = ""
    file: str | None = None
    line: int | None = None
    waived: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The finding as the JSON report carries it: empty optional keys left out."""
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}


class Check:
    """Subclass with the code as class name; set ``step`` and override :meth:`check`."""

    step: ClassVar[int]
    requires: ClassVar[frozenset[str]] = frozenset()
    # Expensive checks (a child process, a server) can be turned off together.
    slow: ClassVar[bool] = False

    @classmethod
    def code(cls) -> str:
        return cls.__name__

    @classmethod
    def title(cls) -> str:
        return (inspect.getdoc(cls) or "").strip()

    @classmethod
    def fix(cls) -> str:
        return inspect.getdoc(cls.check) or ""

    def check(self, fx: Fixtures) -> Iterable[Problem] | Skip:
        raise NotImplementedError

    @classmethod
    def prefetch(cls, fx: Fixtures) -> None:
        """Slow checks compute their fixture here; the runner calls these concurrently."""


_REGISTRY: dict[str, type[Check]] = {}


def register(cls: type[Check]) -> type[Check]:
    code = cls.__name__
    if not (code.startswith("GYM") and len(code) == 6 and code[3:].isdigit()):
        raise ValueError(f"check class names are codes like GYM201, got {code}")
    if int(code[3]) != cls.step:
        raise ValueError(f"{code} must belong to step {code[3]}, not {cls.step}")
    if not cls.__doc__ or not inspect.getdoc(cls.check):
        raise ValueError(f"{code} needs a title (class docstring) and a fix (check docstring)")
    _REGISTRY[code] = cls
    return cls


def all_checks() -> list[type[Check]]:
    """Every registered check, by code (so by step)."""
    # Importing the step modules registers their checks.
    from gymkit.checks import (  # noqa: F401
        step1_tasks,
        step2_implementation,
        step2_readme,
        step3_audit,
        step3_testing,
        step4_rollouts,
        step5_profile,
        step6_training,
        step7_pr,
        step8_review,
    )

    return [_REGISTRY[code] for code in sorted(_REGISTRY)]
