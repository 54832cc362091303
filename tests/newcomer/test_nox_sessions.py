"""Every nox session the README tells a contributor to run works from a fresh clone, on a fresh server."""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import pytest

from .conftest import REPO, run

pytestmark = pytest.mark.slow

README = (REPO / "README.md").read_text(encoding="utf-8")
# Small enough for the embedded model on two cores; the options are the sessions' own.
OPTIONS = {"profile-rewards": ["--num-prompts", "8", "--samples", "4"], "rollouts": ["--limit", "2"]}


def readme_sessions() -> dict[str, str]:
    """Each `nox -s SESSION ...` command in the README, by session name (NAME stands for a server)."""
    found = {}
    for command in re.findall(r"nox -s (\"[^\"]+\"|[\w-]+)", README):
        name = shlex.split(command)[0]
        found[re.sub(r"\(.*\)$", "", name)] = name
    return found


def test_the_readme_names_the_contributor_sessions() -> None:
    assert {"test-server", "rollouts", "profile-rewards"} <= set(readme_sessions())


@pytest.fixture(scope="module")
def with_server(clone: Path) -> Path:
    made = run([sys.executable, "-m", "gymkit", "new", "my_task", "--defaults"], clone)
    assert made.returncode == 0, made.stdout
    return clone


@pytest.mark.parametrize("session", sorted(readme_sessions()))
def test_each_readme_session_runs_from_a_fresh_clone(with_server: Path, session: str) -> None:
    nox = [sys.executable, "-m", "nox", "-f", with_server / "noxfile.py"]
    if session == "test-server":
        done = run([*nox, "-s", "test-server(my_task)"], with_server)
    else:
        done = run([*nox, "-s", session, "--", "my_task", *OPTIONS.get(session, [])], with_server)
    assert done.returncode == 0, done.stdout[-4000:]
    server = with_server / "resources_servers" / "my_task"
    if session == "test-server":
        assert "[my_task] result: passed" in done.stdout
    elif session == "rollouts":
        rows = (server / "data" / "example_rollouts.jsonl").read_text().splitlines()
        assert len(rows) == 2 and all(json.loads(row)["_gymkit"]["endpoint"] == "embedded" for row in rows)
    elif session == "profile-rewards":
        profile = json.loads((server / "reports" / "reward_profile" / "reward_profile.json").read_text())
        assert profile["num_prompts"] * profile["samples_per_prompt"] == profile["num_rollouts"] > 0
    else:
        pytest.fail(f"the README names nox -s {session}; this test does not know what it should produce")
