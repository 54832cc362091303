"""The result stamp on its own: what counts as fresh, how a bad one reads, what GYM303 says (no environments)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gymkit.checks.step3_testing import stamp_problems
from gymkit.testing.stamp import StageResult, TestStamp, code_fingerprint, read_stamp, stamp_path, write_stamp

from .builders import add_server


def _stamp(server: Path, **statuses: str) -> TestStamp:
    code_sha, files = code_fingerprint(server)
    stamp = TestStamp(server.name, code_sha, files)
    for name in stamp.stages:
        stamp.stages[name] = StageResult(statuses.get(name, "passed"))  # type: ignore[arg-type]
    stamp.stages["tests"].counts = {"passed": 3, "failed": 0, "errors": 0, "skipped": 1}
    return stamp


def test_the_stamp_sits_in_the_gym_cache_and_reads_back(tmp_path: Path) -> None:
    server = add_server(tmp_path, "alpha")
    path = write_stamp(server, _stamp(server))
    assert path == tmp_path / ".gymkit-cache" / "tests" / "alpha.json" == stamp_path(server)
    stamp, error = read_stamp(server)
    assert error is None and stamp is not None and stamp.passed
    assert stamp.stages["tests"].counts == {"passed": 3, "failed": 0, "errors": 0, "skipped": 1}
    assert stamp_problems(server) == []
    assert not list(path.parent.glob(".*.tmp"))  # the atomic write left no temp file


def test_failures_carry_the_counts_and_the_command(tmp_path: Path) -> None:
    server = add_server(tmp_path, "alpha")
    stamp = _stamp(server, tests="failed", data="failed")
    stamp.stages["tests"].counts = {"passed": 2, "failed": 1, "errors": 1, "skipped": 0}
    write_stamp(server, stamp)
    (problem,) = stamp_problems(server)
    assert "`gymkit test alpha` failed at " in problem.message
    assert "tests (2 passed, 1 failed, 1 errors), data; run it, its FAILED lines say how to rerun" in problem.message


def test_no_stamp_a_bad_stamp_and_a_passing_run_without_tests(tmp_path: Path) -> None:
    server = add_server(tmp_path, "alpha")
    (problem,) = stamp_problems(server)
    assert problem.message.startswith("no result of `gymkit test alpha` for this server yet: run it")
    path = write_stamp(server, _stamp(server))
    path.write_text(json.dumps({**json.loads(path.read_text()), "schema_version": 99}))
    (problem,) = stamp_problems(server)
    assert "alpha.json: schema_version 99 is newer than this gymkit reads (1): upgrade gymkit" in problem.message
    assert problem.file == str(path)
    path.write_text("{half")
    assert "alpha.json: not valid JSON" in stamp_problems(server)[0].message
    empty = _stamp(server)
    empty.stages["tests"].counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 2}
    write_stamp(server, empty)
    assert "passed without running a test" in stamp_problems(server)[0].message


def test_what_makes_a_stamp_stale(tmp_path: Path) -> None:
    server = add_server(tmp_path, "alpha")
    write_stamp(server, _stamp(server))
    (server / "reports" / "reward_profile").mkdir(parents=True)
    (server / "reports" / "reward_profile" / "notes.txt").write_text("gymkit's outputs do not count")
    (server / "README.md").write_text("prose does not count")
    (server / "__pycache__").mkdir()
    (server / "__pycache__" / "app.cpython-311.pyc").write_text("nor do caches")
    assert stamp_problems(server) == []
    config = server / "configs" / "alpha.yaml"
    config.write_text(config.read_text().replace("domain: other", "domain: math"))
    assert stamp_problems(server)[0].message.endswith("(configs/); run it again")
    write_stamp(server, _stamp(server))
    (server / "data" / "example.jsonl").write_text("")
    (server / "app.py").write_text((server / "app.py").read_text() + "\n")
    assert "(app.py, data/example.jsonl); run it again" in stamp_problems(server)[0].message


@pytest.mark.parametrize(
    ("file", "text"),
    [
        ("reports/grader.py", "def score():\n    return 0.0\n"),  # reports/ is gymkit's only in its own folders
        ("lib/data/scorer.py", "WEIGHT = 0\n"),  # data/ and tests/ are special at the top only
        ("lib/tests/cases.py", "CASES = []\n"),
        ("rubric.json", '{"pass": 0}\n'),
        ("pytest.ini", "[pytest]\naddopts = -k nothing_matches\n"),
        ("conftest.py", "collect_ignore_glob = ['*']\n"),
        ("vendor/grader-0.1-py3-none-any.whl", "wheel v2"),
        ("tests/.hidden.toml", "[tool]\n"),
        ("data/lexicon.json", "{}\n"),
    ],
)
def test_every_file_that_decides_the_outcome_makes_the_stamp_stale(tmp_path: Path, file: str, text: str) -> None:
    server = add_server(tmp_path, "alpha", requirements="grader @ file:./vendor/grader-0.1-py3-none-any.whl\n")
    for rel, body in {
        "reports/grader.py": "def score():\n    return 1.0\n",
        "lib/data/scorer.py": "WEIGHT = 1\n",
        "rubric.json": '{"pass": 1}\n',
        "pytest.ini": "[pytest]\n",
        "vendor/grader-0.1-py3-none-any.whl": "wheel v1",
    }.items():
        (server / rel).parent.mkdir(parents=True, exist_ok=True)
        (server / rel).write_text(body)
    write_stamp(server, _stamp(server))
    assert stamp_problems(server) == []
    (server / file).parent.mkdir(parents=True, exist_ok=True)
    (server / file).write_text(text)
    (problem,) = stamp_problems(server)
    assert problem.message.endswith(f"({file}); run it again"), problem.message


def test_a_change_in_an_included_file_outside_the_server_is_named(tmp_path: Path) -> None:
    shared = tmp_path / "shared" / "requirements.txt"
    shared.parent.mkdir()
    shared.write_text("six==1.16.0\n")
    server = add_server(tmp_path, "alpha", requirements="-r ../../shared/requirements.txt\n")
    write_stamp(server, _stamp(server))
    shared.write_text("six==1.17.0\n")
    (problem,) = stamp_problems(server)
    assert problem.message.endswith("(../../shared/requirements.txt); run it again"), problem.message
