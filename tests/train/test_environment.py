"""The pieces of gymkit train that need no model: the server as TRL environment, the response, the groups."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gymkit.runtime.serving import ServerProcess
from gymkit.train.environment import close_environments, environment_class, to_response, tool_specs, verify_reward
from gymkit.train.trainer import group_signal

pytestmark = pytest.mark.train

WEATHER = Path(__file__).resolve().parents[2] / "resources_servers" / "weather"


def _rows(n: int = 2) -> list[dict]:
    lines = (WEATHER / "data" / "train.jsonl").read_text().splitlines()[:n]
    return [json.loads(line) for line in lines]


def test_tool_schema_renders_the_servers_declared_tool() -> None:
    transformers = pytest.importorskip("transformers")
    env = environment_class("weather", "http://127.0.0.1:9", tool_specs(_rows()))
    schema = transformers.utils.get_json_schema(env().get_weather)["function"]
    close_environments(env)
    assert schema["name"] == "get_weather"
    assert schema["description"].startswith("Current weather for a city")
    assert schema["parameters"]["properties"]["city"] == {"type": "string", "description": "City name, e.g. Lisbon"}
    assert schema["parameters"]["required"] == ["city"]


def test_reserved_routes_are_never_tools() -> None:
    rows = [{"responses_create_params": {"tools": [{"type": "function", "name": "verify"}, {"name": "ok_tool"}]}}]
    assert [spec["name"] for spec in tool_specs(rows)] == ["ok_tool"]


def _call(city: str) -> dict:
    call = {"function": {"name": "get_weather", "arguments": {"city": city}}}
    return {"role": "assistant", "content": "", "tool_calls": [call]}


def test_to_response_pairs_calls_with_their_outputs() -> None:
    completion = [
        _call("Lima"),
        {"role": "tool", "name": "get_weather", "content": '{"temperature_c": 21}'},
        {"role": "assistant", "content": "It is 21 °C in Lima."},
    ]
    output = to_response(completion)["output"]
    assert [item["type"] for item in output] == ["function_call", "function_call_output", "message"]
    assert output[0]["call_id"] == output[1]["call_id"]
    assert json.loads(output[0]["arguments"]) == {"city": "Lima"}
    assert output[2]["content"][0]["text"] == "It is 21 °C in Lima."


def test_a_rollout_through_the_environment_is_scored_by_the_server() -> None:
    row = _rows(1)[0]
    truth = row["weather"][row["city"]]
    with ServerProcess(WEATHER) as server:
        env_class = environment_class("weather", server.url, tool_specs([row]))
        env = env_class()
        env.reset(gymkit_row=json.dumps(row), prompt=[])
        answer = json.loads(env.get_weather(city=row["city"]))
        assert answer["temperature_c"] == truth["temperature_c"]  # the session seed_session stored
        refused = json.loads(env._call("seed_session", {}))
        assert "Unknown tool" in refused["error"]
        good = [
            _call(row["city"]),
            {"role": "tool", "content": json.dumps(answer)},
            {"role": "assistant", "content": f"It is {truth['temperature_c']} °C and {truth['condition']}."},
        ]
        bad = [{"role": "assistant", "content": "It is 99 °C."}]
        rewards = verify_reward([good, bad], [env, env])
    close_environments(env_class)
    assert rewards == [1.0, 0.0]
    stats = env_class.stats.take()
    assert stats == {"server/seed_sessions": 1, "server/tool_calls": 1, "server/tool_errors": 1, "server/verifies": 2}


def test_group_signal_tells_mixed_from_uniform_groups() -> None:
    rewards = [0.0, 1.0, 0.0, 0.0, 0.5, 0.5, 0.5, 0.5]
    advantages = [-0.5, 1.5, -0.5, -0.5, 0.0, 0.0, 0.0, 0.0]
    signal = group_signal(rewards, advantages, 4)
    assert signal == {
        "groups/mixed_share": 0.5,
        "groups/uniform_advantage_abs_max": 0.0,
        "groups/mixed_with_nonzero_advantage": 1.0,
    }
    assert group_signal(rewards[:3], advantages[:3], 4) == {}


def test_the_response_is_complete_as_gymkit_rollouts_sends_it() -> None:
    from gymkit.runtime.wire import Response

    params = _rows(1)[0]["responses_create_params"]
    completion = [_call("Lima"), {"role": "tool", "content": "{}"}]
    response = to_response(completion, params)
    assert response["tools"] == params["tools"]  # NeMo Gym's /verify answers 422 without them
    assert response["tool_choice"] == "auto"
    parsed = Response.model_validate(response)
    assert [item.type for item in parsed.output] == ["function_call", "function_call_output"]


def test_a_server_that_does_not_answer_stops_the_run() -> None:
    import socket

    from gymkit.train.environment import ServerRolloutError

    with socket.socket() as sock:  # a port nothing listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        env_class = environment_class("weather", url, tool_specs(_rows(1)), timeout=5)
        with pytest.raises(ServerRolloutError, match="/seed_session did not answer"):
            env_class().reset(gymkit_row=json.dumps(_rows(1)[0]))
        close_environments(env_class)
