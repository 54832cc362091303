"""Tests of the arithmetic server: answer extraction, numeric matching, hostile replies, the data."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from app import ArithmeticResourcesServer, ArithmeticVerifyRequest, extract_answer, parse_number

from gymkit import BaseRunRequest
from gymkit.runtime.serving import serving_in_thread

SERVER_DIR = Path(__file__).resolve().parent.parent
DATA = SERVER_DIR / "data"
QUESTION = {"input": [{"role": "user", "content": "A box holds 12 eggs. How many eggs are in 9 boxes?"}]}


def response(*texts: str) -> dict[str, Any]:
    output = [
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]} for text in texts
    ]
    return {"id": "resp_test", "output": output}


def score(raw_response: dict[str, Any], expected: str = "108") -> float:
    body = ArithmeticVerifyRequest.model_validate(
        {"responses_create_params": QUESTION, "expected_answer": expected, "response": raw_response}
    )
    return asyncio.run(ArithmeticResourcesServer().verify(body)).reward


def rows(split: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("12 * 9 = 108\nAnswer: 108", ("108", "answer_line")),
        ("The answer is $1,234.50.", ("$1,234.50", "answer_line")),
        ("so \\boxed{3/4} it is", ("3/4", "boxed")),
        ("First 12, then 9 boxes, so 108 eggs.", ("108", "last_number")),
        ("Answer: 100\nWait, I slipped.\nAnswer: 108", ("108", "answer_line")),
        ("no digits here", (None, None)),
    ],
)
def test_extract_answer(text: str, found: tuple[str | None, str | None]) -> None:
    assert extract_answer(text) == found


def test_parse_number_understands_what_people_write() -> None:
    assert parse_number("$1,250.50") == 1250.5
    assert parse_number("−3") == -3
    assert parse_number("3/4") == 0.75
    assert parse_number("1/0") is None
    assert parse_number("nan") is None and parse_number("1e999") is None


def test_right_answer_scores_one_in_any_accepted_form() -> None:
    assert score(response("9 boxes of 12.\nAnswer: 108")) == 1.0
    assert score(response("\\boxed{108}")) == 1.0
    assert score(response("That makes 108 eggs.")) == 1.0
    assert score(response("Answer: 108.00")) == 1.0


def test_money_is_matched_to_the_cent() -> None:
    assert score(response("Answer: $37.60"), expected="37.60") == 1.0
    assert score(response("Answer: 37.6"), expected="37.60") == 1.0
    assert score(response("Answer: 37.59"), expected="37.60") == 0.0


def test_wrong_or_missing_answer_scores_zero() -> None:
    assert score(response("Answer: 107")) == 0.0
    assert score(response("Answer: 108\nOn second thought:\nAnswer: 96")) == 0.0
    assert score({"id": "resp_empty", "output": []}) == 0.0
    assert score(response("")) == 0.0
    assert score(response("one hundred and eight")) == 0.0


@pytest.mark.parametrize(
    "text",
    [
        "Answer: nan",
        "Answer: inf",
        "Answer: " + "9" * 400,
        "1," * 50_000 + "x",
        "\x00\ud7ff Answer: ½",
        "Answer: 108/0",
    ],
)
def test_hostile_replies_score_zero_without_raising(text: str) -> None:
    assert score(response(text)) == 0.0


def test_example_rows_are_valid_and_their_expected_answers_score_one() -> None:
    examples = rows("example")
    assert len(examples) >= 5
    for row in examples:
        BaseRunRequest.model_validate(row)
        assert score(response(f"Answer: {row['expected_answer']}"), expected=row["expected_answer"]) == 1.0


def test_datasets_are_what_the_generator_writes_and_answers_are_numbers() -> None:
    generated = subprocess.run(
        [sys.executable, str(SERVER_DIR / "generate_data.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert generated.returncode == 0, generated.stderr
    train, validation = rows("train"), rows("validation")
    assert len(train) >= 500 and len(validation) >= 50
    questions = [r["responses_create_params"]["input"][0]["content"] for r in train + validation + rows("example")]
    assert len(set(questions)) == len(questions)
    assert all(parse_number(r["expected_answer"]) is not None for r in train + validation)


def test_verify_over_http() -> None:
    row = rows("example")[0]
    body = {**row, "response": response(f"Answer: {row['expected_answer']}")}
    with serving_in_thread(ArithmeticResourcesServer().app) as url:
        request = urllib.request.Request(
            url + "/verify", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            result = json.loads(reply.read())
    assert result["reward"] == 1.0 and result["extraction"] == "answer_line"
