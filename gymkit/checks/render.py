"""Reports of a check run: text for people, JSON for tools, Markdown for PR comments,
and GitHub workflow annotations for the diff view.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Literal, assert_never

import typer

from gymkit.checks.registry import STEPS, Finding
from gymkit.checks.runner import ServerReport

__all__ = ["FORMATS", "Format", "render", "summary_counts"]

Format = Literal["text", "json", "markdown", "github"]
FORMATS: tuple[Format, ...] = ("text", "json", "markdown", "github")

_MARK = {"pass": ("✓", "green"), "fail": ("✗", "red"), "warn": ("!", "yellow"), "skip": ("-", "bright_black")}
_EMOJI = {"pass": "✅", "fail": "❌", "warn": "⚠️", "skip": "⏭️"}


def summary_counts(reports: Sequence[ServerReport]) -> dict[str, int]:
    counts = dict.fromkeys(("pass", "fail", "warn", "skip"), 0)
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
    return f"{finding.file}:{finding.line}: " if finding.line else f"{finding.file}: "


def _text(reports: Sequence[ServerReport]) -> str:
    out: list[str] = []
    for report in reports:
        out.append(typer.style(f"{report.name}", bold=True) + f"  {report.path}")
        for step, name in STEPS.items():
            findings = [f for f in report.findings if f.step == step]
            if not findings:
                continue
            mark, colour = _MARK[report.step_status(step)]
            out.append(typer.style(f" {mark} Step {step} · {name}", fg=colour, bold=True))
            for i, f in enumerate(findings):
                mark, colour = _MARK[f.status]
                line = f"   {typer.style(mark, fg=colour)} {f.code} "
                line += f.title if f.status == "pass" else _where(f) + f.message
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
    return json.dumps({"servers": [r.to_json() for r in reports]}, indent=2, ensure_ascii=False)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _markdown(reports: Sequence[ServerReport]) -> str:
    out: list[str] = []
    for report in reports:
        out += [f"### `{report.name}` ({report.path})", "", "| Step | | Result |", "|---|---|---|"]
        for step, name in STEPS.items():
            findings = [f for f in report.findings if f.step == step]
            counts = {s: sum(1 for f in findings if f.status == s) for s in ("fail", "warn", "pass", "skip")}
            result = ", ".join(f"{n} {s if s != 'pass' else 'passed'}" for s, n in counts.items() if n) or "not run"
            status = report.step_status(step) if findings else "skip"
            out.append(f"| {step} · {name} | {_EMOJI[status]} | {result} |")
        notable = [f for f in report.findings if f.status in ("fail", "warn")]
        if notable:
            out += ["", "| Code | Status | Where | Finding | How to fix |", "|---|---|---|---|---|"]
            for i, f in enumerate(notable):
                where = f"`{f.file}:{f.line}`" if f.file and f.line else f"`{f.file}`" if f.file else ""
                repeated = i > 0 and notable[i - 1].code == f.code
                fix = f"waived: {f.waived}" if f.waived else "(as above)" if repeated else f.fix
                out.append(f"| {f.code} | {_EMOJI[f.status]} | {_cell(where)} | {_cell(f.message)} | {_cell(fix)} |")
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
            if f.status not in ("fail", "warn"):
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
