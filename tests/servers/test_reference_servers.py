"""The reference servers in resources_servers/: their own test suites, their data, their rollouts.

Each server's tests run in a subprocess the way `nox -s test-server` runs them (from the
server's folder, isolated from gymkit's pytest settings), but in this environment, so the
whole set costs seconds rather than four virtualenv builds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gymkit.jsonl import iter_rows
from gymkit.project import ServerPaths
from gymkit.reverify import reverify_rollouts
from gymkit.runtime.config import Domain

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = {
    "arithmetic": Domain.MATH,
    "weather": Domain.AGENT,
    "json_extraction": Domain.INSTRUCTION_FOLLOWING,
    "python_sandbox": Domain.CODING,
}
ISOLATED = ["-c", os.devnull, "--rootdir", ".", "-p", "no:cacheprovider", "-q", "-o", "asyncio_mode=auto"]


def paths(name: str) -> ServerPaths:
    return ServerPaths(ROOT / "resources_servers" / name)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_server_suite_passes(name: str) -> None:
    server = paths(name)
    env = {**os.environ, "PYTHONPATH": str(server.dir), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *ISOLATED, "tests"],
        cwd=server.dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " failed" not in result.stdout


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_server_was_scaffolded_and_declares_its_domain_and_licences(name: str) -> None:
    server = paths(name)
    answers = yaml.safe_load((server.dir / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["server_name"] == name and answers["domain"] == REFERENCE[name].value
    config = server.config()
    assert config.resources_server.domain == REFERENCE[name]
    licences = {d.type: d.license for d in config.datasets()}
    assert licences["train"] == licences["validation"] == "Apache 2.0"


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_data_is_what_the_generator_writes(name: str) -> None:
    server = paths(name)
    result = subprocess.run(
        [sys.executable, str(server.dir / "generate_data.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    counts = {split: sum(1 for _ in iter_rows(server.data / f"{split}.jsonl")) for split in ("example", "train")}
    assert counts["example"] >= 5 and counts["train"] >= 500


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_stored_rollouts_reverify_against_the_running_server(name: str) -> None:
    server = paths(name)
    report = reverify_rollouts(server, verify_timeout=20)
    assert report.error is None, report.error
    assert len(report.rows) >= 5
    assert not report.differences, [(r.line, r.stored, r.reward, r.error) for r in report.differences]
