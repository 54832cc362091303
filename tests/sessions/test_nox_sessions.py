"""``nox -s test-server`` run for real against gym trees in temp folders.

Each tree is laid out like a contributor's fork (the noxfile at its root); GYMKIT_SOURCE
points the editable install at this checkout. The session is a thin declaration over
``gymkit test NAME``, so these tests cover both. Environments are built with uv from its
usual cache, so after the first run on a machine a cold environment takes seconds.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from .builders import PINNED_TEST, REPO, TESTS, add_server, new_gym, task_row

pytestmark = pytest.mark.slow

SERVERS = ["broken", "six_new", "six_old"]


def run_nox(root: Path, *args: str, source: Path = REPO, **extra_env: str) -> tuple[int, str]:
    env = {**os.environ, "GYMKIT_SOURCE": str(source), "NO_COLOR": "1", **extra_env}
    proc = subprocess.run(
        [sys.executable, "-m", "nox", "-f", str(root / "noxfile.py"), *args],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
        check=False,
    )
    return proc.returncode, proc.stdout


def reproduce(root: Path, output: str, server: str, stage: str) -> subprocess.CompletedProcess[str]:
    """Run the command the session printed for a failed stage, as a contributor would paste it."""
    match = re.search(rf"\[{server}\] {stage}: FAILED; reproduce by hand: (.+)", output)
    assert match, output
    command = match.group(1)
    if command.startswith("cd "):
        folder, command = command.removeprefix("cd ").split(" && ", 1)
        cwd = root / folder
    else:
        cwd = root
    return subprocess.run(shlex.split(command), cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def gym(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = new_gym(tmp_path_factory.mktemp("gym"))
    for name, version in (("six_old", "1.16.0"), ("six_new", "1.17.0")):
        add_server(
            root, name, requirements=f"six=={version}\n", tests={"test_app.py": TESTS, "test_pin.py": PINNED_TEST}
        )
    # One server broken three ways: each stage runs, and reports, whatever the others found.
    # (An environment costs seconds to build, so the three cases share one.)
    add_server(
        root,
        "broken",
        tests={"test_app.py": "def test_sum():\n    assert 1 + 1 == 3\n"},
        rows=[task_row(0), task_row(1), "{oops", task_row(3), task_row(1), task_row(5)],
        verify_line="ratio = 1 / 0",
    )
    return root


@pytest.fixture(scope="module")
def all_servers(gym: Path) -> tuple[int, str]:
    """One run of every server's session; the tests below read its output."""
    return run_nox(gym, "-s", "test-server")


def test_list_shows_one_session_per_server_with_its_docstring(gym: Path) -> None:
    code, output = run_nox(gym, "-l")
    assert code == 0, output
    for name in SERVERS:
        assert f"test-server({name})" in output
    docstring = "A server in its own environment: its tests, smoke test, data validation."
    assert f"{docstring} `-- NAME... [pytest options]`." in output


def test_conflicting_requirements_both_pass(all_servers: tuple[int, str], gym: Path) -> None:
    code, output = all_servers
    assert code == 1  # the broken servers below fail; these two must not
    for name in ("six_old", "six_new"):
        assert f"Session test-server({name}) was successful" in output, output
        assert f"[{name}] 1/3 tests: passed" in output
        assert f"[{name}] 2/3 smoke and 3/3 data: passed" in output
    versions = {}
    for name in ("six_old", "six_new"):
        python = gym / ".gymkit-cache" / "envs" / name / "bin" / "python"
        versions[name] = subprocess.run(
            [python, "-c", "import six; print(six.__version__)"], capture_output=True, text=True, check=True
        ).stdout.strip()
    assert versions == {"six_old": "1.16.0", "six_new": "1.17.0"}


def test_a_broken_server_fails_and_each_stage_says_why(all_servers: tuple[int, str]) -> None:
    _, output = all_servers
    assert "error: [broken] failed: tests, smoke, data; the FAILED lines above say where and how to rerun" in output
    assert "Session test-server(broken) failed." in output
    assert "Traceback" not in output
    # The smoke and data stages ran alongside the tests; their output still comes after the tests' output.
    order = ["= FAILURES =", "[broken] 1/3 tests: FAILED in", "[broken] 2/3 smoke and 3/3 data: out", "smoke: FAILED"]
    positions = [output.index(marker) for marker in order]
    assert positions == sorted(positions)


def test_failing_tests_name_the_test_file_and_the_command(all_servers: tuple[int, str], gym: Path) -> None:
    _, output = all_servers
    assert "FAILED tests/test_app.py::test_sum - assert (1 + 1) == 3" in output
    rerun = reproduce(gym, output, "broken", "1/3 tests")
    assert rerun.returncode == 1
    assert "FAILED tests/test_app.py::test_sum" in rerun.stdout


