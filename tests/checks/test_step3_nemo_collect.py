"""GYM302 collects an upstream server's tests whatever verbosity the checkout's pytest settings add.

NeMo Gym 0.5's pyproject.toml has ``addopts = "--verbose ..."``; a ``-q`` on top of it only cancels
it, pytest then prints its collection tree instead of one test id a line, and every server of the
checkout got "pytest collected no tests".
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import gymkit.nemo.environment
from gymkit.checks.step3_testing import collect_nemo_tests
from gymkit.testing.environment import Environment

TESTS = "def test_one():\n    pass\n\n\ndef test_two():\n    pass\n"


@pytest.mark.parametrize("addopts", ["--verbose", "-vv", ""])
def test_the_ids_are_read_under_the_checkouts_addopts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, addopts: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(f'[tool.pytest.ini_options]\naddopts = "{addopts}"\n')
    server = tmp_path / "resources_servers" / "quiz"
    (server / "tests").mkdir(parents=True)
    (server / "tests" / "test_app.py").write_text(TESTS)
    # This interpreter has pytest: it stands in for the server's NeMo Gym environment.
    here = Environment(Path(sys.prefix), "venv")
    monkeypatch.setattr(gymkit.nemo.environment, "prepare_nemo_environment", lambda folder, log: here)
    ids, error = collect_nemo_tests(server, timeout=120)
    assert error is None
    assert [i.rsplit("::", 1)[1] for i in ids] == ["test_one", "test_two"]
