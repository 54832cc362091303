"""Reports of a check run: text for people, JSON for tools, Markdown for PR comments,
and GitHub workflow annotations for the diff view.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Literal, assert_never

import typer

from gymkit.artifacts.check_report import CheckReport
from gymkit.findings.model import STEPS, Finding, ServerReport, Status

__all__ = ["FORMATS", "Format", "render", "summary_counts"]

Format = Literal["text", "json", "markdown", "github"]
FORMATS: tuple[Format, ...] = ("text", "json", "markdown", "github")


def summary_counts(reports: Sequence[ServerReport]) -> dict[str, int]:
    counts = dict.fromkeys((s.value for s in Status), 0)
    for report in reports:
        for finding in report.findings:
            counts[finding.status] += 1
    return counts


def _summary(reports: Sequence[ServerReport]) -> str:
    c = summary_counts(reports)
    waived = sum(1 for r in reports for f in r.findings if f.waived)
    servers = f"{len(reports)} server{'s' if len(reports) != 1 else ''}"
    warnings = f"{c['warn']} warning{'s' if c['warn'] != 1 else ''}"
    text = f"{servers}: {c['fail']} failed, {warnings}, {c['pass']} passed, {c['skip']} skipped"
    return text + (f" ({waived} waived)" if waived else "")


def _where(finding: Finding) -> str:
    # A message that already starts with its file ("data/x.jsonl is missing") needs no prefix.
    if not finding.file or finding.message.startswith(finding.file):
        return ""
    return f"{finding.where}: "


def _text(reports: Sequence[ServerReport]) -> str:
    out: list[str] = []
    for report in reports:
        out.append(typer.style(f"{report.name}", bold=True) + f"  {report.path}")
        for step, name in STEPS.items():
            findings = [f for f in report.findings if f.step == step]
            if not findings:
                continue
            status = report.step_status(step)
            out.append(typer.style(f" {status.mark} Step {step} · {name}", fg=status.colour, bold=True))
            for i, f in enumerate(findings):
                line = f"   {typer.style(f.status.mark, fg=f.status.colour)} {f.code} "
                line += f.title if f.status == "pass" else _where(f) + f.message
                if f.status == "pass" and f.message != f.title:
                    line += f" ({f.message})"  # a pass with a note, such as a report's earlier code hash
                out.append(line)
                last_of_code = i + 1 == len(findings) or findings[i + 1].code != f.code
                if f.waived:
                    out.append(typer.style(f"       waived: {f.waived}", fg="yellow"))
                elif f.status == "fail" and f.fix and last_of_code:
                    # One fix per check, after its last finding: five bad lines need one explanation.
                    fix = " ".join(f.fix.split())
                    out.append(typer.style(f"       fix: {fix}", fg="cyan"))
        out.append("")
    failed = any(r.failed for r in reports)
    out.append(typer.style(_summary(reports), fg="red" if failed else "green", bold=True))
    return "\n".join(out)


def _json(reports: Sequence[ServerReport]) -> str:
    return json.dumps(CheckReport.of(reports).body(), indent=2, ensure_ascii=False)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _markdown(reports: Sequence[ServerReport]) -> str:
    out: list[str] = []
    for report in reports:
        out += [f"### `{report.name}` ({report.path})", "", "| Step | | Result |", "|---|---|---|"]
        for step, name in STEPS.items():
            findings = [f for f in report.findings if f.step == step]
            counts = {s: sum(1 for f in findings if f.status == s) for s in Status.by_rank()}
            result = ", ".join(f"{n} {s if s != 'pass' else 'passed'}" for s, n in counts.items() if n) or "not run"
            out.append(f"| {step} · {name} | {report.step_status(step).emoji} | {result} |")
        notable = [f for f in report.findings if f.status.notable]
        if notable:
            out += ["", "| Code | Status | Where | Finding | How to fix |", "|---|---|---|---|---|"]
            for i, f in enumerate(notable):
                where = f"`{f.where}`" if f.where else ""
                repeated = i > 0 and notable[i - 1].code == f.code
                fix = f"waived: {f.waived}" if f.waived else "(as above)" if repeated else f.fix
                out.append(f"| {f.code} | {f.status.emoji} | {_cell(where)} | {_cell(f.message)} | {_cell(fix)} |")
        out.append("")
    out.append(f"**{_summary(reports)}**")
    return "\n".join(out)


def _escape(text: str, *, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def _github(reports: Sequence[ServerReport]) -> str:
    out: list[str] = []
    for report in reports:
        for f in report.findings:
            if not f.status.notable:
                continue
            level = "error" if f.status == "fail" else "warning"
            props = [f"file={_escape(report.path + '/' + (f.file or ''), prop=True).rstrip('/')}"]
            if f.line:
                props.append(f"line={f.line}")
            props.append(f"title={_escape(f'{f.code} {f.title}', prop=True)}")
            message = f.message + (f" (waived: {f.waived})" if f.waived else f"\n\nFix: {' '.join(f.fix.split())}")
            out.append(f"::{level} {','.join(props)}::{_escape(message)}")
    out.append(_summary(reports))
    return "\n".join(out)


def render(reports: Sequence[ServerReport], fmt: Format) -> str:
    match fmt:
        case "text":
            return _text(reports)
        case "json":
            return _json(reports)
        case "markdown":
            return _markdown(reports)
        case "github":
            return _github(reports)
        case _:
            assert_never(fmt)
