"""`gymkit check` output formats, selection, waivers and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gymkit.artifacts import CheckReport, read_artifact
from gymkit.checks import CheckOptions, all_checks, run_checks
from gymkit.cli import app
from gymkit.findings.render import render
from tests.checks.conftest import build_server, write_reports

# Checks that need no child process; the formats do not depend on which checks ran.
FAST = ["--ignore", "GYM302,GYM303,GYM304,GYM404"]


def _invoke(root: Path, monkeypatch: pytest.MonkeyPatch, *args: str):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(root)
    return CliRunner().invoke(app, ["check", *args])


def _parsed(output: str) -> CheckReport:
    return CheckReport.model_validate_json(output)


def _break_readme(server: Path) -> None:
    readme = server / "README.md"
    readme.write_text(readme.read_text().replace("Code licence: Apache-2.0", "Code licence: GPL-3.0-only"))


def test_text_output_groups_by_step_and_ends_with_a_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _break_readme(build_server(tmp_path))
    result = _invoke(tmp_path, monkeypatch, "good", *FAST)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    steps = [line for line in lines if "Step " in line]
    assert len(steps) == 8 and steps[1].startswith(" ✗ Step 2 · Implementation")
    assert any("✗ GYM214 README.md:" in line and "copyleft" in line for line in lines)
    assert any(line.strip().startswith("fix: The server is distributed") for line in lines)
    # Every check that ran passed but the one the broken README fails.
    passed = sum(1 for c in all_checks() if c.code() not in FAST[1].split(",")) - 1
    assert lines[-1] == f"1 server: 1 failed, 0 warnings, {passed} passed, 0 skipped"
    assert "\x1b[" not in result.output


def test_text_output_names_a_missing_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = build_server(tmp_path)
    (server / "requirements.txt").unlink()
    result = _invoke(tmp_path, monkeypatch, "good", *FAST)
    (line,) = [line for line in result.output.splitlines() if "GYM204" in line]
    assert line.endswith("GYM204 requirements.txt is missing"), line


def test_json_follows_the_contract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _break_readme(build_server(tmp_path))
    result = _invoke(tmp_path, monkeypatch, "resources_servers/good", "-f", "json", *FAST)
    assert result.exit_code == 1
    raw = json.loads(result.output)
    (server,) = CheckReport.model_validate(raw).servers  # statuses and steps are the model's to judge
    assert server.name == "good" and server.path == "resources_servers/good"
    assert all({"code", "step", "status", "message"} <= f.keys() for f in raw["servers"][0]["findings"])
    failed = [f for f in server.findings if f.status == "fail"]
    assert [(f.code, f.file, f.line) for f in failed] == [("GYM214", "README.md", 27)]
    assert failed[0].fix


def test_markdown_is_a_table_of_the_eight_steps_with_the_failures(tmp_path: Path) -> None:
    server = build_server(tmp_path)
    _break_readme(server)
    report = run_checks(server, options=CheckOptions(reverify=False), ignore=["GYM302", "GYM303", "GYM304"])
    text = render([report], "markdown")
    rows = [line for line in text.splitlines() if line.startswith("| ") and " · " in line]
    assert len(rows) == 8
    step2 = sum(1 for c in all_checks() if c.step == 2)
    assert rows[1].startswith(f"| 2 · Implementation | ❌ | 1 fail, {step2 - 1} passed")
    assert "| GYM214 | ❌ | `README.md:27` |" in text
    assert text.splitlines()[-1].startswith("**1 server: 1 failed")


def test_github_annotations_name_files_from_the_repository_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = build_server(tmp_path)
    _break_readme(server)
    (server / "reports" / "reward_profile" / "reward_profile.json").unlink()
    result = _invoke(tmp_path, monkeypatch, "good", "-f", "github", *FAST)
    errors = [line for line in result.output.splitlines() if line.startswith("::error ")]
    assert any(e.startswith("::error file=resources_servers/good/README.md,line=27,title=GYM214 ") for e in errors), (
        errors
    )
    assert any("file=resources_servers/good/reports/reward_profile/reward_profile.json," in e for e in errors)
    assert all("\n" not in e for e in errors) and any("%0A%0AFix%3A" in e or "%0A%0AFix:" in e for e in errors)


def test_waiver_with_a_reason_turns_a_failure_into_a_visible_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = build_server(tmp_path)
    _break_readme(server)
    config = server / "configs" / "good.yaml"
    waiver = '      gymkit:\n        waive:\n          GYM214: "dual-licensed upstream; MIT grant in LICENSE-MIT"\n'
    config.write_text(config.read_text().replace("      verified: false\n", "      verified: false\n" + waiver))
    write_reports(server)  # the config is server code: keep the profile fresh
    result = _invoke(tmp_path, monkeypatch, "good", "-f", "json", *FAST)
    assert result.exit_code == 0, result.output
    (finding,) = [f for f in _parsed(result.output).servers[0].findings if f.code == "GYM214"]
    assert finding.status == "warn" and finding.waived and finding.waived.startswith("dual-licensed")
    report = run_checks(server, options=CheckOptions(reverify=False), select=["GYM214"])
    for fmt in ("text", "markdown", "github"):
        assert "dual-licensed upstream" in render([report], fmt), fmt  # type: ignore[arg-type]


def test_empty_waiver_reason_fails_and_does_not_waive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = build_server(tmp_path)
    _break_readme(server)
    config = server / "configs" / "good.yaml"
    config.write_text(
        config.read_text().replace("verified: false", 'verified: false\n      gymkit: {waive: {GYM214: " "}}')
    )
    result = _invoke(tmp_path, monkeypatch, "good", "-f", "json", "--select", "GYM2")
    assert result.exit_code == 1
    failed = {f.code for f in _parsed(result.output).servers[0].findings if f.status == "fail"}
    assert failed == {"GYM209", "GYM214"}


def test_select_and_ignore_by_code_and_prefix(tmp_path: Path) -> None:
    server = build_server(tmp_path)
    codes = {f.code for f in run_checks(server, select=["GYM5", "GYM101"], ignore=["GYM505"]).findings}
    assert codes == {"GYM101", "GYM501", "GYM502", "GYM503", "GYM504", "GYM506"}


def test_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_server(tmp_path)
    assert _invoke(tmp_path, monkeypatch, "good", *FAST).exit_code == 0
    unknown = _invoke(tmp_path, monkeypatch, "nope")
    assert unknown.exit_code == 1 and "error: no resource server at" in unknown.output
    usage = _invoke(tmp_path, monkeypatch, "good", "--format", "html")
    assert usage.exit_code == 2
    assert _invoke(tmp_path, monkeypatch).exit_code == 2  # no server named, not inside one
    (tmp_path / "empty" / "resources_servers").mkdir(parents=True)
    assert _invoke(tmp_path / "empty", monkeypatch, "--all").exit_code == 2


def test_a_waiver_block_that_is_not_a_mapping_is_a_finding(tmp_path: Path) -> None:
    server = build_server(tmp_path)
    config = server / "configs" / "good.yaml"
    config.write_text(config.read_text().replace("verified: false", "verified: false\n      gymkit: {waive: [GYM501]}"))
    (finding,) = run_checks(server, select=["GYM209"]).findings
    assert finding.status == "fail" and "must be a mapping" in finding.message


def test_one_run_writes_extra_formats_to_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _break_readme(build_server(tmp_path))
    args = ["good", "-f", "github", "--report", "json:out/report.json", "--report", "markdown:out/report.md", *FAST]
    result = _invoke(tmp_path, monkeypatch, *args)
    assert result.exit_code == 1
    assert result.output.startswith("::error file=resources_servers/good/README.md,line=27")
    report = read_artifact(tmp_path / "out" / "report.json", CheckReport)
    assert [f.code for f in report.servers[0].findings if f.status == "fail"] == ["GYM214"]
    assert "| 2 · Implementation | ❌ |" in (tmp_path / "out" / "report.md").read_text()
    assert _invoke(tmp_path, monkeypatch, "good", "--report", "html:x.html").exit_code == 2


def test_markdown_cells_keep_five_columns_whatever_a_finding_holds() -> None:
    from gymkit.checks import Finding
    from gymkit.checks.runner import ServerReport

    finding = Finding("GYM202", 2, "fail", "a | b\nc `x`", "t", "fix | it", "configs/a|b.yaml", 3)
    text = render([ServerReport("s", "resources_servers/s", [finding])], "markdown")
    row = next(line for line in text.splitlines() if line.startswith("| GYM202"))
    # GitHub splits a row on every | not escaped as \|, code spans included.
    assert row.replace("\\|", "").count("|") == 6, row
    assert "`configs/a\\|b.yaml:3`" in row
