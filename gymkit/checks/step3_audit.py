"""Step 3 · Testing: the verifier audit.

GYM304 runs ``gymkit audit`` (adversarial responses sent to the server's ``/verify``) and fails
for each probe that earned reward it should not. It starts the server, so ``--no-reverify``,
which turns off the checks that start it, skips it too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from gymkit.checks.fixtures import Fixtures
from gymkit.checks.registry import Check, Finding, Skip, problem, register
from gymkit.errors import GymkitError

__all__ = ["GYM304"]

# The probe that reads verify's reward on the committed rollouts and fixtures: out of [0, 1] is gymkit's rule.
_RANGE = "GYM3A14"


@register
class GYM304(Check):
    """The verifier audit finds no reward hack (`gymkit audit NAME`)"""

    step = 3
    requires = frozenset({"GYM202", "GYM203"})
    slow = True

    @classmethod
    def prefetch(cls, fx: Fixtures) -> None:
        if fx.options.reverify:
            fx.audit  # noqa: B018 - computing the cached fixture is the point

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Run `gymkit audit NAME --show` and read each failing probe's response: verify paid reward for an
        answer that does not do the task. docs/audit.md says, per probe, how to fix the verifier. A probe that
        cannot apply to this task may be waived with a written reason (`gymkit: {waive: {GYM3A08: "why"}}`)."""
        if not fx.options.reverify:
            return Skip("the audit starts the server; turned off with --no-reverify")
        result = fx.audit
        if isinstance(result, GymkitError):
            return [problem(f"the audit could not run: {result.message}", "app.py")]
        problems = []
        for f in result.findings:
            if f.status == "fail":
                how = f" (`{f.reproduce}`)" if f.reproduce else ""
                if fx.gym == "nemo-gym" and f.code == _RANGE and f.reward is not None and math.isfinite(f.reward):
                    upstream = " (gymkit's [0, 1] rule; NeMo Gym allows any finite reward)"
                    problems.append(problem(f"{f.code} {f.probe}: {f.message}{how}{upstream}", "app.py", level="warn"))
                    continue
                problems.append(problem(f"{f.code} {f.probe}: {f.message}{how}", "app.py"))
        return problems
