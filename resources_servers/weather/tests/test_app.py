"""Tests of this server: its tool, verify(), and the example data."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from app import CalculateRequest, TaskVerifyRequest, extract_answer, server

from gymkit import BaseRunRequest

EXAMPLE = Path(__file__).resolve().parent.parent / "data" / "example.jsonl"
QUESTION = {"input": [{"role": "user", "content": "What is 6 * 7?"}]}


def response(*texts: str) -> dict[str, Any]:
    """A Responses API response whose output is one assistant message per text."""
    output = [
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]} for text in texts
    ]
    return {"id": "resp_test", "output": output}


def score(raw_response: dict[str, Any], expected: str = "42") -> float:
    body = TaskVerifyRequest.model_validate(
        {"responses_create_params": QUESTION, "expected_answer": expected, "response": raw_response}
    )
    return asyncio.run(server.verify(body)).reward


def example_rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in EXAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("a", "op", "b", "expected"),
    [(17, "*", 23, 391), (1001, "-", 387, 614), (144, "/", 12, 12), (25, "+", 37, 62)],
)
def test_calculate(a: float, op: str, b: float, expected: float) -> None:
    result = asyncio.run(server.calculate(CalculateRequest(a=a, b=b, op=op)))
    assert result.result == expected
    assert result.error is None


def test_calculate_reports_division_by_zero_instead_of_raising() -> None:
    result = asyncio.run(server.calculate(CalculateRequest(a=1, b=0, op="/")))
    assert result.result is None
    assert result.error == "division by zero"


def test_example_rows_offer_the_tool_with_its_real_arguments() -> None:
    fields = set(CalculateRequest.model_json_schema()["properties"])
    for row in example_rows():
        (tool,) = row["responses_create_params"]["tools"]
        assert tool["name"] in server.tools()
        assert set(tool["parameters"]["properties"]) == fields


def test_right_answer_scores_one() -> None:
    assert score(response("6 * 7 = 42.\nAnswer: 42")) == 1.0


def test_answer_is_compared_as_a_number() -> None:
    assert score(response("Answer: 42.0")) == 1.0
    assert score(response("Answer: 1,000"), expected="1000") == 1.0


def test_last_answer_line_counts() -> None:
    assert score(response("Answer: 41\nNo, I made a slip.\nAnswer: 42")) == 1.0
    assert score(response("Answer: 42\nOn second thought:\nAnswer: 41")) == 0.0


def test_wrong_answer_scores_zero() -> None:
    assert score(response("Answer: 41")) == 0.0


def test_empty_response_scores_zero() -> None:
    assert score({"id": "resp_empty", "output": []}) == 0.0
    assert score(response("")) == 0.0


@pytest.mark.parametrize("text", ["42", "The answer is forty-two.", "Answer: forty-two", "Answer: nan", "Answer:"])
def test_malformed_output_scores_zero(text: str) -> None:
    assert score(response(text)) == 0.0


def test_extract_answer() -> None:
    assert extract_answer("work\nAnswer: 3.5.") == "3.5"
    assert extract_answer("no final line") is None


def test_example_rows_are_valid_and_score_one_on_their_expected_answer() -> None:
    rows = example_rows()
    assert len(rows) >= 5
    for row in rows:
        BaseRunRequest.model_validate(row)
        assert score(response(f"Answer: {row['expected_answer']}"), expected=row["expected_answer"]) == 1.0
