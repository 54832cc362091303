"""The registry of checks: a check is a small class whose docstrings are its user interface.

Class name = code (``GYM201``: step 2, check 01), class docstring = one-line title, the
``check`` method's docstring = the how-to-fix text shown with a failure.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from gymkit.findings.model import STEPS, Finding, problem

if TYPE_CHECKING:
    from gymkit.checks.fixtures import Fixtures

__all__ = ["STEPS", "Check", "Finding", "Skip", "problem", "register", "registered"]


@dataclass(frozen=True)
class Skip:
    """Returned by a check whose input is absent or failed an earlier check."""

    reason: str


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

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
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


def registered() -> list[type[Check]]:
    """The checks registered so far, by code; :func:`gymkit.checks.catalog.all_checks` registers them all."""
    return [_REGISTRY[code] for code in sorted(_REGISTRY)]
