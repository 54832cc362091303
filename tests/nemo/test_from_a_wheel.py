"""gymkit installed from its wheel, outside this repository, in a contributor's NeMo Gym fork.

The fork is a clone of the test checkout; gymkit is installed (`uv pip install`) from a wheel
built from a clone of this repository into a venv of its own (the contributor's), nothing of
this checkout on the path. There it must do what it does from an editable install: write a NeMo-Gym-native
server, and take an upstream server through steps 1 to 4 under the real nemo-gym runtime.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gymkit.nemo.detect import server_kind
from gymkit.testing.environment import Environment, find_uv
from tests.newcomer.conftest import install_from_wheel, run

pytestmark = [pytest.mark.slow, pytest.mark.nemo]

PYTHON = shutil.which("python3.11")


@pytest.fixture(scope="module")
def wheel_gymkit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if PYTHON is None:
        pytest.skip("python3.11 is needed to make the contributor's venv")
    source, venv = install_from_wheel(tmp_path_factory.mktemp("wheel"), PYTHON, uv=find_uv())
    shutil.rmtree(source)  # nothing of a source tree left to fall back on
    return venv / "bin" / "gymkit"


def test_a_fork_served_by_gymkit_from_its_wheel(
    wheel_gymkit: Path, nemo_checkout: Path, nemo_runtime: Environment, tmp_path: Path
) -> None:
    fork = tmp_path / "Gym"
    cloned = run(["git", "clone", "-q", nemo_checkout, fork], tmp_path)
    assert cloned.returncode == 0, cloned.stdout

    made = run([wheel_gymkit, "new", "sum_check", "--defaults", "--domain", "math"], fork)
    assert made.returncode == 0, made.stdout
    server = fork / "resources_servers" / "sum_check"
    assert server_kind(server) == "nemo_gym"
    assert "from nemo_gym" in (server / "app.py").read_text()

    steps = "GYM1,GYM2,GYM3,GYM4"
    written = tmp_path / "report.json"
    report = ["--report", f"json:{written}"]
    checked = run([wheel_gymkit, "check", "example_single_tool_call", "--select", steps, *report], fork)
    [report] = json.loads(written.read_text())["servers"]
    failed = [f for f in report["findings"] if f["status"] == "fail"]
    assert checked.returncode == 0 and failed == [], checked.stdout
    # Re-verification ran under the real runtime: the stored rewards were reproduced, not skipped.
    [reverified] = [f for f in report["findings"] if f["code"] == "GYM404"]
    assert reverified["status"] == "pass", reverified
