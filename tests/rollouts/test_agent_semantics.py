"""Where the agent loop must end a rollout the way upstream's simple agent does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request

from gymkit.rollouts import EndpointConfig, collect_rollouts
from gymkit.runtime.serving import serving_in_thread

from .conftest import read_jsonl, task, write_tasks
from .scripted import MODEL, ScriptedModel


def _collect(toolbox: Path, url: str, server_url: str, tmp_path: Path, prompt: str, api: str) -> list[dict[str, Any]]:
    tasks = write_tasks(tmp_path / "tasks.jsonl", [task(prompt, secret="s")])
    out = tmp_path / "rollouts.jsonl"
    collect_rollouts(
        toolbox,
        tasks,
        out,
        max_steps=4,
        endpoint=EndpointConfig((url,), model=MODEL, api=api, retry_backoff=0.01),  # type: ignore[arg-type]
        server_url=server_url,
        progress=False,
    )
    return read_jsonl(out)


@pytest.mark.parametrize("api", ["responses", "chat"])
def test_a_truncated_turn_ends_the_rollout_before_its_calls_run(
    api: str, toolbox: Path, toolbox_url: str, model: tuple[ScriptedModel, str], tmp_path: Path
) -> None:
    (row,) = _collect(toolbox, model[1], toolbox_url, tmp_path, "truncated", api)
    kinds = [item["type"] for item in row["response"]["output"]]
    # Upstream breaks on max_output_tokens before running the turn's calls: a cut-off call
    # must not change the session that verify then reads.
    assert kinds == ["function_call"]
    assert row["calls"] == 0
    assert len(model[0].requests) == 1


@pytest.mark.parametrize("api", ["responses", "chat"])
def test_an_empty_chat_answer_ends_the_rollout(
    api: str, toolbox: Path, toolbox_url: str, model: tuple[ScriptedModel, str], tmp_path: Path
) -> None:
    (row,) = _collect(toolbox, model[1], toolbox_url, tmp_path, "empty", api)
    if api == "chat":
        # Upstream's converter answers an empty message; without it the loop asks again
        # until max_steps, forever when there is none.
        assert len(model[0].requests) == 1
        assert [item["type"] for item in row["response"]["output"]] == ["message"]


@pytest.mark.parametrize("api", ["responses", "chat"])
def test_a_prompt_beyond_the_context_ends_the_rollout_with_an_empty_answer(
    api: str, toolbox: Path, toolbox_url: str, model: tuple[ScriptedModel, str], tmp_path: Path
) -> None:
    # Upstream's model servers turn the endpoint's HTTP 400 "context length" into an empty
    # message, so a rollout that outgrew the context is verified (scored 0), not lost, and a
    # --resume does not run it again forever.
    (row,) = _collect(toolbox, model[1], toolbox_url, tmp_path, "overflow", api)
    assert row["reward"] == 0.0
    (message,) = row["response"]["output"]
    assert message["type"] == "message" and message["content"][0]["text"] == ""
    assert (tmp_path / "rollouts_failures.jsonl").read_text() == ""


def test_a_verify_without_a_numeric_reward_fails_that_rollout_not_the_run(
    toolbox: Path, model: tuple[ScriptedModel, str], tmp_path: Path
) -> None:
    app = FastAPI()

    @app.post("/seed_session")
    async def seed() -> dict[str, Any]:
        return {}

    @app.post("/verify")
    async def verify(request: Request) -> dict[str, Any]:
        body = await request.json()
        return {**body, "reward": None if body["expected_answer"] == "none" else 1.0}

    tasks = write_tasks(tmp_path / "tasks.jsonl", [task("answer a", expected="none"), task("answer b", expected="b")])
    out = tmp_path / "rollouts.jsonl"
    with serving_in_thread(app) as server_url:
        summary = collect_rollouts(
            toolbox,
            tasks,
            out,
            endpoint=EndpointConfig((model[1],), model=MODEL),
            server_url=server_url,
            progress=False,
        )
    assert summary.rows == 1 and summary.failure_classes == {"verify_failed": 1}
    assert [row["_ng_task_index"] for row in read_jsonl(out)] == [1]
    (failure,) = read_jsonl(tmp_path / "rollouts_failures.jsonl")
    assert "reward" in failure["_ng_failure_message"]
