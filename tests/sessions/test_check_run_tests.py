"""``gymkit check --run-tests``: a server nobody has tested yet fails GYM303, unless the check runs its tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gymkit.testing.stamp import stamp_path

from .builders import add_server
from .test_gymkit_test import FAILING_TESTS, gymkit

pytestmark = pytest.mark.slow


def _gym303(output: str) -> dict:
    findings = json.loads(output)["servers"][0]["findings"]
    return next(f for f in findings if f["code"] == "GYM303")


def test_run_tests_records_a_result_that_the_check_then_reads(tmp_path: Path) -> None:
    (tmp_path / "resources_servers").mkdir()
    add_server(tmp_path, "good")
    add_server(tmp_path, "failing", tests={"test_app.py": FAILING_TESTS})
    for name in ("good", "failing"):
        _, output = gymkit(tmp_path, "check", name, "--select", "GYM303", "--format", "json")
        assert _gym303(output)["status"] == "fail", output
        assert not stamp_path(tmp_path / "resources_servers" / name).exists()

    code, output = gymkit(tmp_path, "check", "good", "--select", "GYM303", "--format", "json", "--run-tests")
    assert code == 0 and _gym303(output)["status"] == "pass", output
    assert json.loads(stamp_path(tmp_path / "resources_servers" / "good").read_text())["passed"] is True

    # Running the tests is no way around them: a failing server still fails, now with its counts.
    code, output = gymkit(tmp_path, "check", "failing", "--select", "GYM303", "--format", "json", "--run-tests")
    finding = _gym303(output)
    assert code == 1 and finding["status"] == "fail" and "1 failed" in finding["message"], output
