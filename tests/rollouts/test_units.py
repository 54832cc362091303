"""Conversion, argument repair and endpoint settings: pure functions, no HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from gymkit.errors import UserError
from gymkit.rollouts.clients import _first_call_only
from gymkit.rollouts.config import endpoint_from_settings
from gymkit.rollouts.convert import ModelResponseError, chat_to_response, responses_to_chat, tool_arguments


def test_responses_request_becomes_chat_messages() -> None:
    params = {
        "instructions": "be brief",
        "input": [
            {"role": "developer", "content": "rules"},
            {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            {"type": "function_call", "call_id": "c1", "name": "add", "arguments": '{"a":1}'},
            {"type": "function_call", "call_id": "c2", "name": "add", "arguments": '{"a":2}'},
            {"type": "function_call_output", "call_id": "c1", "output": "3"},
            {"type": "reasoning", "summary": []},
        ],
        "tools": [{"type": "function", "name": "add", "parameters": {"type": "object"}, "strict": True}],
        "tool_choice": {"type": "function", "name": "add"},
        "max_output_tokens": 9,
        "temperature": 0.1,
    }
    body = responses_to_chat(params, "m")
    assert [m["role"] for m in body["messages"]] == ["system", "system", "user", "assistant", "tool"]
    assert body["messages"][2]["content"] == "hi"
    assert [c["id"] for c in body["messages"][3]["tool_calls"]] == ["c1", "c2"]
    assert body["tools"] == [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "add"}}
    assert (body["max_tokens"], body["temperature"], body["model"]) == (9, 0.1, "m")


def test_no_tools_drops_tool_choice_and_parallel_calls() -> None:
    body = responses_to_chat({"input": "hi", "tool_choice": "auto", "parallel_tool_calls": True}, None)
    assert body == {"messages": [{"role": "user", "content": "hi"}]}


def test_chat_answer_becomes_response_items() -> None:
    data = {
        "id": "x",
        "choices": [
            {
                "finish_reason": "length",
                "message": {
                    "content": "thinking aloud",
                    "tool_calls": [{"id": "c9", "function": {"name": "add", "arguments": {"a": 1}}}],
                },
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
    }
    response = chat_to_response(data, "m")
    assert [i["type"] for i in response["output"]] == ["message", "function_call"]
    assert response["output"][1]["arguments"] == '{"a":1}' and response["output"][1]["call_id"] == "c9"
    assert response["status"] == "incomplete" and response["usage"]["output_tokens"] == 4
    with pytest.raises(ModelResponseError):
        chat_to_response({"error": "nope"})


def test_forced_turn_keeps_only_its_first_call() -> None:
    calls = [{"type": "function_call", "call_id": str(i)} for i in range(3)]
    trimmed = _first_call_only({"output": calls, "status": "incomplete", "incomplete_details": {"reason": "x"}})
    assert trimmed["output"] == calls[:1] and trimmed["incomplete_details"] is None


@pytest.mark.parametrize(
    ("raw", "value", "problem"),
    [
        ('{"a": 1}', {"a": 1}, None),
        ("", {}, None),
        ('{"a": 1}\n</tool_call> trailing', {"a": 1}, None),
        ('{"a": ', None, "Invalid tool call arguments"),
        ("[1, 2]", None, "expected a JSON object, got list"),
    ],
)
def test_tool_arguments_repair_or_reject(raw: str, value: object, problem: str | None) -> None:
    got, error = tool_arguments(raw)
    assert got == value
    assert (error is None) if problem is None else (problem in (error or ""))


@pytest.mark.parametrize(
    ("raw", "sent"),
    [
        ('{"city": "Paris"}', '{"city": "Paris"}'),  # valid: sent as the model wrote it
        ('{"city": "Paris"} thanks', '{"city": "Paris"}'),  # repaired
        ('{"city": "Marrakech_Clim', "{}"),  # cut off by max_output_tokens
        ("[1, 2]", "{}"),
        ("", "{}"),
    ],
)
def test_history_carries_only_json_object_arguments(raw: str, sent: str) -> None:
    # llama.cpp answers HTTP 500 to a request whose history holds a call with invalid arguments.
    params = {
        "input": [
            {"role": "user", "content": "weather?"},
            {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": raw},
            {"type": "function_call_output", "call_id": "c1", "output": '{"error": "Invalid tool call arguments"}'},
        ]
    }
    (call,) = responses_to_chat(params, None)["messages"][1]["tool_calls"]
    assert call["function"]["arguments"] == sent


def test_endpoint_settings_precedence(tmp_path: Path) -> None:
    env = {"OPENAI_BASE_URL": "http://openai:1/v1", "OPENAI_API_KEY": "k0", "GYMKIT_MODEL": "env-model"}
    assert endpoint_from_settings(environ={}) is None
    from_env = endpoint_from_settings(environ=env)
    assert from_env and from_env.base_urls == ("http://openai:1/v1",) and from_env.api_key == "k0"
    env["GYMKIT_BASE_URLS"] = "http://a:1, http://b:2/v1"
    both = endpoint_from_settings(environ=env)
    assert both and both.base_urls == ("http://a:1/v1", "http://b:2/v1") and both.model == "env-model"
    config = tmp_path / "endpoint.yaml"
    config.write_text("base_url: http://file:3/v1\nmodel: file-model\napi: chat\n")
    from_file = endpoint_from_settings(config_file=config, environ=env)
    assert from_file and from_file.base_urls == ("http://file:3/v1",) and from_file.api == "chat"
    flags = endpoint_from_settings(base_urls=["http://flag:4"], model="flag-model", config_file=config, environ=env)
    assert flags and flags.base_urls == ("http://flag:4/v1",) and flags.model == "flag-model"
    assert endpoint_from_settings(base_urls=["http://u:secret@h:5/v1"], environ={}).display == "http://h:5/v1"  # type: ignore[union-attr]
    config.write_text("base_url: http://x/v1\nmodle: typo\n")
    with pytest.raises(UserError, match="unknown key 'modle'"):
        endpoint_from_settings(config_file=config, environ={})
    with pytest.raises(UserError, match="not an http"):
        endpoint_from_settings(base_urls=["ftp://x"], environ={})


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("base_url: http://x/v1\ntimeout: fast\n", ":2: timeout"),
        ("base_url: http://x/v1\nmax_retries: many\n", ":2: max_retries"),
        ("base_url: 5\n", ":1: base_url"),
        ("base_urls: {a: 1}\n", ":1: base_urls"),
        ("base_url: http://x/v1\napi_key: [k]\n", ":2: api_key"),
    ],
)
def test_endpoint_config_values_of_the_wrong_type_name_file_and_line(tmp_path: Path, text: str, where: str) -> None:
    config = tmp_path / "endpoint.yaml"
    config.write_text(text)
    with pytest.raises(UserError, match=f"^{config}{where}"):
        endpoint_from_settings(config_file=config, environ={})


def test_a_turn_with_text_and_calls_is_one_assistant_message() -> None:
    # Upstream's converter buffers a turn's text and calls into one assistant message; two in
    # a row render as two assistant turns, and strict chat templates refuse them.
    params = {
        "input": [
            {"role": "user", "content": "add twice"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Adding."}]},
            {"type": "function_call", "call_id": "c1", "name": "add", "arguments": '{"a": 1}'},
            {"type": "function_call", "call_id": "c2", "name": "add", "arguments": '{"a": 2}'},
            {"type": "function_call_output", "call_id": "c1", "output": "1"},
            {"type": "function_call_output", "call_id": "c2", "output": "2"},
        ]
    }
    messages = responses_to_chat(params, None)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool"]
    assert messages[1]["content"] == "Adding."
    assert [c["id"] for c in messages[1]["tool_calls"]] == ["c1", "c2"]


def test_backoff_is_full_jitter_under_a_doubling_cap_and_believes_retry_after() -> None:
    import random

    from gymkit.rollouts.retry import RetryPolicy

    policy = RetryPolicy(max_retries=3, backoff=0.5, max_backoff=4.0, max_time=10.0)
    rng = random.Random(1)
    for retry, cap in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)):
        delays = [policy.delay(retry, None, rng) for _ in range(200)]
        assert 0 <= min(delays) < cap * 0.1 and cap * 0.9 < max(delays) <= cap
    assert policy.delay(1, 7.0, rng) == 7.0
    assert policy.gives_up(3, 1.0, 1.0) is None
    assert policy.gives_up(4, 1.0, 1.0) == "gave up after 3 retries"
    assert "10s retry limit" in (policy.gives_up(1, 5.0, 7.0) or "")


def test_retry_after_reads_seconds_and_http_dates() -> None:
    from gymkit.rollouts.retry import parse_retry_after

    now = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT
    assert parse_retry_after("3", now) == 3.0
    assert parse_retry_after(" 1.5 ", now) == 1.5
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", now) == 30.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now) == 0.0  # in the past: now
    assert parse_retry_after("-4", now) == 0.0
    for bad in (None, "soon", "nan", "inf", ""):
        assert parse_retry_after(bad, now) is None


def test_progress_rate_and_eta_count_this_runs_rollouts() -> None:
    from gymkit.rollouts.progress import Progress, _clock

    bar = Progress(total=100, done=40, enabled=False)
    assert bar.eta() is None
    for _ in range(10):
        bar.advance(1.0)
    start = bar._start
    assert bar.rate(start + 5) == 2.0
    assert bar.eta(start + 5) == 25.0  # 50 left at 2/s
    assert (_clock(None), _clock(25.0), _clock(3725.0)) == ("-", "0:25", "1:02:05")
