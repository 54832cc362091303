"""Each artifact as its real writer makes it reads back through its model, and writes back the same bytes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gymkit.artifacts import (
    RewardProfile,
    RunIdentity,
    TestStampFile,
    TrainingReport,
    artifact_bytes,
    read_artifact,
    read_rollout_meta,
)
from gymkit.artifacts.profile import PerTaskFile
from gymkit.inputs import iter_json_rows
from gymkit.profiling import profile_files, write_profile
from gymkit.profiling.training import training_from_file, write_training
from gymkit.rollouts.identity import build_identity, identity_path, write_identity
from gymkit.testing.stamp import StageResult, TestStamp, code_fingerprint, read_stamp, write_stamp
from tests.profiling.conftest import rollout, write_rows
from tests.sessions.builders import add_server

REPO = Path(__file__).resolve().parents[2]
ARITHMETIC = REPO / "resources_servers" / "arithmetic"


def test_a_profile_of_a_reference_server_round_trips(tmp_path: Path) -> None:
    server = tmp_path / "resources_servers" / "arithmetic"
    shutil.copytree(ARITHMETIC, server, ignore=shutil.ignore_patterns("reports", "__pycache__"))
    rollouts = server / "data" / "example_rollouts.jsonl"
    profile = profile_files([rollouts], dataset=server / "data" / "example.jsonl", server_dir=server)
    folder = server / "reports" / "reward_profile"
    write_profile(profile, folder, plots=False)

    path = folder / "reward_profile.json"
    read = read_artifact(path, RewardProfile)
    assert artifact_bytes(read) == path.read_bytes()
    assert read.server == "arithmetic" and read.dataset.path == "data/example.jsonl"
    assert read.num_rollouts == sum(1 for _ in iter_json_rows(rollouts)) == profile.report["num_rollouts"]
    assert read.rollouts_files[0].path == "data/example_rollouts.jsonl"
    assert set(read.files) == {p.name for p in folder.iterdir()}
    assert read.by_model is None and "by_model" not in json.loads(path.read_bytes())


def test_a_profile_of_two_models_keeps_each_models_section(tmp_path: Path) -> None:
    files = [
        write_rows(tmp_path / f"{m}.jsonl", [rollout(r, task=t, model=m) for t in range(3) for r in (0.0, 1.0)])
        for m in ("small", "large")
    ]
    profile = profile_files(files)
    write_profile(profile, tmp_path / "out", plots=False)
    read = read_artifact(tmp_path / "out" / "reward_profile.json", RewardProfile)
    assert read.by_model is not None and set(read.by_model) == {"small", "large"}
    assert read.by_model["small"].num_rollouts == 6 and read.by_model["small"].prompts.mixed == 1.0
    assert artifact_bytes(read) == (tmp_path / "out" / "reward_profile.json").read_bytes()


def test_a_training_report_round_trips(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.csv"
    lines = ["step,train/reward,val/accuracy"]
    lines += [f"{s},{0.1 + 0.04 * s},{0.2 + 0.03 * s if s % 3 == 0 else ''}" for s in range(1, 16)]
    metrics.write_text("\n".join(lines) + "\n")
    result = training_from_file(metrics, server_dir=tmp_path)
    write_training(result, tmp_path / "training")

    path = tmp_path / "training" / "training.json"
    read = read_artifact(path, TrainingReport)
    assert artifact_bytes(read) == path.read_bytes()
    assert (read.steps.count, read.steps.first, read.steps.last) == (15, 1.0, 15.0)
    assert read.train.column == "train/reward" and read.train.improved and read.improved
    assert read.test_benchmark is not None and read.test_benchmark.points == 5
    assert read.metrics_file.path == "metrics.csv" and read.kind == "external"


def test_a_test_stamp_round_trips(tmp_path: Path) -> None:
    server = add_server(tmp_path, "alpha")
    code_sha, files = code_fingerprint(server)
    stamp = TestStamp(server.name, code_sha, files, duration_seconds=1.23456)
    stamp.stages = {name: StageResult("passed", 0.5) for name in stamp.stages}
    stamp.stages["smoke"] = StageResult("failed", 2.0, "GET /health: connection refused")
    stamp.stages["tests"].counts = {"passed": 2, "failed": 0}
    path = write_stamp(server, stamp)

    read = read_artifact(path, TestStampFile)
    assert artifact_bytes(read) == path.read_bytes()
    assert read.passed is False and read.duration_seconds == 1.235 and read.stages["smoke"].detail
    assert "detail" not in json.loads(path.read_text())["stages"]["tests"]  # empty detail is left out, as before
    again, error = read_stamp(server)
    assert error is None and again is not None and again.failures() == ["smoke"]
    assert again.stages["tests"].counts == {"passed": 2, "failed": 0}


def test_a_run_record_round_trips(tmp_path: Path) -> None:
    output = tmp_path / "rollouts.jsonl"
    sampling = {"temperature": 1.0, "top_p": None, "max_output_tokens": 512, "seed": 3}
    identity = build_identity(
        input="data/example.jsonl", input_sha256="ab" * 32, limit=None, repeats=4, model="m",
        endpoint="http://127.0.0.1:8000/v1", api="chat", sampling=sampling, max_steps=None,
    )  # fmt: skip
    write_identity(output, identity)
    read = read_artifact(identity_path(output), RunIdentity)
    assert artifact_bytes(read) == identity_path(output).read_bytes()
    assert read.settings() == {
        "input_sha256": "ab" * 32, "limit": None, "repeats": 4, "model": "m",
        "endpoint": "http://127.0.0.1:8000/v1", "api": "chat", "sampling": sampling, "max_steps": None,
    }  # fmt: skip


@pytest.mark.parametrize("server", ["arithmetic", "weather", "json_extraction", "python_sandbox"])
def test_committed_reports_of_the_reference_servers_read(server: str) -> None:
    """Made by real runs, before the files had models: what a gym has committed must still read."""
    folder = REPO / "resources_servers" / server / "reports" / "reward_profile"
    profile = read_artifact(folder / "reward_profile.json", RewardProfile)
    assert profile.server == server and profile.collection is not None
    committed = (folder / "reward_profile.json").read_bytes()
    assert profile.model_dump(exclude_unset=True) == json.loads(committed)
    # The same keys in the same order and layout as the writer before the models, which ended without a newline.
    assert artifact_bytes(profile).rstrip(b"\n") == committed.rstrip(b"\n")


@pytest.mark.parametrize("server", ["arithmetic", "weather", "json_extraction", "python_sandbox"])
def test_rollout_metadata_of_real_collections_reads(server: str) -> None:
    folder = REPO / "resources_servers" / server
    files = [
        folder / "data" / "example_rollouts.jsonl",
        *folder.glob("reports/reward_profile/collection/rollouts_*.jsonl"),
    ]
    seen = 0
    for path in files:
        for line, row in iter_json_rows(path):
            meta = read_rollout_meta(row, path, line)
            assert meta is not None and meta.model is not None
            assert meta.model_dump(exclude_unset=True) == row["_gymkit"]
            seen += 1
    assert seen >= 5


def test_the_checklist_fixtures_reports_read_through_the_models(tmp_path: Path) -> None:
    from tests.checks.conftest import build_server

    server = build_server(tmp_path)
    profile = read_artifact(server / "reports" / "reward_profile" / "reward_profile.json", RewardProfile)
    training = read_artifact(server / "reports" / "training" / "training.json", TrainingReport)
    assert profile.num_prompts == profile.dataset.num_rows and profile.prompts.counts["mixed"] > 0
    assert training.steps.count == training.train.points and training.improved


def test_a_profile_of_more_tasks_than_it_inlines_points_to_its_per_task_file(tmp_path: Path) -> None:
    from gymkit.profiling.sections import PER_TASK_INLINE

    rows = [rollout(float(t % 2), task=t) for t in range(PER_TASK_INLINE + 1)]
    write_profile(profile_files([write_rows(tmp_path / "many.jsonl", rows)]), tmp_path / "out", plots=False)
    read = read_artifact(tmp_path / "out" / "reward_profile.json", RewardProfile)
    assert isinstance(read.per_task, PerTaskFile) and read.per_task.num_tasks == PER_TASK_INLINE + 1
    assert sum(1 for _ in iter_json_rows(tmp_path / "out" / read.per_task.file)) == PER_TASK_INLINE + 1
