"""Every check of the checklist: importing the step modules registers their checks."""

from __future__ import annotations

from gymkit.checks import (  # noqa: F401 - imported for the checks they register
    step1_tasks,
    step2_implementation,
    step2_readme,
    step3_audit,
    step3_testing,
    step4_components,
    step4_rollouts,
    step5_profile,
    step6_training,
    step7_pr,
    step8_review,
)
from gymkit.checks.registry import Check, registered

__all__ = ["all_checks"]


def all_checks() -> list[type[Check]]:
    """Every registered check, by code (so by step)."""
    return registered()
