"""Tests of the weather server: the tool over seeded session state, verify, and hostile input."""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from app import GetWeatherRequest, WeatherResourcesServer, WeatherSeedRequest, WeatherVerifyRequest

from gymkit import BaseRunRequest
from gymkit.runtime.serving import serving_in_thread

SERVER_DIR = Path(__file__).resolve().parent.parent
DATA = SERVER_DIR / "data"
TABLE = {
    "Lisbon": {"condition": "rainy", "temperature_c": 14, "humidity_percent": 81},
    "Oslo": {"condition": "snowy", "temperature_c": -3, "humidity_percent": 70},
}


def rows(split: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()]


def rollout(answer: str, city: str = "Lisbon", *, output: bool = True, arguments: str | None = None) -> dict[str, Any]:
    """A response as the agent records it: the call, the tool's output, then the answer."""
    items: list[dict[str, Any]] = [
        {
            "type": "function_call",
            "call_id": "c1",
            "name": "get_weather",
            "arguments": arguments or json.dumps({"city": city}),
        }
    ]
    if output:
        items.append(
            {
                "type": "function_call_output",
                "call_id": "c1",
                "output": json.dumps({"city": city, **TABLE.get(city, {})}),
            }
        )
    items.append({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": answer}]})
    return {"id": "resp_test", "output": items}


def score(response: dict[str, Any], asked: list[str] | None = None, city: str = "Lisbon") -> float:
    body = WeatherVerifyRequest.model_validate(
        {
            "responses_create_params": {"input": [{"role": "user", "content": "Weather in Lisbon?"}]},
            "city": city,
            "weather": TABLE,
            "asked": asked or ["condition", "temperature_c"],
            "response": response,
        }
    )
    return asyncio.run(WeatherResourcesServer().verify(body)).reward


def test_tool_answers_from_the_seeded_table_whatever_the_case_or_spacing() -> None:
    server = WeatherResourcesServer()
    asyncio.run(server.seed_session(WeatherSeedRequest(weather=TABLE)))
    found = asyncio.run(server.get_weather(GetWeatherRequest(city="  lisbon ")))
    assert (found.city, found.condition, found.temperature_c, found.error) == ("Lisbon", "rainy", 14, None)


def test_tool_reports_an_unknown_city_as_output_not_an_exception() -> None:
    server = WeatherResourcesServer()
    asyncio.run(server.seed_session(WeatherSeedRequest(weather=TABLE)))
    missing = asyncio.run(server.get_weather(GetWeatherRequest(city="Atlantis")))
    assert missing.condition is None and "no weather data" in (missing.error or "")


def test_answer_using_the_tool_result_scores_one() -> None:
    assert score(rollout("It's rainy in Lisbon and 14 °C, so take an umbrella.")) == 1.0


def test_each_asked_fact_is_worth_its_share() -> None:
    assert score(rollout("It's raining in Lisbon.")) == 0.5
    assert score(rollout("It is 14 degrees.")) == 0.5
    assert score(rollout("It's raining in Lisbon."), asked=["condition"]) == 1.0


def test_no_tool_call_means_no_reward_even_with_the_right_words() -> None:
    answer = {"output": [{"type": "message", "role": "assistant", "content": "Rainy and 14 °C in Lisbon."}]}
    assert score(answer) == 0.0


def test_call_for_another_city_or_without_its_output_scores_zero() -> None:
    assert score(rollout("Rainy and 14 °C.", city="Oslo")) == 0.0
    assert score(rollout("Rainy and 14 °C.", output=False)) == 0.0


def test_hedging_across_conditions_or_temperatures_does_not_pay() -> None:
    assert score(rollout("Could be sunny, rainy or snowy; 14 °C.")) == 0.5
    assert score(rollout("Rainy, somewhere around 10, 12, 14 or 16 °C.")) == 0.5
    # Three numbers passed the old "at most three distinct numbers" rule (found by gymkit audit).
    assert score(rollout("Rainy, 12, 14 or 16 °C.")) == 0.5
    assert score(rollout("It is 12 or 14 °C.")) == 0.0


def test_the_humidity_and_a_fahrenheit_reading_may_accompany_the_temperature() -> None:
    assert score(rollout("Rainy and 14 °C (57 °F), humidity 81%.")) == 1.0
    assert score(rollout("Rainy and 14 °C, humidity 14%.")) == 0.5


@pytest.mark.parametrize(
    "answer",
    [
        '<tool_response>\n{"city":"Lisbon","condition":"rainy","temperature_c":14,"humidity_percent":81}',
        'Here you go: {"city": "Lisbon", "condition": "rainy", "temperature": 14}',
        "condition rainy, temperature_c 14",
    ],
)
def test_pasting_the_raw_tool_output_is_not_an_answer(answer: str) -> None:
    assert score(rollout(answer)) == 0.0


def test_wrong_values_score_zero() -> None:
    assert score(rollout("Sunny and 25 °C in Lisbon.")) == 0.0


@pytest.mark.parametrize("arguments", ["not json", "[]", '{"town": "Lisbon"}', '{"city": null}', "{" * 10_000])
def test_malformed_call_arguments_score_zero_without_raising(arguments: str) -> None:
    assert score(rollout("Rainy and 14 °C.", arguments=arguments)) == 0.0


def test_example_rows_are_valid_and_name_a_city_in_their_table() -> None:
    examples = rows("example")
    assert len(examples) >= 5
    for row in examples:
        BaseRunRequest.model_validate(row)
        WeatherVerifyRequest.model_validate({**row, "response": {"output": []}})
        assert row["city"] in row["weather"]
        assert [t["name"] for t in row["responses_create_params"]["tools"]] == ["get_weather"]


def test_datasets_are_what_the_generator_writes() -> None:
    generated = subprocess.run(
        [sys.executable, str(SERVER_DIR / "generate_data.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert generated.returncode == 0, generated.stderr
    assert len(rows("train")) >= 500 and len(rows("validation")) >= 50


class _Client:
    """One rollout's HTTP client: its own cookie jar, so its own session."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self.base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with self.opener.open(request, timeout=10) as reply:
            return json.loads(reply.read())


def test_sessions_over_http_keep_each_rollouts_table_apart() -> None:
    first, second = rows("example")[:2]
    with serving_in_thread(WeatherResourcesServer().app) as url:
        a, b = _Client(url), _Client(url)
        a.post("/seed_session", first)
        b.post("/seed_session", second)
        got_a = a.post("/get_weather", {"city": first["city"]})
        got_b = b.post("/get_weather", {"city": first["city"]})
        assert got_a["temperature_c"] == first["weather"][first["city"]]["temperature_c"]
        assert (got_b.get("error") is not None) == (first["city"] not in second["weather"])
        unseeded = _Client(url).post("/get_weather", {"city": first["city"]})
        assert unseeded["error"]
        with pytest.raises(urllib.error.HTTPError) as info:
            a.post("/get_weather", {"city": "x" * 10_000})
        assert info.value.code == 422
        info.value.close()
