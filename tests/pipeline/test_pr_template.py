"""The PR template asks for exactly what `gymkit check-pr-body` requires."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gymkit.cli import app

from .workflows import REPO

prbody = pytest.importorskip("gymkit.prbody", reason="the PR-body check (gymkit.prbody) is not in this checkout")

TEMPLATE = REPO / ".github" / "PULL_REQUEST_TEMPLATE.md"
COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def _headings(text: str) -> list[str]:
    return [line[3:].strip() for line in text.splitlines() if line.startswith("## ")]


def _filled(text: str) -> str:
    # What a contributor does: replace each prompt comment with real text.
    return COMMENT.sub("Real text written by the contributor.", text)


def test_template_has_every_required_section_in_order() -> None:
    required = [name for name, _ in prbody.PR_SECTIONS]
    headings = _headings(TEMPLATE.read_text())
    assert [h for h in headings if h in required] == required
    assert headings[-1] == "Checklist"


def test_unfilled_template_fails_on_every_section() -> None:
    problems = prbody.check_pr_body(TEMPLATE.read_text())
    assert [p.section for p in problems] == [name for name, _ in prbody.PR_SECTIONS]


def test_filled_template_passes() -> None:
    assert prbody.check_pr_body(_filled(TEMPLATE.read_text())) == []


def test_check_pr_body_reads_the_template_from_an_event_payload(tmp_path: Path) -> None:
    # The workflow passes $GITHUB_EVENT_PATH: the body arrives inside the event JSON.
    runner = CliRunner()
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "opened", "pull_request": {"number": 7, "body": TEMPLATE.read_text()}}))
    red = runner.invoke(app, ["check-pr-body", str(event)])
    assert red.exit_code == 1
    assert "no '## " not in red.stderr  # the headings are there; they are empty
    assert "'## Licensing' is empty" in red.stderr
    event.write_text(json.dumps({"pull_request": {"body": _filled(TEMPLATE.read_text())}}))
    green = runner.invoke(app, ["check-pr-body", str(event)])
    assert green.exit_code == 0, green.output
