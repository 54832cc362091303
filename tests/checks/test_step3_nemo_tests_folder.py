"""Step 3 in a NeMo Gym checkout reads a server's tests as ``ng_test`` runs them: pytest on the whole
tests folder, with the checkout's root on PYTHONPATH after the server's own folder.

inverse_if, multichallenge and swe_pivot keep their tests in tests/test_<name>.py, and v0.4.0's
gpqa_diamond tests import ``resources_servers.mcqa``; both failed step 3 though ng_test passes them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import gymkit.nemo.environment
from gymkit.checks.fixtures import CheckOptions
from gymkit.checks.runner import run_checks
from gymkit.checks.step3_testing import collect_nemo_tests
from gymkit.findings.model import Finding
from gymkit.testing.environment import Environment

NEMO_APP = "from nemo_gym.base_resources_server import SimpleResourcesServer\n"
GYMKIT_APP = "from gymkit import ResourcesServer\n"
TESTS = "def test_one():\n    pass\n\n\nclass TestVerify:\n    async def test_two(self):\n        pass\n"


def _server(tmp_path: Path, *, nemo: bool, tests: dict[str, str]) -> Path:
    root = tmp_path / ("nemo" if nemo else "gym")
    if nemo:
        (root / "nemo_gym").mkdir(parents=True)
        (root / "nemo_gym" / "__init__.py").write_text("")
        (root / "pyproject.toml").write_text('[project]\nname = "nemo-gym"\nversion = "0.5.0"\n')
    server = root / "resources_servers" / "quiz"
    (server / "tests").mkdir(parents=True)
    (server / "app.py").write_text(NEMO_APP if nemo else GYMKIT_APP)
    for name, text in tests.items():
        (server / "tests" / name).write_text(text)
    return server


def _gym301(server: Path) -> list[Finding]:
    report = run_checks(server, options=CheckOptions(reverify=False), select=["GYM301"])
    return [f for f in report.findings if f.code == "GYM301"]


def test_tests_in_another_test_file_warn_in_nemo_gym_naming_the_file_and_gymkits_rule(tmp_path: Path) -> None:
    found = _gym301(_server(tmp_path, nemo=True, tests={"test_quiz.py": TESTS, "test_none.py": "X = 1\n"}))
    assert [str(f.status) for f in found] == ["warn"], found
    assert "tests/test_quiz.py (2)" in found[0].message and "test_none" not in found[0].message
    assert "ng_test runs the whole tests folder" in found[0].message


def test_a_checkout_whose_test_files_hold_no_test_still_fails(tmp_path: Path) -> None:
    broken = {"test_quiz.py": "def helper():\n    pass\n", "test_bad.py": "def test_(:\n"}
    found = _gym301(_server(tmp_path, nemo=True, tests=broken))
    assert [(str(f.status), f.message) for f in found] == [("fail", "tests/test_app.py is missing")]


def test_a_gymkit_gym_still_requires_test_app(tmp_path: Path) -> None:
    found = _gym301(_server(tmp_path, nemo=False, tests={"test_quiz.py": TESTS}))
    assert [(str(f.status), f.message) for f in found] == [("fail", "tests/test_app.py is missing")]


IMPORTS_SIBLING = "from resources_servers.mcqa.app import LETTERS\n\n\ndef test_letters():\n    assert LETTERS\n"


@pytest.mark.parametrize("nemo", [True, False])
def test_collection_imports_a_sibling_server_from_the_checkouts_root_only_in_nemo_gym(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nemo: bool
) -> None:
    server = _server(tmp_path, nemo=nemo, tests={"test_app.py": IMPORTS_SIBLING})
    sibling = server.parent / "mcqa"
    sibling.mkdir()
    (sibling / "app.py").write_text("LETTERS = 'ABCD'\n")
    # This interpreter has pytest: it stands in for the server's NeMo Gym environment.
    here = Environment(Path(sys.prefix), "venv")
    monkeypatch.setattr(gymkit.nemo.environment, "prepare_nemo_environment", lambda folder, log: here)
    ids, error = collect_nemo_tests(server, timeout=120)
    if nemo:
        assert error is None
        assert [i.rsplit("::", 1)[1] for i in ids] == ["test_letters"]
    else:
        assert error is not None and "No module named 'resources_servers" in error


def test_a_server_built_on_a_siblings_code_is_a_nemo_gym_server(tmp_path: Path) -> None:
    # v0.4.0's gpqa_diamond imports only resources_servers.mcqa, whose app imports nemo_gym: collected in
    # gymkit's Python it failed on nemo_gym's own imports.
    from gymkit.nemo.detect import server_kind

    def built_on_mcqa(folder: Path, mcqa: str) -> Path:
        server = _server(folder, nemo=True, tests={})
        (server / "app.py").write_text("from resources_servers.mcqa.app import MCQAServer\n")
        (server.parent / "mcqa").mkdir()
        (server.parent / "mcqa" / "app.py").write_text(mcqa)
        return server

    assert server_kind(built_on_mcqa(tmp_path / "a", NEMO_APP)) == "nemo_gym"
    # Each imports the other and neither nemo_gym: no loop, and no kind.
    assert server_kind(built_on_mcqa(tmp_path / "b", "import resources_servers.quiz.app\n")) is None


def test_collection_in_gymkits_python_has_the_checkouts_root_too(tmp_path: Path) -> None:
    from gymkit.checks.step3_testing import pytest_command

    server = _server(tmp_path, nemo=True, tests={})
    assert pytest_command(server)[1]["PYTHONPATH"].split(":") == [str(server), str(tmp_path / "nemo")]
    gym = _server(tmp_path, nemo=False, tests={})
    assert pytest_command(gym)[1]["PYTHONPATH"] == str(gym)
