"""A NeMo Gym server whose requirements leave pytest out still has its tests collected, with a warning.

v0.4.0's arc_agi writes `-e ../../` where upstream's template writes `-e nemo-gym[dev] @ ../../`:
its venv has no pytest, and GYM302 failed. Upstream's ng_test runs whichever pytest is on PATH
then, and passes; gymkit installs pytest beside the environment (not into it), collects, and
warns that the venv cannot run its own tests, naming upstream's template.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from gymkit.testing.environment import Environment
from tests.nemo.gymkit_cli import check_json

pytestmark = [pytest.mark.slow, pytest.mark.nemo]


def test_a_server_without_pytest_in_its_requirements_is_collected_and_warned_of(
    nemo_checkout: Path, nemo_runtime: Environment, tmp_path: Path
) -> None:
    gym = tmp_path / "Gym"
    subprocess.run(["git", "clone", "-q", str(nemo_checkout), str(gym)], check=True, capture_output=True)
    server = gym / "resources_servers" / "example_single_tool_call"
    (server / "requirements.txt").write_text("-e ../../\n")
    done, [report] = check_json(gym, server.name, "--select", "GYM302")
    findings = [f for f in report["findings"] if f["code"] == "GYM302"]
    assert [f["status"] for f in findings] == ["warn"], findings
    assert "do not install pytest" in findings[0]["message"] and "nemo-gym[dev]" in findings[0]["message"]
    assert done.returncode == 0, done.stderr[-2000:]
    # Installed beside the server's environment, which stays what its requirements make it.
    [env] = [p for p in (gym / ".gymkit-cache" / "envs").iterdir() if p.is_dir()]
    assert (env / "gymkit-pytest" / "pytest").is_dir()
    assert not list(env.glob("lib/python*/site-packages/pytest"))
    assert shutil.which("pytest", path=str(env / "bin")) is None
