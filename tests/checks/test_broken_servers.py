"""A folder of broken servers: one `gymkit check --all` run, a failing finding at the right step for each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gymkit.cli import app
from tests.checks.conftest import BROKEN_CASES, build_server

# case -> (step, code) of the finding it must produce
EXPECTED = {
    "broken_yaml": (2, "GYM202"),
    "unknown_domain": (2, "GYM202"),
    "malformed_jsonl": (1, "GYM102"),
    "too_few_examples": (1, "GYM102"),
    "no_tests": (3, "GYM301"),
    "readme_placeholders": (2, "GYM212"),
    "gpl_code": (2, "GYM214"),
    "nan_reward": (4, "GYM402"),
    "rewards_do_not_reverify": (4, "GYM404"),
    "verify_raises": (4, "GYM404"),
    "verify_never_returns": (4, "GYM404"),
    "tool_not_served": (4, "GYM406"),
}


def test_every_broken_case_is_listed() -> None:
    assert sorted(EXPECTED) == BROKEN_CASES


@pytest.mark.slow
def test_each_broken_server_fails_at_its_step_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for case in BROKEN_CASES:
        build_server(tmp_path, case)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["check", "--all", "--format", "json", "--verify-timeout", "2"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    servers = {s["name"]: s for s in json.loads(result.output)["servers"]}
    assert sorted(servers) == BROKEN_CASES
    for case, (step, code) in EXPECTED.items():
        failing = [f for f in servers[case]["findings"] if f["status"] == "fail"]
        assert any(f["step"] == step and f["code"] == code for f in failing), (case, failing)
        assert not any("the check itself failed" in f["message"] for f in failing), (case, failing)
    hung = [f for f in servers["verify_never_returns"]["findings"] if f["code"] == "GYM404"]
    assert hung[0]["message"] == "verify did not answer within 2s" and hung[0]["line"] == 1
    raised = [f["message"] for f in servers["verify_raises"]["findings"] if f["code"] == "GYM404"]
    assert any("ZeroDivisionError" in m for m in raised)
    errors = [f for f in servers["tool_not_served"]["findings"] if f["code"] == "GYM407"]
    assert [(f["status"], f["line"]) for f in errors] == [("warn", 3)]
    nan = [f for f in servers["nan_reward"]["findings"] if f["code"] == "GYM402"]
    assert nan[0]["line"] == 2
