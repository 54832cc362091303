"""Tests of the json_extraction server: parsing, each criterion, the weighted reward, hostile replies."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from app import (
    WEIGHTS,
    FieldSpec,
    JsonExtractionResourcesServer,
    JsonExtractionVerifyRequest,
    parse_object,
    score_object,
)

from gymkit import BaseRunRequest
from gymkit.runtime.serving import serving_in_thread

SERVER_DIR = Path(__file__).resolve().parent.parent
DATA = SERVER_DIR / "data"
FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "age", "type": "integer", "minimum": 0, "maximum": 120},
    {"name": "email", "type": "email"},
    {"name": "vip", "type": "boolean"},
]
EXPECTED = {"name": "Ana Silva", "age": 34, "email": "ana@example.org", "vip": False}


def response(text: str) -> dict[str, Any]:
    return {"output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}]}


def verify(text: str, fields: list[dict[str, Any]] | None = None, expected: dict[str, Any] | None = None) -> Any:
    body = JsonExtractionVerifyRequest.model_validate(
        {
            "responses_create_params": {"input": [{"role": "user", "content": "Extract."}]},
            "fields": fields or FIELDS,
            "expected": expected or EXPECTED,
            "response": response(text),
        }
    )
    return asyncio.run(JsonExtractionResourcesServer().verify(body))


def rows(split: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()]


def test_parse_object_finds_the_object_in_fences_bare_or_in_prose() -> None:
    assert parse_object('```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_object('{"a": 1}') == {"a": 1}
    assert parse_object('Sure! Here it is: {"a": 1} Hope that helps.') == {"a": 1}
    assert parse_object("[1, 2]") is None
    assert parse_object('{"a": 1, "a": 2}') is None
    assert parse_object('{"a": {"b": 1, "b": 1}}') is None
    assert parse_object("no json") is None


def test_perfect_answer_scores_one() -> None:
    result = verify(json.dumps(EXPECTED))
    assert result.reward == 1.0
    assert result.criteria == dict.fromkeys(WEIGHTS, 1.0)


def test_criteria_are_fractions_and_the_reward_is_their_weighted_sum() -> None:
    # Present and well typed, but two of four values wrong, one field missing.
    answer = {"name": "Ana Silva", "age": 43, "email": "ana@example.org"}
    result = verify(json.dumps(answer))
    assert result.criteria == {
        "valid_json": 1.0,
        "fields_present": 0.75,
        "values_in_range": 0.75,
        "values_correct": 0.5,
    }
    assert result.reward == pytest.approx(0.1 + 0.2 * 0.75 + 0.2 * 0.75 + 0.5 * 0.5)


def test_types_and_ranges_are_checked_separately_from_values() -> None:
    specs = [FieldSpec.model_validate(f) for f in FIELDS]
    wrong_types = {"name": " ", "age": "34", "email": "not-an-email", "vip": "false"}
    assert score_object(wrong_types, specs, EXPECTED)["values_in_range"] == 0.0
    out_of_range = {**EXPECTED, "age": 340}
    assert score_object(out_of_range, specs, EXPECTED)["values_in_range"] == 0.75
    assert score_object({**EXPECTED, "age": True}, specs, EXPECTED)["values_correct"] == 0.75


def test_strings_match_ignoring_case_and_spacing_and_numbers_with_tolerance() -> None:
    assert verify(json.dumps({**EXPECTED, "name": "  ana   SILVA "})).criteria["values_correct"] == 1.0
    assert verify(json.dumps({**EXPECTED, "age": 34.0})).criteria["values_correct"] == 1.0


@pytest.mark.parametrize(
    "text",
    ["", "null", "{", "[" * 100_000, '{"name": NaN}', "{" + '"a": 1,' * 100_000 + '"b": 2}', "\x00\ufffd"],
)
def test_hostile_or_empty_replies_score_zero_without_raising(text: str) -> None:
    result = verify(text)
    assert 0.0 <= result.reward <= 0.1
    assert result.criteria["values_correct"] == 0.0


@pytest.mark.parametrize("text", ["{}", '{"reward": "max", "correct": true}'])
def test_an_object_without_any_asked_key_scores_zero(text: str) -> None:
    assert verify(text).reward == 0.0


def test_example_rows_are_valid_and_their_expected_values_score_one() -> None:
    examples = rows("example")
    assert len(examples) >= 5
    for row in examples:
        BaseRunRequest.model_validate(row)
        assert verify(json.dumps(row["expected"]), row["fields"], row["expected"]).reward == 1.0


def test_every_generated_expected_value_passes_its_own_type_and_range() -> None:
    for row in rows("train") + rows("validation"):
        specs = [FieldSpec.model_validate(f) for f in row["fields"]]
        assert score_object(row["expected"], specs, row["expected"]) == dict.fromkeys(WEIGHTS, 1.0), row["task_id"]


def test_datasets_are_what_the_generator_writes() -> None:
    generated = subprocess.run(
        [sys.executable, str(SERVER_DIR / "generate_data.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert generated.returncode == 0, generated.stderr
    assert len(rows("train")) >= 500 and len(rows("validation")) >= 50


def test_verify_over_http() -> None:
    row = rows("example")[0]
    body = {**row, "response": response("```json\n" + json.dumps(row["expected"]) + "\n```")}
    with serving_in_thread(JsonExtractionResourcesServer().app) as url:
        request = urllib.request.Request(
            url + "/verify", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            assert json.loads(reply.read())["reward"] == 1.0
