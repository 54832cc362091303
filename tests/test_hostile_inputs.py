"""Every command against files built to break it: one ``error:`` line naming the file, exit 1, quickly.

A pull request controls its server's data, config, README and reports; a reviewer runs gymkit on
them. Each case plants one hostile file and runs the real CLI, which must neither print a
traceback nor hang nor run out of memory.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

import gymkit.inputs
from gymkit.cli import app
from tests.checks.conftest import build_server

SECONDS = 30  # far above what any case takes; a hang would be stopped by nothing else
NAME = "good"

Plant = Callable[[Path], None]


def _bytes(data: bytes) -> Plant:
    return lambda path: path.write_bytes(data)


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _dir(path: Path) -> None:
    path.mkdir()


def _link(target: str) -> Plant:
    return lambda path: path.symlink_to(target)


def _deep_json(levels: int) -> bytes:
    return b'{"a":' * levels + b"1" + b"}" * levels + b"\n"


def _deep_row(levels: int) -> bytes:
    # A valid task row but for one field nested too deep for orjson to write back.
    row = b'{"responses_create_params": {"input": "q"}, "deep": '
    return row + b"[" * levels + b"]" * levels + b"}\n"


DEEP_YAML = b"[" * 100_000 + b"]" * 100_000 + b"\n"
DEEP_BLOCK_YAML = b"".join(b"  " * i + b"k:\n" for i in range(200)) + b"  " * 200 + b"v: 1\n"
LAUGHS = b"a: &a [x, x, x, x, x, x, x, x, x]\n" + b"".join(
    b"%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n" % ((98 + i, 98 + i) + (97 + i,) * 9) for i in range(9)
)
PYTHON_TAG = b"x: !!python/object/apply:os.system ['echo owned']\n"


@pytest.fixture
def gym(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    build_server(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _server(gym: Path) -> Path:
    return gym / "resources_servers" / NAME


def _plant(path: Path, plant: Plant) -> Path:
    if path.is_dir() and not path.is_symlink():
        raise AssertionError(f"{path} is a folder")
    path.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    plant(path)
    return path


def _run(*args: str) -> tuple[int, str]:
    start = time.monotonic()
    result = CliRunner().invoke(app, list(args))
    elapsed = time.monotonic() - start
    assert elapsed < SECONDS, f"{args} took {elapsed:.1f} s"
    output = result.output  # stdout and stderr, as a terminal shows them
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output, output
    return result.exit_code, output


def _one_error(output: str, file: Path, expected: str) -> None:
    """One ``error:`` line; the file (as given, or relative to the gym) and the problem are named."""
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    shown = {str(file), os.path.relpath(file)}
    assert any(f"{name}:" in output for name in shown), output
    assert expected in output, output


# -- validate-data: data/example.jsonl and data/example_rollouts.jsonl -----------------------------

DATA_CASES: dict[str, tuple[str, Plant, str]] = {
    "deep JSON, 100k levels": ("example.jsonl", _bytes(_deep_json(100_000)), "nested deeper than"),
    "deep JSON, 500 levels": ("example.jsonl", _bytes(_deep_row(500)), "nested deeper than 200 levels"),
    "not UTF-8": ("example.jsonl", _bytes(b'{"a": "\xff\xfe"}\n'), "not UTF-8 at byte 7"),
    "byte-order mark": ("example.jsonl", _bytes(b'\xef\xbb\xbf{"a": 1}\n'), "byte-order mark"),
    "NUL bytes": ("example.jsonl", _bytes(b"\x00\x00\x00\n"), "NUL byte"),
    "1e999": ("example_rollouts.jsonl", _bytes(b'{"reward": 1e999}\n'), "too large for a float"),
    "NaN": ("example_rollouts.jsonl", _bytes(b'{"reward": NaN}\n'), "NaN and Infinity are not JSON"),
    "empty": ("example.jsonl", _bytes(b""), "no rows"),
    "FIFO": ("example.jsonl", _fifo, "not a regular file (a FIFO)"),
    "directory": ("example_rollouts.jsonl", _dir, "not a regular file (a directory)"),
    "/dev/zero": ("example_rollouts.jsonl", _link("/dev/zero"), "leads out of the repository"),
    "/etc/passwd": ("example.jsonl", _link("/etc/passwd"), "leads out of the repository (to /etc/passwd)"),
}


@pytest.mark.parametrize("case", list(DATA_CASES))
def test_validate_data_refuses_hostile_data(gym: Path, case: str) -> None:
    name, plant, expected = DATA_CASES[case]
    path = _plant(_server(gym) / "data" / name, plant)
    code, output = _run("validate-data", NAME)
    assert code == 1
    _one_error(output, path, expected)


def test_a_huge_line_is_refused_without_reading_it_all(gym: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gymkit.inputs, "MAX_LINE_BYTES", 1024 * 1024)
    path = _plant(_server(gym) / "data" / "example.jsonl", _bytes(b"a" * (3 * 1024 * 1024)))
    code, output = _run("validate-data", NAME)
    assert code == 1
    _one_error(output, path, f"{os.path.relpath(path)}:1: line longer than 1 MiB")


def test_a_symlink_inside_the_repository_is_followed(gym: Path) -> None:
    data = _server(gym) / "data"
    (gym / "shared.jsonl").write_bytes((data / "example.jsonl").read_bytes())
    _plant(data / "example.jsonl", _link(str(gym / "shared.jsonl")))
    code, output = _run("validate-data", NAME)
    assert code == 0, output


# -- serve / smoke: configs/NAME.yaml --------------------------------------------------------------

CONFIG_CASES: dict[str, tuple[Plant, str]] = {
    "deep flow YAML, 100k levels": (_bytes(DEEP_YAML), ":1: not valid YAML: nested deeper than 64 levels"),
    "deep block YAML": (_bytes(DEEP_BLOCK_YAML), "not valid YAML: nested deeper than 64 levels"),
    "billion laughs": (_bytes(LAUGHS), "expands to more than 100000 nodes through aliases"),
    "recursive alias": (_bytes(b"a: &a [*a]\n"), "an alias refers to the node that holds it"),
    "python tag": (_bytes(PYTHON_TAG), "could not determine a constructor"),
    "not UTF-8": (_bytes(b"good:\n  x: \xff\n"), ":2: not UTF-8 at byte 11"),
    "NUL byte": (_bytes(b"good: \x00\n"), "not valid YAML"),
    "empty": (_bytes(b""), "expected a mapping of server instances"),
    "FIFO": (_fifo, "not a regular file (a FIFO)"),
    "/etc/passwd": (_link("/etc/passwd"), "leads out of the repository (to /etc/passwd)"),
}


@pytest.mark.parametrize("command", ["serve", "smoke"])
@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_serve_and_smoke_refuse_a_hostile_config(gym: Path, case: str, command: str) -> None:
    plant, expected = CONFIG_CASES[case]
    path = _plant(_server(gym) / "configs" / f"{NAME}.yaml", plant)
    code, output = _run(command, NAME)
    assert code == 1
    _one_error(output, path, expected)


def test_check_reports_a_hostile_config_as_a_finding(gym: Path) -> None:
    _plant(_server(gym) / "configs" / f"{NAME}.yaml", _bytes(LAUGHS))
    code, output = _run("check", NAME, "--no-reverify", "--select", "GYM2,GYM5")
    assert code == 1
    assert "expands to more than 100000 nodes" in output


def test_check_reports_a_fifo_report_as_a_finding(gym: Path) -> None:
    _plant(_server(gym) / "reports" / "reward_profile" / "reward_profile.json", _fifo)
    code, output = _run("check", NAME, "--no-reverify", "--select", "GYM5,GYM7")
    assert code == 1
    assert "reward_profile.json cannot be read: not a regular file (a FIFO)" in output


# -- profile --rollouts ---------------------------------------------------------------------------


def _rollout(task: int, rollout: int, reward: object = 1.0) -> dict[str, object]:
    return {
        "responses_create_params": {"input": "q"},
        "response": {"output": []},
        "reward": reward,
        "_ng_task_index": task,
        "_ng_rollout_index": rollout,
    }


def _jsonl(*rows: dict[str, object]) -> Plant:
    return _bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))


PROFILE_CASES: dict[str, tuple[Plant, str]] = {
    "FIFO": (_fifo, "not a regular file (a FIFO)"),
    "deep JSON": (_bytes(_deep_json(100_000)), ":1: not valid JSON: nested deeper than"),
    "1e999": (_bytes(b'{"reward": 1e999}\n'), ":1: not valid JSON: a number too large"),
    "Infinity": (_bytes(b'{"reward": Infinity}\n'), ":1: not valid JSON: NaN and Infinity are not JSON"),
    "1e308 reward": (_jsonl(_rollout(0, 0), _rollout(0, 1, 1e308)), ":2: reward 1e+308 is out of range"),
    "1e308 field": (_jsonl({**_rollout(0, 0), "tokens": -1e308}), ":1: tokens -1e+308 is out of range"),
    "duplicate indices": (_jsonl(_rollout(0, 0), _rollout(0, 1), _rollout(0, 0)), ":3: _ng_task_index 0 with"),
    "float index": (_jsonl(_rollout(0, 0), {**_rollout(1, 0), "_ng_task_index": 1.0}), ":2: _ng_task_index must"),
    "bool index": (_jsonl({**_rollout(0, 0), "_ng_rollout_index": True}), ":1: _ng_rollout_index must be an int"),
    "negative index": (_jsonl(_rollout(-1, 0)), ":1: _ng_task_index must be 0 or more, got -1"),
    "missing index": (_jsonl(_rollout(0, 0), {"reward": 1.0, "response": {}}), ":2: line 1 has _ng_task_index"),
    "empty": (_bytes(b""), "no rollouts to profile"),
}


@pytest.mark.parametrize("case", list(PROFILE_CASES))
def test_profile_refuses_hostile_rollouts(gym: Path, case: str) -> None:
    plant, expected = PROFILE_CASES[case]
    path = _plant(gym / "rollouts.jsonl", plant)
    code, output = _run("profile", "--rollouts", str(path), "--output", str(gym / "out"), "--no-plots")
    assert code == 1
    _one_error(output, path, expected)


def test_profile_refuses_dev_zero(gym: Path) -> None:
    code, output = _run("profile", "--rollouts", "/dev/zero", "--output", str(gym / "out"))
    assert code == 1
    _one_error(output, Path("/dev/zero"), "/dev/zero: not a regular file (a character device)")


def test_profile_bounds_task_indices_by_the_dataset(gym: Path) -> None:
    dataset = _plant(gym / "tasks.jsonl", _jsonl({"responses_create_params": {"input": "q"}}))
    rollouts = _plant(gym / "rollouts.jsonl", _jsonl(_rollout(0, 0), _rollout(1, 0)))
    code, output = _run(
        "profile", "--rollouts", str(rollouts), "--dataset", str(dataset), "--output", str(gym / "out"), "--no-plots"
    )
    assert code == 1
    _one_error(output, rollouts, ":2: _ng_task_index 1 is out of range: there are 1 task rows (0 to 0)")


# -- training-report, check-pr-body, pr-body ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "plant", "expected"),
    [
        ("metrics.csv", _fifo, "not a regular file (a FIFO)"),
        ("metrics.jsonl", _bytes(_deep_json(100_000)), "nested deeper than"),
        ("metrics.csv", _bytes(b"step,reward\n1,\xff\n"), ":2: not UTF-8 at byte 14"),
        ("metrics.csv", _bytes(b"step,reward\n1,0.1\n2,1e308\n"), ":3: column 'reward': 1e+308 is out of range"),
    ],
)
def test_training_report_refuses_hostile_metrics(gym: Path, name: str, plant: Plant, expected: str) -> None:
    path = _plant(gym / name, plant)
    code, output = _run("training-report", "--metrics", str(path), "--output", str(gym / "out"))
    assert code == 1
    _one_error(output, path, expected)


def test_training_report_refuses_dev_zero(gym: Path) -> None:
    code, output = _run("training-report", "--metrics", "/dev/zero", "--output", str(gym / "out"))
    assert code == 1
    _one_error(output, Path("/dev/zero"), "not a regular file (a character device)")


@pytest.mark.parametrize(
    ("name", "plant", "expected"),
    [
        ("event.json", _bytes(_deep_json(100_000)), "nested deeper than"),
        ("event.json", _bytes(b'{"pull_request": {"body": 1e999}}'), "too large for a float"),
        ("body.md", _bytes(b"## Environment\n\xc3\x28\n"), ":2: not UTF-8 at byte 15"),
        ("body.md", _fifo, "not a regular file (a FIFO)"),
    ],
)
def test_check_pr_body_refuses_hostile_files(gym: Path, name: str, plant: Plant, expected: str) -> None:
    path = _plant(gym / name, plant)
    code, output = _run("check-pr-body", str(path))
    assert code == 1
    _one_error(output, path, expected)


@pytest.mark.parametrize(
    ("plant", "expected"),
    [
        (_link("/etc/passwd"), "leads out of the repository (to /etc/passwd)"),
        (_fifo, "not a regular file (a FIFO)"),
        (_bytes(b"# Good\n\xff\n"), ":2: not UTF-8 at byte 7"),
    ],
)
def test_pr_body_refuses_a_hostile_readme(gym: Path, plant: Plant, expected: str) -> None:
    path = _plant(_server(gym) / "README.md", plant)
    code, output = _run("pr-body", NAME)
    assert code == 1
    _one_error(output, path, expected)
