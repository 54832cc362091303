"""`gymkit train`'s refusals, which need no model: they come before torch is imported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gymkit.cli import build_app

pytestmark = pytest.mark.train

WEATHER = Path(__file__).resolve().parents[2] / "resources_servers" / "weather"


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(["train"]), ["train", *args])
    return result.exit_code, result.output


def test_a_real_run_names_its_model() -> None:
    code, output = _run(str(WEATHER))
    assert code == 1
    assert "name the model to train: --model" in output


def test_a_smoke_does_not_replace_training_evidence(tmp_path: Path) -> None:
    pytest.importorskip("trl")
    (tmp_path / "training.json").write_text(json.dumps({"kind": "training", "improved": True}))
    code, output = _run(str(WEATHER), "--smoke", "--output", str(tmp_path))
    assert code == 1
    assert "holds a training report; a smoke would replace that evidence" in output
    assert json.loads((tmp_path / "training.json").read_text())["kind"] == "training"


def test_an_unknown_vllm_mode_is_refused() -> None:
    code, output = _run(str(WEATHER), "--model", "m", "--vllm-mode", "remote")
    assert code == 1
    assert "expected colocate or server" in output


def test_a_micro_batch_that_does_not_divide_the_step_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("trl")
    code, output = _run(str(WEATHER), "--smoke", "--micro-batch", "3", "--output", str(tmp_path))
    assert code == 1
    assert "--micro-batch 3 does not divide the 8 rollouts of a step (2 prompts x 4)" in output
    assert not (tmp_path / "metrics.jsonl").exists()  # refused before the server or a model started
