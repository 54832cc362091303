"""The checks, the PR body, reproduction and the profiler read artifacts through their models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gymkit.artifacts import rollout_meta
from gymkit.checks import CheckOptions, run_checks
from gymkit.prbody import render_pr_body
from gymkit.profiling.grouping import model_name
from gymkit.profiling.table import _sampling_blob
from gymkit.project import ServerPaths
from gymkit.review.reproduce import _recorded
from tests.checks.conftest import build_server, write_reports

OPTIONS = CheckOptions(verify_timeout=5)
PROFILE = Path("reports/reward_profile/reward_profile.json")
TRAINING = Path("reports/training/training.json")


@pytest.fixture
def server(tmp_path: Path) -> Path:
    return build_server(tmp_path)


def _edit(server: Path, report: Path, **changes: object) -> None:
    """Rewrite one report with keys replaced, or removed where the value is ``...``."""
    path = server / report
    body = json.loads(path.read_text())
    for key, value in changes.items():
        if value is ...:
            del body[key]
        else:
            body[key] = value
    path.write_text(json.dumps(body))


def _statuses(server: Path, select: str) -> dict[str, tuple[str, str]]:
    findings = run_checks(server, options=OPTIONS, select=[select]).findings
    return {f.code: (f.status, f.message) for f in findings}


@pytest.mark.parametrize(("report", "step"), [(PROFILE, "GYM5"), (TRAINING, "GYM6")])
def test_a_report_without_schema_version_reads_as_version_1(server: Path, report: Path, step: str) -> None:
    _edit(server, report, schema_version=...)
    statuses = _statuses(server, step)
    assert statuses[f"{step}01"][0] == "pass", statuses
    # The checks after the first run on the file's figures rather than skipping.
    assert all(status in ("pass", "warn") for status, _ in statuses.values()), statuses


@pytest.mark.parametrize(("report", "step"), [(PROFILE, "GYM501"), (TRAINING, "GYM601")])
def test_a_report_from_a_newer_gymkit_says_to_upgrade(server: Path, report: Path, step: str) -> None:
    _edit(server, report, schema_version=2)
    status, message = _statuses(server, step)[step]
    assert status == "fail"
    assert f"{report} cannot be read: schema_version 2 is newer than this gymkit reads (1)" in message


@pytest.mark.parametrize(
    ("report", "step", "changes", "expected"),
    [
        (PROFILE, "GYM501", {"num_promts": 500}, "num_promts: unknown key"),
        (PROFILE, "GYM501", {"models": "Qwen/Qwen3-4B"}, "models: Input should be a valid list"),
        (TRAINING, "GYM601", {"steps": 20}, "steps: Input should be a valid dictionary or instance of Steps"),
        (TRAINING, "GYM601", {"improved": ...}, "improved: required field is missing"),
    ],
)
def test_a_report_that_does_not_fit_its_model_names_the_field(
    server: Path, report: Path, step: str, changes: dict[str, object], expected: str
) -> None:
    _edit(server, report, **changes)
    statuses = _statuses(server, step[:4])
    assert statuses[step] == ("fail", f"{report} cannot be read: {expected}"), statuses
    # The checks that need the figures do not guess at a file that does not validate.
    assert all(status == "skip" for code, (status, _) in statuses.items() if code != step), statuses


def test_a_smoke_report_is_not_training_evidence(server: Path) -> None:
    _edit(server, TRAINING, kind="smoke")
    status, message = _statuses(server, "GYM601")["GYM601"]
    assert status == "fail" and message.startswith("only a smoke is committed:")
    _edit(server, TRAINING, kind="training")
    assert _statuses(server, "GYM601")["GYM601"][0] == "pass"


def test_a_waiver_written_before_training_still_shows_that_only_a_smoke_is_committed(server: Path) -> None:
    from gymkit.findings.render import render

    config = server / "configs" / "good.yaml"
    waiver = '      gymkit:\n        waive:\n          GYM601: "no training was run"\n'
    config.write_text(config.read_text().replace("      verified: false\n", "      verified: false\n" + waiver))
    (server / TRAINING).unlink()
    missing = run_checks(server, options=OPTIONS, select=["GYM601"])
    assert [(f.status, f.message) for f in missing.findings] == [("warn", f"{TRAINING} is missing")]

    # A smoke is committed later; the waiver matches the code, not the reason it was written for.
    write_reports(server, training={"kind": "smoke"})
    report = run_checks(server, options=OPTIONS, select=["GYM601"])
    (finding,) = report.findings
    assert (finding.status, finding.waived) == ("warn", "no training was run")
    assert finding.message.startswith("only a smoke is committed:")
    for fmt in ("text", "markdown", "github"):
        shown = render([report], fmt)
        assert "only a smoke is committed" in shown and "no training was run" in shown, fmt


def test_pr_body_reads_reports_without_schema_version(server: Path) -> None:
    _edit(server, PROFILE, schema_version=...)
    _edit(server, TRAINING, schema_version=...)
    body = render_pr_body(ServerPaths(server))
    assert "Models: Qwen/Qwen3-4B;" in body
    assert "Improved: True; reward from 0.2 to 0.58 over 20 steps" in body


def test_pr_body_says_a_report_that_does_not_fit_cannot_be_read(server: Path) -> None:
    _edit(server, TRAINING, steps=20)
    body = render_pr_body(ServerPaths(server))
    reason = "steps: Input should be a valid dictionary or instance of Steps"
    assert f"`training/training.json` cannot be read ({reason}); make it again." in body
    assert "Models: Qwen/Qwen3-4B;" in body  # the other report is still read


def _row(meta: object = None, response_model: str | None = "from-response") -> dict[str, object]:
    row: dict[str, object] = {
        "responses_create_params": {"input": "q", "temperature": 0.5},
        "response": {"model": response_model, "output": []},
        "reward": 1.0,
    }
    if meta is not None:
        row["_gymkit"] = meta
    return row


def test_profiler_takes_the_model_and_sampling_from_valid_metadata_only() -> None:
    sampling = {"temperature": 1.0, "top_p": 0.9}
    good = _row({"model": "recorded", "sampling": sampling})
    assert model_name(good, rollout_meta(good)) == "recorded"
    assert json.loads(_sampling_blob(good, rollout_meta(good))) == sampling
    # Metadata that does not validate is not half-trusted: the row speaks for itself.
    bad = _row({"model": "recorded", "sampling": sampling, "tool_calls": "many"})
    assert model_name(bad, rollout_meta(bad)) == "from-response"
    assert json.loads(_sampling_blob(bad, rollout_meta(bad))) == {
        "temperature": 0.5,
        "top_p": None,
        "max_output_tokens": None,
    }
    unnamed = _row({"model": None}, response_model=None)
    assert model_name(unnamed, rollout_meta(unnamed)) == "unknown"


def test_reproduction_uses_the_first_rows_metadata_when_every_row_has_it() -> None:
    rows = [_row({"model": "m", "endpoint": "embedded", "sampling": {"seed": 3}}), _row({"model": "other"})]
    assert _recorded(rows) == ("m", "embedded", {"seed": 3})
    assert _recorded([_row({"model": "m"})]) == ("m", None, {})
    assert _recorded([*rows, _row()]) == (None, None, {})
    assert _recorded([*rows, _row({"model": 5})]) == (None, None, {})
    assert _recorded([]) == (None, None, {})
