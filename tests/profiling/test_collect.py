"""Collection mode against a real HTTP model endpoint (a scripted one) and a real server process."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi import FastAPI

from gymkit.jsonl import read_rows
from gymkit.profiling.collect import plan_collection, select_prompts
from gymkit.runtime.serving import serving_in_thread

from .conftest import write_rows

SERVER = Path(__file__).parent / "servers" / "answer"


def _tasks(n: int) -> list[dict[str, Any]]:
    return [
        {"responses_create_params": {"input": [{"role": "user", "content": f"{i}+{i}"}]}, "expected_answer": str(2 * i)}
        for i in range(n)
    ]


def scripted_model() -> tuple[FastAPI, Counter[str]]:
    """Answers a prompt right on its 1st, 3rd... call and wrong on the others."""
    app = FastAPI()
    calls: Counter[str] = Counter()

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"data": [{"id": "scripted-1", "object": "model"}]}

    @app.post("/v1/responses")
    async def responses(body: dict[str, Any]) -> dict[str, Any]:
        prompt = body["input"][-1]["content"]
        calls[prompt] += 1
        a, _ = prompt.split("+")
        answer = 2 * int(a) if calls[prompt] % 2 else -1
        text = f"The answer is {answer}."
        return {
            "id": f"resp_{sum(calls.values())}",
            "object": "response",
            "created_at": 0,
            "model": "scripted-1",
            "status": "completed",
            "output": [
                {"type": "message", "id": "m", "role": "assistant", "status": "completed",
                 "content": [{"type": "output_text", "text": text, "annotations": []}]}
            ],
            "usage": {"input_tokens": 5, "output_tokens": 6, "total_tokens": 11},
        }  # fmt: skip

    return app, calls


@pytest.fixture
def model() -> Iterator[tuple[str, Counter[str]]]:
    app, calls = scripted_model()
    with serving_in_thread(app) as url:
        yield url, calls


def test_the_same_seed_selects_the_same_prompts(tmp_path: Path) -> None:
    dataset = write_rows(tmp_path / "train.jsonl", _tasks(50))
    first = select_prompts(dataset, 10, seed=1)
    assert first == select_prompts(dataset, 10, seed=1) and len(set(first)) == 10
    assert first != select_prompts(dataset, 10, seed=2)
    assert select_prompts(dataset, 500, seed=1) == list(range(50))  # all when fewer
    endpoint = {"endpoint": "embedded"}
    a = plan_collection(dataset, tmp_path / "r", num_prompts=10, samples=4, seed=1, endpoint=endpoint)
    b = plan_collection(dataset, tmp_path / "r", num_prompts=10, samples=4, seed=1, endpoint=endpoint)
    c = plan_collection(dataset, tmp_path / "r", num_prompts=10, samples=4, seed=2, endpoint=endpoint)
    assert a.rollouts == b.rollouts != c.rollouts
    chosen = [_tasks(50)[i] for i in first]
    assert read_rows(a.inputs) == chosen


@pytest.mark.slow
def test_collect_profile_and_resume(tmp_path: Path, model: tuple[str, Counter[str]]) -> None:
    from typer.testing import CliRunner

    from gymkit.cli import app

    url, calls = model
    server = tmp_path / "answer"
    shutil.copytree(SERVER, server)
    (server / "data").mkdir()
    write_rows(server / "data" / "train.jsonl", _tasks(12))
    args = ["profile", str(server), "--num-prompts", "5", "--samples", "2", "--subset-seed", "3", "--base-url", url]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = orjson.loads((server / "reports" / "reward_profile" / "reward_profile.json").read_bytes())
    assert (report["num_prompts"], report["samples_per_prompt"], report["num_rollouts"]) == (5, 2, 10)
    assert report["prompts"]["mixed"] == 1.0 and report["pass_at_k"] == pytest.approx({"1": 0.5, "2": 1.0})
    assert report["models"] == ["scripted-1"] and report["server_code_sha256"]
    assert report["dataset"]["num_rows"] == 12 and report["collection"]["seed"] == 3
    assert report["dataset"]["path"] == "data/train.jsonl"  # relative: the report is committed
    assert report["collection"]["rollouts"].startswith("reports/reward_profile/collection/rollouts_")
    assert report["collection"]["dataset_rows"] == select_prompts(server / "data" / "train.jsonl", 5, 3)
    assert report["sampling"]["temperature"] == 1.0
    asked = sorted(calls)
    assert sum(calls.values()) == 10

    again = CliRunner().invoke(app, args)  # same settings: resumes, nothing left to collect
    assert again.exit_code == 0, again.output
    assert sum(calls.values()) == 10 and sorted(calls) == asked
    assert (server / "reports" / "reward_profile" / "collection" / ".gitignore").read_text().endswith("*\n")

    # Rewards scored by other code are not resumed: after a code change the samples are new.
    with (server / "app.py").open("a") as f:
        f.write("# a change to the server's code\n")
    fresh = CliRunner().invoke(app, args)
    assert fresh.exit_code == 0, fresh.output
    assert sum(calls.values()) == 20
