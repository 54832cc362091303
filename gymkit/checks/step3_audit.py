"""Step 3 · Testing: the verifier audit.

GYM304 runs ``gymkit audit`` (adversarial responses sent to the server's ``/verify``) and fails
for each probe that earned reward it should not. It starts the server, so ``--no-reverify``,
which turns off the checks that start it, skips it too. In a NeMo Gym checkout the audit is a
rule of gymkit's own, so what it finds warns there, saying so, except what fails upstream as well.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from gymkit.checks.elsewhere import elsewhere_warning, service_warning
from gymkit.checks.fixtures import GYMNASIUM_SKIP, JUDGE_SKIP, Fixtures
from gymkit.checks.registry import Check, Finding, Skip, problem, register
from gymkit.errors import GymkitError

if TYPE_CHECKING:
    from gymkit.audit.report import AuditFinding

__all__ = ["GYM304"]

# In a NeMo Gym checkout the audit is gymkit's own rule (upstream has no verifier audit): what it finds
# warns there. What breaks things upstream too fails still: verify answering a well-formed response
# with no usable reward (an error, or no finite number), which crashes a rollout; and a case of the
# server's own verifier fixture, or a stored rollout, whose reward verify does not give again, as
# GYM404 fails it.
_RANGE = "GYM3A14"
_FIXTURE = "GYM3A16"
_GYMKIT_RULE = " (gymkit's verifier audit, a rule of gymkit's own: NeMo Gym has no such check)"
_RANGE_RULE = " (gymkit's [0, 1] rule; NeMo Gym allows any finite reward)"


def _upstream_note(finding: AuditFinding) -> str | None:
    """Why this failure only warns in a NeMo Gym checkout, or None when it fails there too."""
    if finding.code == _FIXTURE:
        return None
    if finding.code == _RANGE:
        finite = finding.reward is not None and math.isfinite(finding.reward)
        return _RANGE_RULE if finite else None
    return _GYMKIT_RULE


def _only_warns(fx: Fixtures, finding: AuditFinding) -> bool:
    """A failure of gymkit's own rules, which in a NeMo Gym checkout is a warning (see _upstream_note)."""
    return fx.gym == "nemo-gym" and _upstream_note(finding) is not None


@register
class GYM304(Check):
    """The verifier audit finds no reward hack (`gymkit audit NAME`)"""

    step = 3
    requires = frozenset({"GYM202", "GYM203"})
    slow = True

    @classmethod
    def prefetch(cls, fx: Fixtures) -> None:
        if fx.options.reverify and not fx.gymnasium:
            fx.audit  # noqa: B018 - computing the cached fixture is the point

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Run `gymkit audit NAME --show` and read each failing probe's response: verify paid reward for an
        answer that does not do the task. docs/audit.md says, per probe, how to fix the verifier. A probe that
        cannot apply to this task may be waived with a written reason (`gymkit: {waive: {GYM3A08: "why"}}`)."""
        if fx.gymnasium:
            return Skip(GYMNASIUM_SKIP.format(what="the audit's /seed_session and /verify"))
        if not fx.options.reverify:
            return Skip("the audit starts the server; turned off with --no-reverify")
        result = fx.audit
        # A probe's reward may be the judge's to give: without it nothing here says which.
        judge_skip = Skip(JUDGE_SKIP.format(models=fx.judge_models, what="the audit")) if fx.judge_models else None
        if isinstance(result, GymkitError):
            failed = [problem(f"the audit could not run: {result.message}", "app.py")]
            found = elsewhere_warning(fx, "the audit", [result.message])
            return judge_skip or found or service_warning(fx, "the server", [result.message], ()) or failed
        failures = [f for f in result.findings if f.status == "fail"]
        failing = [f for f in failures if not _only_warns(fx, f)]
        messages = [f"{f.code} {f.probe}: {f.message}" for f in failing]
        absent = service_warning(fx, "verify", messages, (f.reward for f in failing))
        problems: list[Finding | list[AuditFinding]] = []
        warned: dict[str, list[AuditFinding]] = {}
        for f in failures:
            if _only_warns(fx, f):
                if f.code not in warned:
                    problems.append(warned.setdefault(f.code, []))
                warned[f.code].append(f)
            elif not absent:
                # The audit's message ends with the command that reproduces it.
                problems.append(problem(f"{f.code} {f.probe}: {f.message}", "app.py"))
        # The audit's own warnings (a stored rollout that cannot serve as a gold answer), one per probe;
        # a waived failure stays quiet here, as before.
        for f in result.findings:
            if f.status == "warn" and not f.waived:
                if f.code not in warned:
                    problems.append(warned.setdefault(f.code, []))
                warned[f.code].append(f)
        # Failures a service absent here explains are one warning; the audit's other findings still stand.
        found = (absent or []) + [p if isinstance(p, Finding) else _warning(fx.paths.name, p) for p in problems]
        if judge_skip and any(f.status == "fail" for f in found):
            return judge_skip
        return found


def _warning(name: str, findings: list[AuditFinding]) -> Finding:
    """One warning per probe: an example server whose verify pays for anything has one finding per probe and
    row, eighty lines that say one thing about a rule upstream does not have."""
    first = findings[0]
    more = ""
    if len(findings) > 1:
        more = f"; {len(findings) - 1} more like it (`gymkit audit {name} --probe {first.probe}` lists them)"
    note = _upstream_note(first) or ""
    return problem(f"{first.code} {first.probe}: {first.message}{more}{note}", "app.py", level="warn")
