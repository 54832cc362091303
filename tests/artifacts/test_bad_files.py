"""Files that drifted from their writer, came from a newer gymkit, or predate schema_version."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from gymkit.artifacts import RewardProfile, RunIdentity, TrainingReport, read_artifact, read_optional, read_rollout_meta
from gymkit.artifacts.rollout import rollout_meta
from gymkit.errors import InvalidDataError
from gymkit.profiling import profile_files, write_profile
from gymkit.profiling.training import training_from_file, write_training
from gymkit.rollouts.identity import check_resume, identity_path
from tests.profiling.conftest import rollout, write_rows


@pytest.fixture
def training_json(tmp_path: Path) -> Path:
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text("".join(json.dumps({"step": s, "reward": s / 10}) + "\n" for s in range(6)))
    write_training(training_from_file(metrics), tmp_path / "training")
    return tmp_path / "training" / "training.json"


@pytest.fixture
def profile_json(tmp_path: Path) -> Path:
    rows = [rollout(r, task=t) for t in range(2) for r in (0.0, 1.0)]
    write_profile(profile_files([write_rows(tmp_path / "r.jsonl", rows)]), tmp_path / "profile", plots=False)
    return tmp_path / "profile" / "reward_profile.json"


def _edit(path: Path, **changes: object) -> Path:
    body = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    path.write_text(json.dumps(body))
    return path


def _one_line(exc: pytest.ExceptionInfo[InvalidDataError], path: Path) -> str:
    text = str(exc.value)
    assert "\n" not in text and text.startswith(f"{path}: ")
    return text.removeprefix(f"{path}: ")


def test_the_shapes_old_fixtures_wrote_are_named_by_file_and_field(training_json: Path, profile_json: Path) -> None:
    _edit(training_json, steps=20)
    with pytest.raises(InvalidDataError) as exc:
        read_artifact(training_json, TrainingReport)
    assert _one_line(exc, training_json).startswith("steps: Input should be a valid dictionary")
    _edit(profile_json, failures=0)
    with pytest.raises(InvalidDataError) as exc:
        read_artifact(profile_json, RewardProfile)
    assert _one_line(exc, profile_json).startswith("failures: Input should be a valid dictionary")


def test_a_nested_field_and_an_unknown_key_are_named(profile_json: Path, training_json: Path) -> None:
    body = json.loads(profile_json.read_text())
    body["prompts"]["mixed"] = "half"
    profile_json.write_text(json.dumps(body))
    with pytest.raises(InvalidDataError) as exc:
        read_artifact(profile_json, RewardProfile)
    assert _one_line(exc, profile_json).startswith("prompts.mixed: Input should be a valid number")
    _edit(training_json, improvd=True)
    with pytest.raises(InvalidDataError) as exc:
        read_artifact(training_json, TrainingReport)
    assert _one_line(exc, training_json) == "improvd: unknown key"


def test_a_file_from_a_newer_gymkit_says_to_upgrade(training_json: Path) -> None:
    _edit(training_json, schema_version=2, a_field_from_the_future={"x": 1})
    with pytest.raises(InvalidDataError) as exc:
        read_artifact(training_json, TrainingReport)
    assert _one_line(exc, training_json) == "schema_version 2 is newer than this gymkit reads (1): upgrade gymkit"
    assert read_optional(training_json, TrainingReport) == exc.value.problem


def test_a_file_without_schema_version_reads_as_version_1(training_json: Path, profile_json: Path) -> None:
    report = read_artifact(_edit(training_json, schema_version=None), TrainingReport)
    assert report.schema_version == 1 and report.train.points == 6
    assert read_artifact(_edit(profile_json, schema_version=None), RewardProfile).num_rollouts == 4


def test_what_is_not_a_report_at_all(tmp_path: Path) -> None:
    path = tmp_path / "training.json"
    assert read_optional(path, TrainingReport) is None
    path.write_text("[1, 2]")
    assert read_optional(path, TrainingReport) == "expected a JSON object, got list"
    path.write_text('{"schema_version": 1,')
    assert read_optional(path, TrainingReport) == "line 1: not valid JSON"
    path.write_text(json.dumps({"schema_version": True}))
    assert "schema_version: Input should be a valid integer" in str(read_optional(path, TrainingReport))


def test_a_drifted_run_record_refuses_the_resume_with_the_way_out(tmp_path: Path) -> None:
    output = tmp_path / "rollouts.jsonl"
    identity_path(output).write_text(json.dumps({"model": "m", "repeats": "four"}))
    with pytest.raises(InvalidDataError) as exc:
        check_resume(output, RunIdentity(model="m", repeats=4), [])
    assert (
        _one_line(exc, identity_path(output))
        == "repeats: Input should be a valid integer, unable to parse string as an integer"
    )
    assert exc.value.hint == "delete it to resume without the check"


def test_rollout_metadata_that_does_not_validate(tmp_path: Path) -> None:
    row = {"reward": 1.0, "_gymkit": {"model": "m", "tool_calls": "two"}}
    with pytest.raises(InvalidDataError) as exc:
        read_rollout_meta(row, tmp_path / "r.jsonl", 7)
    assert str(exc.value).startswith(f"{tmp_path / 'r.jsonl'}:7: _gymkit.tool_calls: Input should be a valid integer")
    assert rollout_meta(row) is None  # the lenient reader (viewer, health) shows the row without it
    assert rollout_meta({"reward": 1.0}) is None and read_rollout_meta({"reward": 1.0}, tmp_path, 1) is None
    newer = {"_gymkit": {"schema_version": 3, "model": "m"}}
    with pytest.raises(InvalidDataError, match="upgrade gymkit"):
        read_rollout_meta(newer, tmp_path / "r.jsonl", 1)


def _outcome(call: Callable[[], object]) -> BaseException | None:
    """What ``call`` raised (None when it returned), failing the test if it is still waiting after two minutes."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread to judge
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)  # a blocked open must not hold up the suite
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive(), f"{call} is waiting on a FIFO"
    return outcome[0]


def test_a_fifo_in_place_of_the_run_record_is_refused_not_waited_on(tmp_path: Path) -> None:
    """The run record was read with a plain open, which waits for a writer when the path is a FIFO."""
    output = tmp_path / "rollouts.jsonl"
    os.mkfifo(identity_path(output))
    error = _outcome(lambda: check_resume(output, RunIdentity(model="m"), []))
    assert isinstance(error, InvalidDataError) and error.problem == "not a regular file (a FIFO)"


def test_a_fifo_in_place_of_the_previous_report_is_replaced_not_waited_on(tmp_path: Path) -> None:
    """The previous report's file list was read with a plain open too."""
    folder = tmp_path / "profile"
    folder.mkdir()
    os.mkfifo(folder / "reward_profile.json")
    rows = [rollout(r, task=t) for t in range(2) for r in (0.0, 1.0)]
    profile = profile_files([write_rows(tmp_path / "r.jsonl", rows)])
    assert _outcome(lambda: write_profile(profile, folder, plots=False)) is None
    assert read_artifact(folder / "reward_profile.json", RewardProfile).num_rollouts == 4
