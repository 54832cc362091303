from __future__ import annotations

import math
from pathlib import Path

import pytest
from pydantic import ValidationError

from gymkit.errors import InvalidDataError
from gymkit.jsonl import iter_rows, validate_rows
from gymkit.runtime.wire import (
    BaseRunRequest,
    FunctionCallItem,
    FunctionCallOutputItem,
    MessageItem,
    OtherItem,
    Response,
    ResponseCreateParams,
    RolloutRow,
    function_calls,
    output_text,
    reward_problem,
)

from .conftest import UPSTREAM

UPSTREAM_EXAMPLES = sorted(UPSTREAM.glob("*/example.jsonl"))
UPSTREAM_ROLLOUTS = sorted(UPSTREAM.glob("*/example_rollouts.jsonl"))


@pytest.mark.parametrize("path", UPSTREAM_EXAMPLES, ids=lambda p: p.parent.name)
def test_upstream_example_rows_validate(path: Path) -> None:
    rows = list(validate_rows(path, BaseRunRequest))
    assert len(rows) == 5
    assert [n for n, _ in rows] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("path", UPSTREAM_ROLLOUTS, ids=lambda p: p.parent.name)
def test_upstream_rollouts_validate_and_round_trip(path: Path) -> None:
    for _, raw in iter_rows(path):
        row = RolloutRow.model_validate(raw)
        dumped = row.model_dump(mode="json")
        # Nothing upstream wrote is dropped: every key survives, task extras included.
        assert set(raw) <= set(dumped)
        assert set(raw["response"]) <= set(dumped["response"])


def test_upstream_function_call_output_inside_response_output() -> None:
    rows = [
        RolloutRow.model_validate(r) for _, r in iter_rows(UPSTREAM / "example_single_tool_call/example_rollouts.jsonl")
    ]
    items = [item for row in rows for item in row.response.output]
    outputs = [i for i in items if isinstance(i, FunctionCallOutputItem)]
    calls = [i for i in items if isinstance(i, FunctionCallItem)]
    assert outputs and calls
    assert all(o.call_id in {c.call_id for c in calls} for o in outputs)


def test_blackjack_negative_reward_is_a_valid_rollout_but_not_a_gymkit_reward() -> None:
    rows = [RolloutRow.model_validate(r) for _, r in iter_rows(UPSTREAM / "blackjack/example_rollouts.jsonl")]
    assert any(r.reward < 0 for r in rows)
    assert reward_problem(-1.0) == "reward must be in [0, 1], got -1.0"


def test_task_fields_pass_through_run_request() -> None:
    row = BaseRunRequest.model_validate(
        {"responses_create_params": {"input": "hi"}, "expected_answer": "42", "agent_ref": {"name": "x"}}
    )
    assert row.model_dump()["expected_answer"] == "42"


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"input": "hi", "max_tokens": 5}, "max_tokens"),
        ({"tools": []}, "input"),
        ({"input": []}, "must not be empty"),
        ({"input": [{"content": "no role"}]}, "neither 'role' nor 'type'"),
        ({"input": "hi", "stream": True}, "stream"),
    ],
)
def test_create_params_are_strict(params: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        ResponseCreateParams.model_validate(params)
    assert fragment in str(info.value)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_rollout_reward_must_be_finite(bad: float) -> None:
    with pytest.raises(ValidationError, match="finite"):
        RolloutRow.model_validate({"responses_create_params": {"input": "x"}, "response": {}, "reward": bad})


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (0.0, None),
        (1.0, None),
        (0.5, None),
        (1, None),
        (True, "number"),
        ("1", "number"),
        (1.01, "[0, 1]"),
        (math.nan, "finite"),
        (None, "number"),
    ],
)
def test_reward_problem(value: object, problem: str | None) -> None:
    found = reward_problem(value)
    assert (found is None) if problem is None else (problem in (found or ""))


def test_output_items_by_type_and_unknown_items_pass_through() -> None:
    response = Response.model_validate(
        {
            "output": [
                {"type": "reasoning", "id": "r1", "summary": []},
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "{}", "id": None},
                {"type": "web_search_call", "id": "w1", "status": "completed"},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "first"}]},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "final"}]},
            ],
            "conversation": {"id": "conv"},
        }
    )
    kinds = [type(i) for i in response.output]
    assert kinds[1:4] == [FunctionCallItem, FunctionCallOutputItem, OtherItem]
    assert isinstance(response.output[-1], MessageItem)
    assert output_text(response) == "final"
    assert output_text(response, last_only=False) == "first\nfinal"
    assert [c.name for c in function_calls(response)] == ["f"]
    assert response.model_dump()["conversation"] == {"id": "conv"}
    assert response.model_dump()["output"][3]["type"] == "web_search_call"


def test_output_text_of_empty_response() -> None:
    assert output_text(Response()) == ""


def test_placeholder_rows_are_refused_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "example_rollouts.jsonl"
    path.write_text('{"responses_create_params": {"input": "a"}, "response": {}, "reward": 1}\n<PLACEHOLDER ROW>\n')
    with pytest.raises(InvalidDataError) as info:
        list(validate_rows(path, RolloutRow))
    assert str(info.value) == f"{path}:2: not valid JSON"


def test_row_without_reward_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rollouts.jsonl"
    path.write_text('\n{"responses_create_params": {"input": "a"}, "response": {}}\n')
    with pytest.raises(InvalidDataError) as info:
        list(validate_rows(path, RolloutRow))
    assert str(info.value) == f"{path}:2: reward: required field is missing"


def test_non_object_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text("[1, 2]\n")
    with pytest.raises(InvalidDataError, match=r"x.jsonl:1: expected a JSON object"):
        list(iter_rows(path))
