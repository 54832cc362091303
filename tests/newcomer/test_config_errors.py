"""A config with a field missing is reported with its file, line and field by every command that starts the server.

The server starts in a child process; its own ``error:`` line must reach the user, not
the ``hint:`` line printed under it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

GOOD = Path(__file__).resolve().parents[1] / "checks" / "servers" / "good"
ALLOWED = "hint: allowed domains: math, coding, agent"


@pytest.fixture(scope="module")
def no_domain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gym = tmp_path_factory.mktemp("gym")
    server = gym / "resources_servers" / "good"
    shutil.copytree(GOOD, server)
    config = server / "configs" / "good.yaml"
    config.write_text(config.read_text().replace("      domain: math\n", "", 1))
    return gym


def gymkit(gym: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "gymkit", *args],
        cwd=gym,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("command", [["rollouts", "good"], ["profile", "good", "--num-prompts", "2", "--samples", "1"]])
def test_the_error_line_names_file_line_and_field(no_domain: Path, command: list[str]) -> None:
    done = gymkit(no_domain, *command)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[-2].startswith("error: ") and lines[-2].endswith(
        "resources_servers/good/configs/good.yaml:3: good_resources_server.resources_servers.good.domain: "
        "required field is missing"
    ), done.stderr
    assert lines[-1].startswith(ALLOWED), done.stderr
    assert "error: hint:" not in done.stderr


def test_reproduce_says_which_field_is_missing(no_domain: Path) -> None:
    done = gymkit(no_domain, "reproduce", "good", "--no-recollect")
    assert done.returncode == 1
    where = "configs/good.yaml:3: good_resources_server.resources_servers.good.domain: required field is missing"
    reverify = next(line for line in done.stdout.splitlines() if "re-verification" in line)
    assert reverify.startswith("FAIL  re-verification: the server did not start: ") and where in reverify, reverify
    assert "hint:" not in reverify