def test_malformed_data_names_the_file_and_line(all_servers: tuple[int, str], gym: Path) -> None:
    _, output = all_servers
    assert (
        "FAIL resources_servers/broken/data/example.jsonl:3: not valid JSON: write one JSON object per line" in output
    )
    assert "FAIL resources_servers/broken/data/example.jsonl:5: same row as line 2" in output
    command = ".gymkit-cache/envs/broken/bin/gymkit validate-data resources_servers/broken"
    assert f"[broken] 3/3 data: FAILED; reproduce by hand: {command}" in output


def test_verify_that_raises_names_the_row_and_the_line_in_app(all_servers: tuple[int, str], gym: Path) -> None:
    _, output = all_servers
    app = gym / "resources_servers" / "broken" / "app.py"
    line = next(n for n, text in enumerate(app.read_text().splitlines(), 1) if "1 / 0" in text)
    assert (
        "FAIL resources_servers/broken/data/example.jsonl:1: /verify answered HTTP 500: "
        f"/verify raised ZeroDivisionError: division by zero (at resources_servers/broken/app.py:{line})"
    ) in output
    rerun = reproduce(gym, output, "broken", "2/3 smoke")
    assert rerun.returncode == 1
    assert "error: smoke test of broken_resources_server (resources_servers/broken) failed" in rerun.stderr
    assert "Traceback" not in rerun.stdout + rerun.stderr


def test_a_changed_requirement_rebuilds_the_environment(all_servers: tuple[int, str], gym: Path) -> None:
    stale = gym / ".gymkit-cache" / "envs" / "six_old" / "stale-marker"
    stale.write_text("left from the old environment")
    (gym / "resources_servers" / "six_old" / "requirements.txt").write_text("six==1.17.0\n")
    code, output = run_nox(gym, "-s", "test-server(six_old)")
    assert code == 0, output  # the server's own test asserts six is now 1.17.0
    assert "[six_old] environment: requirements changed, rebuilding" in output
    assert not stale.exists()
    # The next run reuses the rebuilt environment: see the posargs test below.


def test_posargs_pick_servers_and_pass_options_to_pytest(all_servers: tuple[int, str], gym: Path) -> None:
    code, output = run_nox(gym, "-s", "test-server", "--", "six_new", "six_old", "-k", "pins")
    assert code == 0, output
    assert "Session test-server(six_new) was successful" in output
    assert "[six_old] environment: reused" in output and "environment: built" not in output
    assert "rebuilding" not in output  # six_old was rebuilt for its new pin above, once
    assert output.count("1 passed, 1 deselected") == 2  # -k pinned reached both servers' pytest
    assert "Session test-server(broken) skipped: not selected (selected: six_new six_old)" in output


def test_an_unknown_name_is_an_error_that_lists_the_servers(gym: Path) -> None:
    code, output = run_nox(gym, "-s", "test-server", "--", "six_old", "nope")
    assert code == 1
    assert f"no server named nope in resources_servers/; known: {', '.join(SERVERS)}" in output


def test_a_wrong_gymkit_source_is_one_clear_line(gym: Path, tmp_path: Path) -> None:
    code, output = run_nox(gym, "-s", "test-server(six_new)", source=tmp_path)
    assert code == 1
    assert f"no gymkit checkout at {tmp_path} (no pyproject.toml); set GYMKIT_SOURCE to one" in output
    assert "Traceback" not in output


def test_requirements_that_cannot_install_name_the_file(tmp_path: Path) -> None:
    root = new_gym(tmp_path)
    add_server(root, "unresolvable", requirements="gymkit-no-such-package-anywhere==9.9.9\n")
    code, output = run_nox(root, "-s", "test-server")
    assert code == 1
    assert "gymkit-no-such-package-anywhere" in output  # the installer's own explanation
    # One line names the file and carries the installer's reason, so a check's finding says why.
    line = "[unresolvable] environment: installing resources_servers/unresolvable/requirements.txt failed: "
    assert re.search(
        re.escape(line) + r".*gymkit-no-such-package-anywhere.*\(the installer's whole output is above\)", output
    )
    assert "Traceback" not in output


def test_the_smoke_test_sees_no_more_than_the_server_environment(tmp_path: Path) -> None:
    # A module reachable only through the caller's PYTHONPATH must not make the smoke test
    # pass where CI, without it, fails; the tests stage already replaces PYTHONPATH.
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "outside_only.py").write_text("VALUE = 1\n")
    root = new_gym(tmp_path / "gym")
    add_server(root, "leaky", verify_line="import outside_only  # noqa: F401")
    code, output = run_nox(root, "-s", "test-server", PYTHONPATH=str(outside))
    assert code == 1, output
    assert "No module named 'outside_only'" in output
    assert "[leaky] failed: smoke;" in output
