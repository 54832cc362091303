"""The reproduction report: each stage, then the eight steps as a table."""

from __future__ import annotations

import typer

from gymkit.checks.registry import STEPS
from gymkit.checks.render import render
from gymkit.checks.reproduce import ReproduceReport

__all__ = ["render_reproduce"]

_STYLE = {
    "pass": ("PASS", "green"),
    "fail": ("FAIL", "red"),
    "warn": ("WARN", "yellow"),
    "skip": ("SKIP", "bright_black"),
}


def _step_status(report: ReproduceReport, step: int) -> str:
    """Step 8 is the review itself: its row also counts the stages run above."""
    status = report.checks.step_status(step)
    if step != 8:
        return status
    stages = {s.status for s in report.stages if s.required} | {
        "warn" for s in report.stages if not s.required and s.status == "warn"
    }
    return next((s for s in ("fail", "warn") if s in stages | {status}), status)


def render_reproduce(report: ReproduceReport) -> str:
    out = [typer.style(f"Reproducing {report.checks.name} ({report.checks.path})", bold=True), ""]
    for stage in report.stages:
        word, colour = _STYLE[stage.status]
        optional = "" if stage.required else " (informational)"
        out.append(f"{typer.style(word, fg=colour, bold=True)}  {stage.name}{optional}: {stage.summary}")
        out += [f"        {line}" for line in stage.details if line]
    out += ["", render([report.checks], "text"), "", typer.style("Checklist", bold=True)]
    width = max(len(name) for name in STEPS.values()) + 4
    for step, name in STEPS.items():
        word, colour = _STYLE[_step_status(report, step)]
        out.append(f"  {step}  {name:<{width}} {typer.style(word, fg=colour, bold=True)}")
    verdict = "FAILED" if report.failed else "REPRODUCED"
    out += ["", typer.style(verdict, fg="red" if report.failed else "green", bold=True)]
    return "\n".join(out)
