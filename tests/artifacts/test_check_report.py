"""The JSON check report is the CheckReport model's dump: what the renderer wrote before it, plus its version."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

import gymkit.cli.check as check_cli
from gymkit.artifacts import CheckReport, read_artifact
from gymkit.audit.report import AuditFinding
from gymkit.cli import app
from gymkit.errors import InvalidDataError
from gymkit.findings import Finding, ServerReport, Status
from gymkit.findings.render import render

ROOT = Path(__file__).resolve().parents[2]


def _before(reports: Sequence[ServerReport]) -> str:
    # The renderer as it was before the model (the reports' own to_json, dumped as is), plus
    # the one line the model adds: its schema_version, first.
    legacy = json.dumps({"servers": [r.to_json() for r in reports]}, indent=2, ensure_ascii=False)
    assert legacy.startswith('{\n  "servers": ')
    return '{\n  "schema_version": 1,' + legacy[1:]


def test_the_reference_servers_report_is_unchanged_and_reads_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[ServerReport] = []

    def recording(*args, **kwargs):  # type: ignore[no-untyped-def]
        report = real(*args, **kwargs)
        seen.append(report)
        return report

    real = check_cli.run_checks
    monkeypatch.setattr(check_cli, "run_checks", recording)
    monkeypatch.chdir(ROOT)
    saved = tmp_path / "report.json"
    result = CliRunner().invoke(
        app, ["check", "--all", "--no-reverify", "--format", "json", "--report", f"json:{saved}"]
    )
    assert result.exit_code in (0, 1), result.output
    assert len(seen) >= 4
    order = {s["name"]: i for i, s in enumerate(json.loads(result.output)["servers"])}
    seen.sort(key=lambda r: order[r.name])  # threads finish in any order; the output keeps the CLI's
    assert result.output == _before(seen) + "\n"
    assert saved.read_text(encoding="utf-8") == result.output
    report = read_artifact(saved, CheckReport)
    assert [s.name for s in report.servers] == [r.name for r in seen]
    assert sum(len(s.findings) for s in report.servers) == sum(len(r.findings) for r in seen)


def test_optional_and_audit_keys_keep_their_place() -> None:
    response = {"output": [{"type": "message", "content": [{"type": "output_text", "text": "Lima ✓"}]}]}
    findings = [
        Finding("GYM101", 1, Status.PASS, "", "title only"),  # an empty message is left out, as before
        Finding("GYM214", 2, Status.WARN, "README.md: GPL", "licence", "fix it", "README.md", 27, "dual-licensed"),
        AuditFinding("GYM3A01", 3, Status.FAIL, "empty earns", "t", "f", probe="empty", row=0, reward=math.inf),
        AuditFinding("GYM3A02", 3, Status.FAIL, "swap", probe="swap", row=2, reward=1.0, response=response),
    ]
    reports = [ServerReport("weather", "resources_servers/weather", findings), ServerReport("none", "x")]
    rendered = render(reports, "json")
    assert rendered == _before(reports)
    assert '"reward": Infinity' in rendered and "Lima ✓" in rendered
    again = CheckReport.model_validate_json(rendered.replace("Infinity", "1e999"))
    assert again.servers[0].findings[3].response == response


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda f: f.update(status="ok"), "servers.0.findings.0.status: Input should be 'pass', 'fail', 'warn'"),
        (lambda f: f.update(step=9), "servers.0.findings.0.step: Input should be less than or equal to 8"),
        (lambda f: f.update(severity="high"), "servers.0.findings.0.severity: unknown key"),
        (lambda f: f.pop("code"), "servers.0.findings.0.code: required field is missing"),
    ],
)
def test_a_wrong_report_is_refused_naming_the_file_and_field(tmp_path: Path, edit, problem: str) -> None:  # type: ignore[no-untyped-def]
    report = {"servers": [{"name": "a", "path": "a", "findings": [{"code": "GYM101", "step": 1, "status": "pass"}]}]}
    edit(report["servers"][0]["findings"][0])
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    with pytest.raises(InvalidDataError) as caught:
        read_artifact(path, CheckReport)
    assert str(path.name) in str(caught.value) and problem in str(caught.value)
    assert "\n" not in caught.value.problem
