"""The reproduction report: each stage, then the eight steps as a table."""

from __future__ import annotations

import typer

from gymkit.findings import STEPS, Status
from gymkit.findings.render import render
from gymkit.review.reproduce import ReproduceReport

__all__ = ["render_reproduce"]


def _step_status(report: ReproduceReport, step: int) -> Status:
    """Step 8 is the review itself: its row also counts the stages run above."""
    status = report.checks.step_status(step)
    if step != 8:
        return status
    # A required stage's failure or warning counts; an informational one only warns.
    stages = [s.status if s.required else Status.WARN for s in report.stages if s.status.notable]
    return Status.worst([status, *stages])


def render_reproduce(report: ReproduceReport) -> str:
    out = [typer.style(f"Reproducing {report.checks.name} ({report.checks.path})", bold=True), ""]
    for stage in report.stages:
        optional = "" if stage.required else " (informational)"
        word = typer.style(stage.status.word, fg=stage.status.colour, bold=True)
        out.append(f"{word}  {stage.name}{optional}: {stage.summary}")
        out += [f"        {line}" for line in stage.details if line]
    out += ["", render([report.checks], "text"), "", typer.style("Checklist", bold=True)]
    width = max(len(name) for name in STEPS.values()) + 4
    for step, name in STEPS.items():
        status = _step_status(report, step)
        out.append(f"  {step}  {name:<{width}} {typer.style(status.word, fg=status.colour, bold=True)}")
    verdict = "FAILED" if report.failed else "REPRODUCED"
    out += ["", typer.style(verdict, fg="red" if report.failed else "green", bold=True)]
    return "\n".join(out)
