"""The agent loop and collection against a scripted model and a real resource server over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gymkit.rollouts import EndpointConfig, Sampling, collect_rollouts
from gymkit.rollouts.clients import EndpointError

from .conftest import read_jsonl, task, write_tasks
from .scripted import MODEL, scripted_model


def endpoint(url: str, api: str = "responses", **kwargs: Any) -> EndpointConfig:
    return EndpointConfig((url,), model=MODEL, api=api, retry_backoff=0.01, **kwargs)  # type: ignore[arg-type]


def outputs_of(row: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [item for item in row["response"]["output"] if item["type"] == kind]


MIXED = [
    task("add 2 3", expected="5.0"),
    task("peek", expected="s-peek", secret="s-peek"),
    task("badargs", expected="Invalid tool call arguments"),
    task("explode", expected="kaboom"),
    task("answer 42", expected="42"),
]


@pytest.mark.parametrize("api", ["responses", "chat"])
def test_both_apis_run_tools_and_verify(api: str, toolbox: Path, toolbox_url: str, tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path / "tasks.jsonl", MIXED)
    out = tmp_path / "out" / "rollouts.jsonl"
    with scripted_model() as (model, url):
        summary = collect_rollouts(
            toolbox,
            tasks,
            out,
            repeats=2,
            concurrency=4,
            endpoint=endpoint(url, api),
            sampling=Sampling(temperature=0.5, max_output_tokens=64, seed=7 if api == "chat" else None),
            server_url=toolbox_url,
            progress=False,
        )
    rows = read_jsonl(out)
    assert summary.rows == summary.written == 10 and summary.failed == 0
    assert summary.model == MODEL and summary.mean_reward == 1.0
    assert [(r["_ng_task_index"], r["_ng_rollout_index"]) for r in rows] == [(t, k) for t in range(5) for k in range(2)]
    for row in rows:
        assert row["reward"] == 1.0, row["response"]["output"]
        assert row["agent_ref"] == {"type": "responses_api_agents", "name": "simple_agent"}
        assert row["_gymkit"]["model"] == MODEL and row["_gymkit"]["forced_tool_call"] is False
        seed = 7 if api == "chat" else None
        assert row["_gymkit"]["sampling"] == {"temperature": 0.5, "top_p": None, "max_output_tokens": 64, "seed": seed}
        assert row["responses_create_params"]["temperature"] == 0.5
    add, peek, bad, boom, plain = rows[0], rows[2], rows[4], rows[6], rows[8]
    assert json.loads(outputs_of(add, "function_call_output")[0]["output"]) == {"result": 5.0}
    assert peek["secret_seen"] == "s-peek" and peek["calls"] == 1
    # Arguments that are not JSON go back to the model as an error, without a server call ...
    assert "Invalid tool call arguments" in outputs_of(bad, "function_call_output")[0]["output"]
    # ... a tool that raises answers HTTP 500, and that body is the model's tool output.
    assert "kaboom" in outputs_of(boom, "function_call_output")[0]["output"]
    assert outputs_of(plain, "function_call") == []
    assert summary.failures_path.read_text() == ""

    bodies = [body for kind, body in model.requests if kind == api]
    assert len(bodies) == len(model.requests) == 18  # 4 tool tasks x 2 turns + 1, twice
    if api == "chat":
        assert bodies[0]["tools"][0] == {
            "type": "function",
            "function": {"name": "add", "description": "Add two numbers.", "parameters": TOOLS_PARAMS},
        }
        assert all(b["max_tokens"] == 64 and "max_output_tokens" not in b for b in bodies)
        assert all(b["seed"] == 7 and b["model"] == MODEL for b in bodies)
        second_turn = next(b for b in bodies if any(m["role"] == "tool" for m in b["messages"]))
        assert second_turn["messages"][1]["tool_calls"][0]["type"] == "function"
    else:
        assert all(b["max_output_tokens"] == 64 and b["model"] == MODEL for b in bodies)


TOOLS_PARAMS = {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}


def test_cookies_are_threaded_and_isolated_between_concurrent_rollouts(
    toolbox: Path, toolbox_url: str, model: tuple[Any, str], tmp_path: Path
) -> None:
    rows_in = [task("peek", expected=f"secret-{i}", secret=f"secret-{i}") for i in range(60)]
    tasks = write_tasks(tmp_path / "tasks.jsonl", rows_in)
    out = tmp_path / "rollouts.jsonl"
    collect_rollouts(
        toolbox, tasks, out, concurrency=60, endpoint=endpoint(model[1]), server_url=toolbox_url, progress=False
    )
    rows = read_jsonl(out)
    assert len(rows) == 60
    for row in rows:
        assert row["secret_seen"] == row["secret"] == f"secret-{row['_ng_task_index']}"
        assert row["calls"] == 1 and row["reward"] == 1.0


def test_max_steps_ends_a_looping_rollout_and_still_verifies(
    toolbox: Path, toolbox_url: str, model: tuple[Any, str], tmp_path: Path
) -> None:
    tasks = write_tasks(tmp_path / "tasks.jsonl", [task("loop", secret="x")])
    out = tmp_path / "rollouts.jsonl"
    summary = collect_rollouts(
        toolbox, tasks, out, max_steps=3, endpoint=endpoint(model[1]), server_url=toolbox_url, progress=False
    )
    (row,) = read_jsonl(out)
    assert summary.rows == 1
    assert len(outputs_of(row, "function_call")) == 3 and row["calls"] == 3 and row["reward"] == 0.0


def test_rate_limits_and_server_errors_are_retried(
    toolbox: Path, toolbox_url: str, model: tuple[Any, str], tmp_path: Path
) -> None:
    tasks = write_tasks(tmp_path / "tasks.jsonl", [task("flaky 4", expected="unscripted")])
    out = tmp_path / "rollouts.jsonl"
    summary = collect_rollouts(toolbox, tasks, out, endpoint=endpoint(model[1]), server_url=toolbox_url, progress=False)
    assert summary.rows == 1 and summary.failed == 0
    assert model[0].seen["flaky 4"] == 5  # 429, 500, 429, 500, then the answer


def test_a_model_that_returns_garbage_fails_the_rollout_not_the_run(
    toolbox: Path, toolbox_url: str, model: tuple[Any, str], tmp_path: Path
) -> None:
    tasks = write_tasks(tmp_path / "tasks.jsonl", [task("garbage"), task("answer ok", expected="ok")])
    out = tmp_path / "rollouts.jsonl"
    summary = collect_rollouts(
        toolbox, tasks, out, endpoint=endpoint(model[1], "chat"), server_url=toolbox_url, progress=False
    )
    assert summary.rows == 1 and summary.failed == 1 and not summary.complete
    assert summary.failure_classes == {"model_bad_response": 1}
    (failure,) = read_jsonl(tmp_path / "rollouts_failures.jsonl")
    assert failure["_ng_task_index"] == 0 and failure["_ng_failure_class"] == "model_bad_response"
    assert "not JSON" in failure["_ng_failure_message"]
    assert read_jsonl(out)[0]["_ng_task_index"] == 1


def test_unreachable_endpoint_is_one_clear_error(toolbox: Path, toolbox_url: str, tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path / "tasks.jsonl", [task("answer 1")])
    with pytest.raises(EndpointError, match=r"model endpoint http://127\.0\.0\.1:9/v1 is unreachable"):
        collect_rollouts(
            toolbox,
            tasks,
            tmp_path / "r.jsonl",
            endpoint=EndpointConfig(("http://127.0.0.1:9",), model="m"),
            server_url=toolbox_url,
            progress=False,
        )


def test_wrong_model_name_lists_the_served_models(
    toolbox: Path, toolbox_url: str, model: tuple[Any, str], tmp_path: Path
) -> None:
    tasks = write_tasks(tmp_path / "tasks.jsonl", [task("answer 1")])
    with pytest.raises(EndpointError, match="model 'gpt-nope' is not served") as info:
        collect_rollouts(
            toolbox,
            tasks,
            tmp_path / "r.jsonl",
            endpoint=EndpointConfig((model[1],), model="gpt-nope"),
            server_url=toolbox_url,
            progress=False,
        )
    assert info.value.hint == f"available: {MODEL}"
    assert model[0].requests == []


def test_several_base_urls_spread_rollouts(toolbox: Path, toolbox_url: str, tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path / "tasks.jsonl", [task(f"answer {i}", expected=str(i)) for i in range(40)])
    with scripted_model() as (first, url1), scripted_model() as (second, url2):
        summary = collect_rollouts(
            toolbox,
            tasks,
            tmp_path / "r.jsonl",
            endpoint=EndpointConfig((url1, url2), model=MODEL),
            server_url=toolbox_url,
            progress=False,
        )
    assert summary.rows == 40
    assert len(first.requests) + len(second.requests) == 40
    assert len(first.requests) >= 5 and len(second.requests) >= 5


def test_several_replicas_share_the_calls_and_a_dead_one_is_taken_out(
    toolbox: Path, toolbox_url: str, tmp_path: Path
) -> None:
    tasks = write_tasks(tmp_path / "tasks.jsonl", [task("add 2 3", expected="5.0") for _ in range(40)])
    out = tmp_path / "rollouts.jsonl"
    with scripted_model(delay=0.01) as (first, url_a), scripted_model(delay=0.01) as (second, url_b):
        dead = "http://127.0.0.1:9/v1"  # the discard port: nothing listens
        summary = collect_rollouts(
            toolbox,
            tasks,
            out,
            endpoint=EndpointConfig((url_a, dead, url_b), model=MODEL, retry_backoff=0.01),
            server_url=toolbox_url,
            progress=False,
        )
    assert summary.complete and summary.failed == 0 and summary.concurrency.startswith("adaptive")
    shares = summary.replica_shares
    assert set(shares) == {url_a, dead, url_b} and shares[dead] == 0
    assert shares[url_a] > 0.2 and shares[url_b] > 0.2 and sum(shares.values()) == pytest.approx(1)
    assert set(summary.replicas_taken_out) == {dead} and summary.replicas_taken_out[dead] >= 1
    assert len(first.requests) + len(second.requests) == summary.model_calls == 80
    rows = read_jsonl(out)
    assert all(sum(row["_gymkit"]["model_calls_by_replica"].values()) == 2 for row in rows)


def test_tool_errors_and_unknown_tools_are_counted_per_tool(toolbox: Path, toolbox_url: str, tmp_path: Path) -> None:
    rows_in = [task("explode", expected="kaboom") for _ in range(6)] + [task("call nosuch", expected="x")] * 2
    tasks = write_tasks(tmp_path / "tasks.jsonl", [*rows_in, task("answer 1", expected="1")])
    with scripted_model() as (_, url):
        summary = collect_rollouts(
            toolbox, tasks, tmp_path / "r.jsonl", endpoint=endpoint(url), server_url=toolbox_url, progress=False
        )
    assert summary.failed == 0
    explode, unknown = summary.tool_errors
    assert explode["tool"] == "explode" and explode["kind"] == "HTTP 500"
    assert (explode["calls"], explode["rollouts"]) == (6, 6) and "kaboom" in explode["first"]
    assert unknown["tool"] == "nosuch" and unknown["kind"] == "unknown tool" and unknown["rollouts"] == 2
