"""The smoke test's and re-verification's HTTP calls: one session per rollout, loopback only, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from gymkit.project import ServerPaths
from gymkit.reverify import reverify_rollouts
from gymkit.smoke import smoke_test
from tests.checks.conftest import build_server
from tests.sessions.builders import add_server

# seed_session keeps the row's answer in the session; verify takes it back out, so a verify
# that lands in another rollout's session (or a second verify in one session) fails loudly.
SEEDS_ITS_SESSION = """

async def _seed(self, body):
    self.session["expected"] = (body.model_extra or {}).get("expected_answer")


ExactServer.seed_session = _seed
"""
OWN_SESSION = "assert self.session.pop('expected', None) == expected, 'verify saw another rollout session'"
# A closed port: a client that took the proxy from the environment would fail every call.
DEAD_PROXY = "http://127.0.0.1:9"


@pytest.fixture
def seeded(tmp_path: Path) -> ServerPaths:
    paths = ServerPaths(add_server(tmp_path, "seeded", verify_line=OWN_SESSION))
    paths.app.write_text(paths.app.read_text() + SEEDS_ITS_SESSION)
    return paths


def test_the_smoke_test_gives_each_rollout_its_own_session(seeded: ServerPaths) -> None:
    lines: list[str] = []
    report = smoke_test(seeded, progress=lines.append)
    assert report.ok, report.problems
    # Two rollouts per row (empty response, then the expected answer), each seeded and verified once.
    assert "ok   example.jsonl:2 verify: empty response -> reward 0, reply = expected_answer -> reward 1" in lines


def test_the_smoke_test_talks_to_the_server_it_started_whatever_proxy_the_environment_names(
    seeded: ServerPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, DEAD_PROXY)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    report = smoke_test(seeded)
    assert report.ok, report.problems


def test_reverification_carries_no_session_from_one_rollout_to_the_next(tmp_path: Path) -> None:
    server = build_server(tmp_path)
    app = server / "app.py"
    marker = "        numbers = re.findall"
    guard = "        assert 'seen' not in self.session, 'a session carried over'\n        self.session['seen'] = True\n"
    app.write_text(app.read_text().replace(marker, guard + marker, 1))
    report = reverify_rollouts(ServerPaths(server), verify_timeout=10)
    assert [row.error for row in report.rows] == [None] * 5
    assert report.ok and [r.reward for r in report.rows] == [1.0, 0.0, 1.0, 0.0, 1.0]
    assert report.reverify_mode == "stateless"


def test_a_verify_that_answers_an_error_is_one_line_naming_the_status(tmp_path: Path) -> None:
    server = build_server(tmp_path)
    app = server / "app.py"
    marker = "        numbers = re.findall"
    app.write_text(app.read_text().replace(marker, "        raise ValueError('no sums today')\n" + marker, 1))
    report = reverify_rollouts(ServerPaths(server), verify_timeout=10)
    errors = [row.error or "" for row in report.rows]
    assert len(errors) == 5 and all(e.startswith("verify answered HTTP 500: ") for e in errors), errors
    assert all("no sums today" in e and "\n" not in e for e in errors), errors
