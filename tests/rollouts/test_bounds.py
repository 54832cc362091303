"""Each bound on a run, against the attack that showed it missing: a scripted model, the toolbox server over HTTP."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from gymkit.errors import UserError
from gymkit.rollouts import EndpointConfig, collect_rollouts, endpoint_from_settings
from gymkit.rollouts.config import Bounds

from .conftest import TOOLS, read_jsonl, task, write_tasks
from .scripted import MODEL, ScriptedModel

NAP = {"type": "function", "name": "nap", "description": "Sleeps.", "parameters": {"type": "object"}}


def _endpoint(url: str, **kwargs: Any) -> EndpointConfig:
    return EndpointConfig((url,), model=MODEL, retry_backoff=0.01, **kwargs)


def _run(
    toolbox: Path, server_url: str, tmp_path: Path, rows: list[dict[str, Any]], endpoint: EndpointConfig, **kwargs: Any
) -> tuple[Any, list[dict[str, Any]], list[dict[str, Any]]]:
    tasks = write_tasks(tmp_path / "tasks.jsonl", rows)
    out = tmp_path / "rollouts.jsonl"
    summary = collect_rollouts(toolbox, tasks, out, endpoint=endpoint, server_url=server_url, progress=False, **kwargs)
    return summary, read_jsonl(out), read_jsonl(summary.failures_path)


def _tool_outputs(row: dict[str, Any]) -> list[str]:
    return [item["output"] for item in row["response"]["output"] if item["type"] == "function_call_output"]


@pytest.mark.parametrize("name", ["seed_session", "verify", "aggregate_metrics", "nap"])
def test_a_reserved_or_undeclared_tool_never_reaches_the_server(
    name: str, toolbox: Path, toolbox_url: str, model: tuple[ScriptedModel, str], tmp_path: Path
) -> None:
    # The attack: a call named seed_session reseeded the session, wiping the secret verify reads.
    # A reserved name stays refused even when the task lists it as a tool.
    tools = [*TOOLS, {"type": "function", "name": "seed_session", "parameters": {"type": "object"}}]
    row = {**task(f"call {name}", secret="keep-me"), "responses_create_params": {
        "input": [{"role": "user", "content": f"call {name}"}], "tools": tools}}  # fmt: skip
    _summary, (out,), _ = _run(toolbox, toolbox_url, tmp_path, [row], _endpoint(model[1]))
    assert out["secret_seen"] == "keep-me"
    (output,) = _tool_outputs(out)
    assert json.loads(output) == {"error": f"Unknown tool {name!r}: not one of this task's tools"}
    assert out["_gymkit"]["tool_errors"] == 1 and out["_gymkit"]["tool_calls"] == 1


def test_turns_default_to_16_without_a_server_setting(
    toolbox: Path, toolbox_url: str, model: tuple[ScriptedModel, str], tmp_path: Path
) -> None:
    # The attack: a model that always calls a tool made 1,254 calls in 45 s.
    _summary, (row,), _ = _run(toolbox, toolbox_url, tmp_path, [task("loop", secret="x")], _endpoint(model[1]))
    assert len(model[0].requests) == 16 and row["calls"] == 16


def test_turns_follow_the_server_configs_max_steps(
    toolbox: Path, toolbox_url: str, model: tuple[ScriptedModel, str], tmp_path: Path
) -> None:
    config = toolbox / "configs" / "toolbox.yaml"
    config.write_text(
        config.read_text()
        + "toolbox_agent:\n  responses_api_agents:\n    simple_agent:\n      max_steps: 3\n"
        + "      resources_server: {type: resources_servers, name: toolbox}\n"
        + "      model_server: {type: responses_api_models, name: policy_model}\n"
    )
    _summary, (row,), _ = _run(toolbox, toolbox_url, tmp_path, [task("loop", secret="x")], _endpoint(model[1]))
    assert row["calls"] == 3
    assert json.loads((tmp_path / "rollouts.run.json").read_text())["max_steps"] == 3
    # A flag still wins over the config.
    _summary, (row,), _ = _run(
        toolbox, toolbox_url, tmp_path, [task("loop", secret="x")], _endpoint(model[1]), bounds=Bounds(max_steps=2)
    )
    assert row["calls"] == 2


def test_a_hung_endpoint_costs_the_timeout_times_the_tries(
    toolbox: Path, toolbox_url: str, model: tuple[ScriptedModel, str], tmp_path: Path
) -> None:
    # The attack: a hung endpoint waited about an hour per call.
    started = time.monotonic()
    _summary, rows, (failure,) = _run(
        toolbox, toolbox_url, tmp_path, [task("hang")], _endpoint(model[1], timeout=0.2, max_retries=1)
    )
    assert time.monotonic() - started < 5
    assert rows == [] and failure["_ng_failure_class"] == "model_error"
    assert "no answer within 0.2s" in failure["_ng_failure_message"] and model[0].seen["hang"] == 2


def test_429_stops_after_the_retry_count(
    toolbox: Path, toolbox_url: str, model: tuple[ScriptedModel, str], tmp_path: Path
) -> None:
    # The attack: 429s were retried for ten minutes.
    _summary, _, (failure,) = _run(
        toolbox, toolbox_url, tmp_path, [task("ratelimit")], _endpoint(model[1], max_retries=3)
    )
    assert model[0].seen["ratelimit"] == 4
    assert "HTTP 429" in failure["_ng_failure_message"] and "after 3 retries" in failure["_ng_failure_message"]


def test_retry_after_is_waited_for_and_a_wait_past_the_time_cap_gives_up_at_once(
    toolbox: Path, toolbox_url: str, model: tuple[ScriptedModel, str], tmp_path: Path
) -> None:
    started = time.monotonic()
    _run(toolbox, toolbox_url, tmp_path, [task("ratelimit 0.4")], _endpoint(model[1], max_retries=2))
    assert time.monotonic() - started >= 0.8 and model[0].seen["ratelimit 0.4"] == 3
    started = time.monotonic()
    _summary, _, (failure,) = _run(
        toolbox, toolbox_url, tmp_path, [task("ratelimit 3600")], _endpoint(model[1], retry_max_time=5)
    )
    assert time.monotonic() - started < 2 and model[0].seen["ratelimit 3600"] == 1
    assert "5s retry limit" in failure["_ng_failure_message"]


@pytest.mark.parametrize("verb", ["huge", "hugestream"])
def test_an_answer_over_the_size_cap_fails_the_rollout_without_being_read(
    verb: str, toolbox: Path, toolbox_url: str, model: tuple[ScriptedModel, str], tmp_path: Path
) -> None:
    # The attack: four 200 MB answers took gymkit to 1.27 GB.
    endpoint = _endpoint(model[1], max_response_bytes=64 * 1024)
    _summary, rows, (failure,) = _run(toolbox, toolbox_url, tmp_path, [task(f"{verb} 1000000")], endpoint)
    assert rows == [] and failure["_ng_failure_class"] == "model_bad_response"
    assert "65536-byte limit" in failure["_ng_failure_message"]


def test_a_hanging_tool_and_a_hanging_verify_end_at_the_server_timeout(
    toolbox: Path, toolbox_url: str, model: tuple[ScriptedModel, str], tmp_path: Path
) -> None:
    # The attack: a hanging verify or tool waited ten minutes, with no option to change it.
    nap = {**task("call nap", expected="no answer"), "responses_create_params": {
        "input": [{"role": "user", "content": "call nap"}], "tools": [NAP]}}  # fmt: skip
    slow_verify = {**task("answer 1", expected="1"), "verify_delay": 5.0}
    started = time.monotonic()
    _summary, (row,), (failure,) = _run(
        toolbox, toolbox_url, tmp_path, [nap, slow_verify], _endpoint(model[1]), bounds=Bounds(server_timeout=0.3)
    )
    assert time.monotonic() - started < 4
    assert "no answer within 0.3s" in _tool_outputs(row)[0] and row["_gymkit"]["tool_errors"] == 1
    assert failure["_ng_task_index"] == 1 and failure["_ng_failure_class"] == "server_error"
    assert "/verify: no answer within 0.3s" in failure["_ng_failure_message"]


def test_a_rollout_that_runs_too_long_is_a_failure(
    toolbox: Path, toolbox_url: str, model: tuple[ScriptedModel, str], tmp_path: Path
) -> None:
    model[0].delay = 0.05
    _summary, rows, (failure,) = _run(
        toolbox, toolbox_url, tmp_path, [task("loop", secret="x")], _endpoint(model[1]),
        bounds=Bounds(max_steps=1000, rollout_timeout=0.5),
    )  # fmt: skip
    assert rows == [] and failure["_ng_failure_class"] == "rollout_timeout"
    assert 3 < len(model[0].requests) < 20


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("base_url: http://x/v1\ntimeout: .nan\n", ":2: timeout: Input should be a finite number"),
        ("base_url: http://x/v1\ntimeout: -1\n", ":2: timeout: Input should be greater than 0"),
        ("base_url: http://x/v1\ntimeout: .inf\n", ":2: timeout: Input should be a finite number"),
        ("base_url: http://x/v1\nmax_retries: -5\n", ":2: max_retries: Input should be greater than or equal to 0"),
        ("base_url: http://x/v1\nmax_response_bytes: 0\n", ":2: max_response_bytes: Input should be greater"),
        ("base_url: http://x/v1\ntimeout: 5\ntimeout: 1\n", ":3: not valid YAML: found duplicate key 'timeout'"),
        ("base_url: http://x/v1\nretries: 3\n", ":2: unknown key 'retries'"),
    ],
)
def test_endpoint_config_numbers_and_keys_are_checked(tmp_path: Path, text: str, where: str) -> None:
    config = tmp_path / "endpoint.yaml"
    config.write_text(text)
    with pytest.raises(UserError) as info:
        endpoint_from_settings(config_file=config, environ={})
    assert str(info.value).startswith(f"{config}{where}"), str(info.value)
    assert "\n" not in str(info.value)


def test_endpoint_config_bounds_reach_the_endpoint(tmp_path: Path) -> None:
    config = tmp_path / "endpoint.yaml"
    config.write_text(
        "base_url: http://x/v1\ntimeout: 7\nmax_retries: 0\nretry_max_time: 9\nmax_response_bytes: 1024\n"
    )
    endpoint = endpoint_from_settings(config_file=config, environ={})
    assert endpoint is not None
    assert (endpoint.timeout, endpoint.max_retries, endpoint.retry_max_time, endpoint.max_response_bytes) == (
        7.0, 0, 9.0, 1024)  # fmt: skip
    flags = endpoint_from_settings(config_file=config, timeout=3, environ={})
    assert flags is not None and flags.timeout == 3.0


@pytest.mark.parametrize(
    "kwargs", [{"timeout": float("nan")}, {"timeout": -1.0}, {"max_retries": -5}, {"retry_max_time": float("inf")}]
)
def test_programmatic_endpoint_bounds_are_checked(kwargs: dict[str, Any]) -> None:
    with pytest.raises(UserError, match="must be"):
        EndpointConfig(("http://x/v1",), **kwargs)


@pytest.mark.parametrize("kwargs", [{"rollout_timeout": float("nan")}, {"server_timeout": 0.0}, {"max_steps": 0}])
def test_run_bounds_are_checked(kwargs: dict[str, Any]) -> None:
    with pytest.raises(UserError, match="must be"):
        Bounds(**kwargs)
