"""The comment script reads the check report as gymkit renders it, ``schema_version`` included."""

from __future__ import annotations

import json
from pathlib import Path

from gymkit.findings import Finding, ServerReport, Status
from gymkit.findings.render import render

from .test_comment_script import _calls, _comment, _run, pytestmark  # noqa: F401 - pytestmark: node is needed


def test_a_rendered_report_with_its_version_fills_the_table(tmp_path: Path) -> None:
    findings = [Finding(f"GYM{step}01", step, Status.PASS, "ok", "ok") for step in range(1, 9)]
    findings[3] = Finding("GYM401", 4, Status.FAIL, "data/example_rollouts.jsonl is missing", "rollouts", "collect")
    rendered = render([ServerReport("gamma", "resources_servers/gamma", findings)], "json")
    assert json.loads(rendered)["schema_version"] == 1
    folder = tmp_path / "reports" / "gymkit-report-gamma"
    folder.mkdir(parents=True)
    (folder / "report.json").write_text(rendered + "\n", encoding="utf-8")
    (folder / "meta.json").write_text(json.dumps({"server": "gamma", "tests": "success"}))
    calls = _comment(tmp_path, {"run": _run(), "comments": []}, tmp_path / "reports")
    (created,) = _calls(calls, "issues.createComment")
    body = created["body"]
    assert "| 3. Testing | ✅ pass |" in body
    assert "| 4. Example rollouts | ❌ fail |" in body
    assert "GYM401" in body
