"""The contribution checklist as code: one registry of checks grouped by the eight steps.

``run_checks(folder)`` returns a :class:`ServerReport`; ``render(reports, fmt)`` prints it
as text, JSON, Markdown or GitHub workflow annotations.
"""

from __future__ import annotations

from gymkit.checks.catalog import all_checks
from gymkit.checks.fixtures import CheckOptions, Fixtures
from gymkit.checks.registry import STEPS, Check, Finding, Skip, problem
from gymkit.checks.runner import ServerReport, is_selected, run_checks

__all__ = [
    "STEPS",
    "Check",
    "CheckOptions",
    "Finding",
    "Fixtures",
    "ServerReport",
    "Skip",
    "all_checks",
    "is_selected",
    "problem",
    "run_checks",
]
