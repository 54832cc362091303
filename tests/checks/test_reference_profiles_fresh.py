"""The reference servers' committed reward profiles describe the code beside them.

A change to a reference server (an import path, a requirement) that leaves its profile's
code hash behind turns GYM502 red on every pull request touching that server, and the
README's main job (`gymkit reproduce weather`) fails with it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ROOT.glob("resources_servers/*/reports/reward_profile/reward_profile.json")
PROFILED = sorted(p.parents[2].name for p in PROFILES)


def test_the_reference_servers_have_profiles() -> None:
    assert "weather" in PROFILED


@pytest.mark.parametrize("name", PROFILED)
def test_the_committed_profile_is_fresh(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gymkit", "check", name, "--no-reverify", "--select", "GYM502", "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(done.stdout)
    found = [f for server in report["servers"] for f in server["findings"] if f["code"] == "GYM502"]
    assert found, done.stdout[-2000:]
    assert all(f["status"] == "pass" for f in found), found
