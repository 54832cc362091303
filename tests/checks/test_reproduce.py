"""`gymkit reproduce`: tests, exact re-verification, re-collection compared honestly, the checklist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gymkit.cli import app
from gymkit.project import ServerPaths
from gymkit.review.reproduce import recollect
from tests.checks.conftest import build_server, write_reports
from tests.rollouts.scripted import MODEL, scripted_model


def _record_endpoint(server: Path, endpoint: str, model: str) -> None:
    path = server / "data" / "example_rollouts.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        row["_gymkit"].update(endpoint=endpoint, model=model)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.slow  # the tests stage is gymkit test, which builds the server's environment
def test_reproduce_recollects_with_the_recorded_model_and_reports_differences(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = build_server(tmp_path)
    with scripted_model() as (_, url):
        _record_endpoint(server, url, MODEL)
        monkeypatch.chdir(tmp_path)
        result = CliRunner().invoke(app, ["reproduce", "good", "--endpoint", url, "--verify-timeout", "5"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "PASS  tests: 2 passed" in out
    assert "PASS  re-verification: 5/5 stored rewards reproduced" in out
    # The scripted model answers "unscripted: What is A + B? ..." whose last number is B: always wrong.
    assert "WARN  re-collection (informational): 2/5 rewards equal with scripted-model" in out
    assert "mean reward stored 0.600, re-collected 0.000" in out
    assert "task 0 rollout 0: stored 1.0, re-collected 0.0" in out
    assert "reward counts stored {0: 2, 1: 3}, re-collected {0: 5}" in out
    assert "  8  Review and reproduction" in out and out.rstrip().endswith("REPRODUCED")
    # The tests stage was gymkit test: its result is the one the checklist's step 3 read.
    assert "smoke test and data validation passed (gymkit test, " in out
    assert (tmp_path / ".gymkit-cache" / "tests" / "good.json").is_file()
    assert "✓ GYM303" in out


@pytest.mark.slow
def test_reproduce_reports_what_gymkit_test_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = build_server(tmp_path)
    write_reports(server)
    (server / "tests" / "test_app.py").write_text("def test_fails():\n    assert False\n")
    monkeypatch.chdir(tmp_path)
    # --isolated is what older scripts pass; every run is isolated now.
    result = CliRunner().invoke(app, ["reproduce", "good", "--isolated", "--no-recollect"])
    assert result.exit_code == 1, result.output
    assert "FAIL  tests: `gymkit test good` exited with 1" in result.output
    assert "[good] 1/3 tests: FAILED" in result.output
    assert "✗ GYM303" in result.output and result.output.rstrip().endswith("FAILED")


def test_recollection_without_the_recorded_endpoint_is_skipped_and_says_how(tmp_path: Path) -> None:
    server = build_server(tmp_path)
    _record_endpoint(server, "http://gpu-box:8000/v1", "Qwen/Qwen3-4B")
    stage = recollect(ServerPaths(server))
    assert stage.status == "skip" and not stage.required
    assert (
        stage.summary
        == "recorded with Qwen/Qwen3-4B at http://gpu-box:8000/v1; pass --endpoint URL to re-collect with it"
    )


@pytest.mark.slow
def test_reproduce_fails_when_stored_rewards_do_not_reverify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = build_server(tmp_path, "rewards_do_not_reverify")
    write_reports(server)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["reproduce", "rewards_do_not_reverify", "--no-recollect"])
    assert result.exit_code == 1
    assert "FAIL  re-verification: 2/5 stored rewards reproduced" in result.output
    assert "line 1: stored 0.5, verify now returns 1.0" in result.output
    assert "  4  Example rollouts            FAIL" in result.output
    assert result.output.rstrip().endswith("FAILED")


@pytest.mark.slow
def test_reproduce_offline_with_the_embedded_model(tmp_path: Path) -> None:
    pytest.importorskip("xllamacpp")
    server = build_server(tmp_path)
    # Re-collection samples with the recorded settings; short answers keep the test quick.
    path = server / "data" / "example_rollouts.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        row["_gymkit"]["sampling"].update(max_output_tokens=24, temperature=0.0)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    stage = recollect(ServerPaths(server))
    # A sampling model may or may not reproduce each reward; what must hold is that it ran
    # offline, with the recorded model, over every stored rollout.
    assert stage.status in ("pass", "warn"), stage
    assert re.match(
        r"[0-5]/5 rewards equal with SmolLM2-135M-Instruct \(temperature=0.0, max_output_tokens=24\); "
        r"mean reward stored 0.600",
        stage.summary,
    ), stage.summary


def test_recollection_shows_progress_with_rate_and_time_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    server = build_server(tmp_path)
    # The bar draws only on a terminal, as in `gymkit rollouts`; FORCE_COLOR makes stderr one here.
    monkeypatch.setenv("FORCE_COLOR", "1")
    with scripted_model() as (_, url):
        _record_endpoint(server, url, MODEL)
        stage = recollect(ServerPaths(server), endpoint_url=url)
    assert stage.status in ("pass", "warn"), stage
    err = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", capfd.readouterr().err)
    assert re.search(r"rollouts .*\d+\.\d/s +ETA [-\d:]+ +mean reward", err), err[-2000:]
