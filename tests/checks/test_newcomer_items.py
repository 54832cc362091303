"""What a newcomer ran into: licence names to choose from, one mixed-prompt threshold, smoke runs taken
for training, config errors located by fields, waivers that replace findings, pr-body's exit status."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gymkit.checks import CheckOptions, run_checks
from gymkit.cli import app
from gymkit.findings import Finding, Status, apply_waivers
from gymkit.profiling.sections import _verdict
from gymkit.runtime.config import DatasetLicense
from tests.checks.conftest import build_server, prompt_shares, write_reports

OPTIONS = CheckOptions(reverify=False)


def _findings(server: Path, code: str) -> list[Finding]:
    return [f for f in run_checks(server, options=OPTIONS, select=[code]).findings if f.code == code]


def test_gym103_lists_the_licence_names_it_accepts(tmp_path: Path) -> None:
    server = build_server(tmp_path)
    config = server / "configs" / "good.yaml"
    text = config.read_text()
    licence = next(lic.value for lic in DatasetLicense if f"license: {lic.value}" in text)
    config.write_text(text.replace(f"license: {licence}", "license: TBD"))
    (finding, *_) = [f for f in _findings(server, "GYM103") if f.status == "fail"]
    assert "licence TBD" in finding.message
    for name in ("MIT", "Apache 2.0", "CC BY-SA 4.0", "Creative Commons Attribution 4.0 International"):
        assert f'"{name}"' in finding.message
    assert '"TBD"' not in finding.message


@pytest.mark.parametrize("mixed", [0.12, 0.19])
def test_gym505_warns_where_the_profile_itself_warns(tmp_path: Path, mixed: float) -> None:
    server = build_server(tmp_path)
    share = (1 - mixed) / 2
    write_reports(server, profile={"prompts": prompt_shares(share, share, mixed)})
    (finding,) = _findings(server, "GYM505")
    # The profile's verdict and the check judge the same share the same way.
    assert _verdict({"all_fail": share, "all_pass": share, "mixed": mixed}, 16) is not None
    assert finding.status == "warn" and f"only {mixed:.0%} of prompts are mixed (< 20%)" in finding.message


def test_gym505_passes_at_the_threshold(tmp_path: Path) -> None:
    server = build_server(tmp_path)
    write_reports(server, profile={"prompts": prompt_shares(0.4, 0.4, 0.2)})
    assert [f.status for f in _findings(server, "GYM505")] == ["pass"]
    assert _verdict({"all_fail": 0.4, "all_pass": 0.4, "mixed": 0.2}, 16) is None


def test_gym601_does_not_take_a_smoke_run_for_training(tmp_path: Path) -> None:
    server = build_server(tmp_path)
    write_reports(server, training={"kind": "smoke"})
    report = run_checks(server, options=OPTIONS, select=["GYM6"])
    (finding,) = [f for f in report.findings if f.code == "GYM601"]
    assert finding.status == "fail"
    assert "only a smoke is committed: reports/training/training.json is smoke evidence (kind: smoke" in finding.message
    assert "`gymkit train good` on a GPU with a real model" in finding.message
    assert "gymkit train NAME" in finding.fix and "GPU" in finding.fix
    # A smoke's curves say nothing about learning: the checks that read them wait for real training.
    assert {f.code: f.status for f in report.findings if f.code != "GYM601"} == {"GYM602": "skip", "GYM603": "skip"}


@pytest.mark.parametrize("kind", ["training", None])
def test_gym601_judges_training_evidence_as_before(tmp_path: Path, kind: str | None) -> None:
    server = build_server(tmp_path)
    write_reports(server, training={"kind": kind} if kind else None)
    statuses = {f.code: f.status for f in run_checks(server, options=OPTIONS, select=["GYM6"]).findings}
    assert statuses == {"GYM601": "pass", "GYM602": "pass", "GYM603": "pass"}


def test_a_config_error_is_located_by_fields_even_where_the_path_has_spaces(tmp_path: Path) -> None:
    # The old regex split "path:line: problem" at the first space or colon: a folder with a space lost its line.
    server = build_server(tmp_path / "my gym")
    config = server / "configs" / "good.yaml"
    lines = config.read_text().splitlines()
    lines[2] = lines[2] + " [unclosed"
    config.write_text("\n".join(lines) + "\n")
    (finding,) = _findings(server, "GYM202")
    assert finding.status == "fail"
    assert finding.file == "configs/good.yaml" and finding.line is not None
    assert finding.message.startswith("not valid YAML") and "my gym" not in finding.message


def test_a_waiver_replaces_a_finding_and_leaves_the_original_alone() -> None:
    original = Finding("GYM501", 5, "fail", "reports/reward_profile/reward_profile.json is missing")
    (waived,) = apply_waivers([original], {"GYM501": "  profiled on the\npartner's cluster "})
    assert (waived.status, waived.waived) == (Status.WARN, "profiled on the partner's cluster")
    assert original.status == Status.FAIL and original.waived is None
    with pytest.raises(FrozenInstanceError):
        original.status = Status.PASS  # type: ignore[misc]
    # An empty reason and the waiver check itself never waive.
    assert apply_waivers([original], {"GYM501": " "}) == [original]
    gym209 = Finding("GYM209", 2, "fail", "waiver for GYM501 has no written reason")
    assert apply_waivers([gym209], {"GYM209": "because"}) == [gym209]


def test_statuses_rank_fail_warn_pass_skip() -> None:
    assert Status.by_rank() == [Status.FAIL, Status.WARN, Status.PASS, Status.SKIP]
    assert Status.worst(["pass", "skip", "warn"]) == Status.WARN
    assert Status.worst([]) == Status.SKIP
    assert json.dumps(Finding("GYM101", 1, Status.FAIL, "x", file="data/example.jsonl", line=3).to_json()) == (
        '{"code": "GYM101", "step": 1, "status": "fail", "message": "x", "file": "data/example.jsonl", "line": 3}'
    )


def test_pr_body_exits_1_and_says_why_when_check_pr_body_would_reject_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = build_server(tmp_path)
    readme = server / "README.md"
    readme.write_text(readme.read_text().replace("Synthetic data: None (no model was used to generate tasks).", ""))
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "body.md"
    result = CliRunner().invoke(app, ["pr-body", "good", "-o", str(out)])
    assert result.exit_code == 1, result.output
    problems = [line for line in result.stderr.splitlines() if line.startswith(str(readme))]
    assert len(problems) == 1 and "'## Synthetic data' still holds a placeholder" in problems[0]
    # The description is written all the same, for the contributor to finish.
    assert out.is_file() and "## Synthetic data" in out.read_text()
    checked = CliRunner().invoke(app, ["check-pr-body", str(out)])
    assert checked.exit_code == 1


def test_pr_body_exits_0_when_the_description_is_complete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_server(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["pr-body", "good"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
