"""Step 7 · PR information.

GYM701 the PR description `gymkit pr-body NAME` renders has every required section filled.
"""

from __future__ import annotations

from collections.abc import Iterable

from gymkit.checks.fixtures import Fixtures
from gymkit.checks.registry import Check, Finding, Skip, problem, register
from gymkit.prbody import check_pr_body, render_pr_body

__all__ = ["GYM701"]


@register
class GYM701(Check):
    """The PR description renders with every required section filled"""

    step = 7
    requires = frozenset({"GYM202", "GYM210"})

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """`gymkit pr-body NAME` fills the PR description from README.md, the config and the reports.
        Fill the README section it names (for synthetic data, a `Synthetic data: ...` line naming the
        models used, or `None`), then paste the output into the PR. In a NeMo Gym checkout this warns:
        upstream's environment guide asks for these items in the pull request's own text, not in the
        README, and a server already merged has no pull request left to check."""
        problems = check_pr_body(render_pr_body(fx.paths))
        if fx.gym == "nemo-gym":
            return [problem(f"PR description: {p.message} ({_UPSTREAM})", "README.md", level="warn") for p in problems]
        return [problem(f"PR description: {p.message}", "README.md") for p in problems]


_UPSTREAM = "gymkit's rule; NeMo Gym asks for these in the pull request's text, which gymkit fills from the README"
