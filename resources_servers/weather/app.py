"""weather: one tool call, then an answer that must use what the tool returned.

Each task row carries its own weather table (city -> conditions), made up for that task.
``seed_session`` stores the table in the rollout's session and ``get_weather`` answers
from it, so the model can only know the numbers by calling the tool. ``verify`` reads
the response alone (not the session), so stored rollouts re-verify: the reward needs a
``get_weather`` call for the asked city, with its output in the response, and then pays
for each asked fact the final answer states correctly.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from gymkit import (
    BaseResourcesServer,
    BaseSeedSessionRequest,
    BaseSeedSessionResponse,
    BaseVerifyRequest,
    BaseVerifyResponse,
    Response,
    function_calls,
    output_text,
)
from gymkit.runtime.wire import FunctionCallOutputItem

__all__ = [
    "CONDITIONS",
    "CityWeather",
    "GetWeatherRequest",
    "GetWeatherResponse",
    "WeatherResourcesServer",
    "WeatherSeedRequest",
    "WeatherVerifyRequest",
    "WeatherVerifyResponse",
    "normalize_city",
    "server",
]

# The words that count as naming each condition in an answer.
CONDITIONS: dict[str, tuple[str, ...]] = {
    "sunny": ("sunny", "sun", "sunshine", "clear"),
    "cloudy": ("cloudy", "clouds", "overcast", "cloud"),
    "rainy": ("rainy", "rain", "raining", "showers", "drizzle"),
    "snowy": ("snowy", "snow", "snowing"),
    "foggy": ("foggy", "fog", "mist", "misty"),
    "stormy": ("stormy", "storm", "thunderstorm", "thunder"),
}
Fact = Literal["condition", "temperature_c"]
_WORD = re.compile(r"[a-z]+")
_NUMBER = re.compile(r"(?<![\w.])([-−]?\d+(?:\.\d+)?)\s*(%|percent)?", re.IGNORECASE)
# Pasting the tool's raw output back (its JSON keys, or the chat template's tool tags) is
# not an answer to the user; small models do it, and it would otherwise earn full reward.
_ECHO = re.compile(r"temperature_c|humidity_percent|tool_response|[{,]\s*\"city\"\s*:", re.IGNORECASE)


class CityWeather(BaseModel):
    condition: Literal["sunny", "cloudy", "rainy", "snowy", "foggy", "stormy"]
    temperature_c: int = Field(ge=-60, le=60)
    humidity_percent: int = Field(ge=0, le=100)


class WeatherSeedRequest(BaseSeedSessionRequest):
    weather: dict[str, CityWeather] = Field(default_factory=dict)


class GetWeatherRequest(BaseModel):
    city: str = Field(max_length=200)


class GetWeatherResponse(BaseModel):
    city: str
    condition: str | None = None
    temperature_c: int | None = None
    humidity_percent: int | None = None
    error: str | None = None


class WeatherVerifyRequest(BaseVerifyRequest):
    city: str
    weather: dict[str, CityWeather]
    asked: list[Fact] = Field(min_length=1)


class WeatherVerifyResponse(BaseVerifyResponse):
    tool_called: bool = False
    echoed_tool_output: bool = False
    facts_correct: dict[str, bool] = Field(default_factory=dict)


def normalize_city(name: str) -> str:
    return " ".join(_WORD.findall(name.lower()))


def _called_for(response: Response, city: str) -> bool:
    """A get_weather call for ``city`` whose output came back in the same response."""
    answered = {item.call_id for item in response.output if isinstance(item, FunctionCallOutputItem)}
    for call in function_calls(response):
        if call.name != "get_weather" or call.call_id not in answered:
            continue
        try:
            arguments = json.loads(call.arguments)
        except ValueError:
            continue
        if isinstance(arguments, dict) and normalize_city(str(arguments.get("city", ""))) == normalize_city(city):
            return True
    return False


def _states_condition(answer: str, condition: str) -> bool:
    words = set(_WORD.findall(answer.lower()))
    named = {name for name, synonyms in CONDITIONS.items() if words & set(synonyms)}
    return named == {condition}  # the right one, and no hedging across several


def _states_temperature(answer: str, truth: CityWeather) -> bool:
    """The temperature is stated, and every other number is one the tool returned.

    Counting distinct numbers is not enough: "27, 13 or 22 °C" lists three guesses and
    would pass a limit of three. So a number followed by % must be the humidity, and any
    other must be the temperature (or the same temperature in °F, which people add).
    """
    fahrenheit = truth.temperature_c * 9 / 5 + 32
    stated = False
    for raw, percent in _NUMBER.findall(answer):
        value = float(raw.replace("−", "-"))
        if percent:
            if value != truth.humidity_percent:
                return False
        elif value == truth.temperature_c:
            stated = True
        elif abs(value - fahrenheit) > 1:
            return False
    return stated


def _final_answer(response: Response) -> str:
    """The assistant's text after the last tool output: what it concluded from the tool."""
    last_output = max(
        (i for i, item in enumerate(response.output) if isinstance(item, FunctionCallOutputItem)), default=-1
    )
    tail = Response(output=response.output[last_output + 1 :])
    return output_text(tail)


class WeatherResourcesServer(BaseResourcesServer):
    async def seed_session(self, body: WeatherSeedRequest) -> BaseSeedSessionResponse:
        self.session["weather"] = {normalize_city(city): (city, w) for city, w in body.weather.items()}
        return BaseSeedSessionResponse()

    async def get_weather(self, body: GetWeatherRequest) -> GetWeatherResponse:
        """Current weather for a city: condition, temperature in °C and humidity."""
        table: dict[str, tuple[str, CityWeather]] = self.session.get("weather", {})
        found = table.get(normalize_city(body.city))
        if found is None:
            # Reported to the model as the tool's output, so it can correct the city name.
            return GetWeatherResponse(city=body.city, error=f"no weather data for {body.city!r}")
        name, weather = found
        return GetWeatherResponse(city=name, **weather.model_dump())

    async def verify(self, body: WeatherVerifyRequest) -> WeatherVerifyResponse:
        truth = {normalize_city(k): v for k, v in body.weather.items()}.get(normalize_city(body.city))
        called = _called_for(body.response, body.city)
        facts: dict[str, Any] = {}
        answer = _final_answer(body.response)
        echoed = bool(_ECHO.search(answer))
        if truth is not None and called and not echoed:
            checks = {
                "condition": _states_condition(answer, truth.condition),
                "temperature_c": _states_temperature(answer, truth),
            }
            facts = {fact: checks[fact] for fact in body.asked}
        reward = sum(facts.values()) / len(body.asked) if facts else 0.0
        return WeatherVerifyResponse(
            **body.model_dump(), reward=reward, tool_called=called, echoed_tool_output=echoed, facts_correct=facts
        )


server = WeatherResourcesServer()

if __name__ == "__main__":
    server.run()  # python app.py: how ng_run starts a server
