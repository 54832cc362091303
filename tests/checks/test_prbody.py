"""`gymkit pr-body` renders a complete description; `gymkit check-pr-body` finds what is missing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gymkit.cli import app
from gymkit.prbody import PR_SECTIONS, check_pr_body, render_pr_body
from gymkit.project import ServerPaths
from tests.checks.conftest import build_server

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / ".github" / "PULL_REQUEST_TEMPLATE.md"


def test_rendered_body_has_every_section_from_the_server_files(tmp_path: Path) -> None:
    body = render_pr_body(ServerPaths(build_server(tmp_path)))
    assert check_pr_body(body) == []
    assert "Adds `resources_servers/good` (domain: math)." in body
    assert "- Code: Apache-2.0\n- Data: MIT\n- Dependencies: gymkit (Apache-2.0)" in body
    assert "## Synthetic data\n\nNone (no model was used to generate tasks)." in body
    assert "- train `train`: resources_servers/good/data/train.jsonl (licence: MIT)" in body
    assert "Models: Qwen/Qwen3-4B; 12 prompts x 16 samples" in body
    assert "Improved: True; reward from 0.2 to 0.58 over 20 steps" in body


def test_missing_empty_and_placeholder_sections_are_named() -> None:
    body = "## Environment\n\nA maze.\n\n## Verification logic\n\n<!-- explain -->\n\n## Licensing\n\nTODO\n"
    problems = {p.section: p.message for p in check_pr_body(body)}
    assert set(problems) == {"Verification logic", "Task source and domain", "Licensing", "Synthetic data"}
    assert "is empty" in problems["Verification logic"]
    assert "placeholder" in problems["Licensing"]
    assert "no '## Task source and domain' section" in problems["Task source and domain"]


def test_the_pr_template_has_every_required_section_and_fails_until_filled() -> None:
    if not TEMPLATE.is_file():
        pytest.skip("no PR template in this checkout")
    text = TEMPLATE.read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, flags=re.M)
    assert all(name in headings for name, _ in PR_SECTIONS)
    assert {p.section for p in check_pr_body(text)} == {name for name, _ in PR_SECTIONS}


def test_check_pr_body_reads_markdown_and_github_event_payloads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_server(tmp_path)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    rendered = runner.invoke(app, ["pr-body", "good", "--output", "body.md"])
    assert rendered.exit_code == 0, rendered.output
    ok = runner.invoke(app, ["check-pr-body", "body.md"])
    assert ok.exit_code == 0 and "all 5 required sections are filled" in ok.output
    event = {"pull_request": {"number": 7, "body": "## Environment\n\nA maze.\n"}}
    (tmp_path / "event.json").write_text(json.dumps(event))
    bad = runner.invoke(app, ["check-pr-body", "event.json"])
    assert bad.exit_code == 1
    assert "event.json: no '## Verification logic' section" in bad.output
    (tmp_path / "null.json").write_text(json.dumps({"pull_request": {"body": None}}))
    assert runner.invoke(app, ["check-pr-body", "null.json"]).exit_code == 1
    (tmp_path / "broken.json").write_text("{not json")
    broken = runner.invoke(app, ["check-pr-body", "broken.json"])
    assert broken.exit_code == 1 and "error: " in broken.output and "Traceback" not in broken.output


def test_check_pr_body_reads_the_pull_request_as_the_rest_api_returns_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # CI fetches the description as it is now, so a re-run after an edit checks the new text.
    build_server(tmp_path)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    body = runner.invoke(app, ["pr-body", "good"]).stdout
    (tmp_path / "pull.json").write_text(json.dumps({"number": 7, "title": "Add good", "body": body}))
    ok = runner.invoke(app, ["check-pr-body", "pull.json"])
    assert ok.exit_code == 0, ok.output
    (tmp_path / "odd.json").write_text(json.dumps({"number": 7, "body": ["not", "text"]}))
    odd = runner.invoke(app, ["check-pr-body", "odd.json"])
    assert odd.exit_code == 1 and "odd.json: the pull request's body is not text" in odd.output
    assert "Traceback" not in odd.output


def test_training_section_reads_the_report_training_report_writes(tmp_path: Path) -> None:
    from gymkit.profiling.training import training_from_file, write_training

    paths = ServerPaths(build_server(tmp_path))
    metrics = paths.training / "metrics.csv"
    # Steps 0..7, reward step / 10: the first and last 3 points average 0.1 (0.10000000000000002 in floats)
    # and 0.6; p = 1/8! (exact Mann-Kendall, only the sorted order has S = 28).
    metrics.write_text("step,train/reward\n" + "".join(f"{s},{s / 10}\n" for s in range(8)))
    write_training(training_from_file(metrics), paths.training)
    body = render_pr_body(paths)
    assert "Improved: True; train/reward from 0.1 to 0.6 over 8 steps (p = 2.48e-05)." in body
