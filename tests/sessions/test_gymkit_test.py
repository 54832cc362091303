"""``gymkit test NAME`` for real: a temp gym, real environments, the servers' real pytest, the stamp, the check.

The gym is not a gymkit checkout, so the environments get gymkit editable from the
checkout these tests run from, as a contributor's fork would from its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gymkit.testing.stamp import SCHEMA_VERSION, code_fingerprint, stamp_path

from .builders import TESTS, add_server

pytestmark = pytest.mark.slow

FAILING_TESTS = TESTS + "\n\ndef test_wrong():\n    assert 1 + 1 == 3\n"


def gymkit(root: Path, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GYMKIT_SOURCE", "PYTHONPATH")}
    proc = subprocess.run(
        [sys.executable, "-m", "gymkit", *args],
        cwd=root,
        env={**env, "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
        check=False,
    )
    return proc.returncode, proc.stdout


def stamp(root: Path, name: str) -> dict:
    return json.loads(stamp_path(root / "resources_servers" / name).read_text())


@pytest.fixture(scope="module")
def gym(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gym")
    (root / "resources_servers").mkdir()
    add_server(root, "good")
    add_server(root, "failing", tests={"test_app.py": FAILING_TESTS})
    return root


@pytest.fixture(scope="module")
def first_runs(gym: Path) -> dict[str, tuple[int, str]]:
    return {name: gymkit(gym, "test", name) for name in ("good", "failing")}


def test_a_good_server_passes_and_records_a_stamp(gym: Path, first_runs: dict[str, tuple[int, str]]) -> None:
    code, output = first_runs["good"]
    assert code == 0, output
    assert "gymkit > [good] environment: built in" in output
    assert "[good] 1/3 tests: passed" in output and "[good] 2/3 smoke and 3/3 data: passed" in output
    assert "gymkit > [good] result: passed; .gymkit-cache/tests/good.json" in output
    body = stamp(gym, "good")
    assert body["schema_version"] == SCHEMA_VERSION and body["passed"] is True
    assert body["code_sha256"] == code_fingerprint(gym / "resources_servers" / "good")[0]
    assert body["stages"]["tests"]["counts"] == {"passed": 1, "failed": 0, "errors": 0, "skipped": 0}
    assert {name: s["status"] for name, s in body["stages"].items()} == dict.fromkeys(
        ("environment", "tests", "smoke", "data"), "passed"
    )
    assert body["gymkit_version"] and body["duration_seconds"] > 0 and body["created_at"].endswith("Z")
    # A gym whose .gitignore does not name the cache still never commits it.
    assert (gym / ".gymkit-cache" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_failing_tests_fail_the_run_and_the_stamp_counts_them(
    gym: Path, first_runs: dict[str, tuple[int, str]]
) -> None:
    code, output = first_runs["failing"]
    assert code == 1
    assert "FAILED tests/test_app.py::test_wrong - assert (1 + 1) == 3" in output
    assert "[failing] 1/3 tests: FAILED; reproduce by hand: cd resources_servers/failing && " in output
    assert "error: [failing] failed: tests; the FAILED lines above say where and how to rerun" in output
    assert "Traceback" not in output
    body = stamp(gym, "failing")
    assert body["passed"] is False and body["stages"]["smoke"]["status"] == "passed"
    assert body["stages"]["tests"] == {**body["stages"]["tests"], "status": "failed"}
    assert body["stages"]["tests"]["counts"] == {"passed": 1, "failed": 1, "errors": 0, "skipped": 0}


def test_check_fails_step_3_for_failing_tests_it_used_to_pass(
    gym: Path, first_runs: dict[str, tuple[int, str]]
) -> None:
    code, output = gymkit(gym, "check", "failing", "--select", "GYM3", "--format", "json")
    assert code == 1, output
    findings = {f["code"]: f for f in json.loads(output)["servers"][0]["findings"]}
    # Collecting the tests (all step 3 did before) still passes: they import and are found.
    assert findings["GYM301"]["status"] == findings["GYM302"]["status"] == "pass"
    assert findings["GYM303"]["status"] == "fail"
    assert "`gymkit test failing` failed at " in findings["GYM303"]["message"]
    assert "tests (1 passed, 1 failed)" in findings["GYM303"]["message"]
    good_code, good_output = gymkit(gym, "check", "good", "--select", "GYM3")
    assert good_code == 0, good_output


def test_a_second_run_reuses_the_environment(gym: Path, first_runs: dict[str, tuple[int, str]]) -> None:
    code, output = gymkit(gym, "test", "good")
    assert code == 0, output
    assert "[good] environment: reused (.gymkit-cache/envs/good); requirements unchanged" in output
    assert "environment: built" not in output


def test_an_edit_makes_the_stamp_stale_until_the_tests_run_again(
    gym: Path, first_runs: dict[str, tuple[int, str]]
) -> None:
    server = gym / "resources_servers" / "good"
    config = server / "configs" / "good.yaml"
    config.write_text(config.read_text() + "# a comment decides nothing\n")
    assert gymkit(gym, "check", "good", "--select", "GYM303")[0] == 0  # the reward profiles' hash rules
    test_file = server / "tests" / "test_app.py"
    test_file.write_text(test_file.read_text() + "\n\ndef test_more():\n    assert True\n")
    code, output = gymkit(gym, "check", "good", "--select", "GYM303")
    assert code == 1
    assert "the code changed since `gymkit test good` ran at " in output
    assert "(tests/test_app.py); run it again" in output
    assert gymkit(gym, "test", "good")[0] == 0
    assert stamp(gym, "good")["stages"]["tests"]["counts"]["passed"] == 2
    assert gymkit(gym, "check", "good", "--select", "GYM303")[0] == 0


def test_pytest_options_run_part_of_the_suite_and_record_nothing(
    gym: Path, first_runs: dict[str, tuple[int, str]]
) -> None:
    before = stamp(gym, "failing")
    code, output = gymkit(gym, "test", "failing", "-k", "echo")
    assert code == 0, output  # only the passing test was selected
    assert "1 passed, 1 deselected" in output
    assert "[failing] result: not recorded (pytest options -k echo may select part)" in output
    assert stamp(gym, "failing") == before


def test_names_and_usage(gym: Path) -> None:
    code, output = gymkit(gym, "test", "nope")
    assert code == 1 and "error: no resource server at" in output and "known servers: failing, good" in output
    code, output = gymkit(gym, "test")
    assert code == 2 and "name a server" in output
