"""A gymkit server whose verify returns gymkit.BaseMultiRewardVerifyResponse serves reward_components."""

from __future__ import annotations

import math

import httpx
import pytest
from pydantic import ValidationError

from gymkit import BaseMultiRewardVerifyResponse, BaseResourcesServer, BaseVerifyRequest
from gymkit.runtime.serving import serving_in_thread
from tests.test_server_http import answer as _answer

RCP = {"responses_create_params": {"input": [{"role": "user", "content": "Weather in Paris?"}]}}


class WeatherVerifyResponse(BaseMultiRewardVerifyResponse):
    correct: bool


class Weather(BaseResourcesServer):
    async def verify(self, body: BaseVerifyRequest) -> WeatherVerifyResponse:
        text = body.response.output[0].model_dump()["content"][0]["text"]
        components = {"correctness": float("Paris" in text), "format": float(text.endswith("."))}
        # The mean, not upstream's example's sum: a gymkit reward stays within [0, 1].
        reward = sum(components.values()) / len(components)
        return WeatherVerifyResponse(
            **body.model_dump(), reward=reward, reward_components=components, correct="Paris" in text
        )


def test_verify_serves_reward_components_beside_the_aggregate_reward() -> None:
    with serving_in_thread(Weather().app) as url:
        reply = httpx.post(url + "/verify", json={**RCP, "response": _answer("Sunny in Paris")})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["reward_components"] == {"correctness": 1.0, "format": 0.0}
    assert body["reward"] == 0.5 and body["correct"] is True
    assert body["responses_create_params"]["input"][0]["content"] == "Weather in Paris?"


def test_the_components_are_required_and_finite() -> None:
    base = {**RCP, "response": _answer("x"), "reward": 1.0}
    with pytest.raises(ValidationError, match="reward_components"):
        BaseMultiRewardVerifyResponse.model_validate(base)
    for bad in (math.nan, math.inf, "high"):
        with pytest.raises(ValidationError, match=r"reward_components\.a"):
            BaseMultiRewardVerifyResponse.model_validate({**base, "reward_components": {"a": bad}})
    ok = BaseMultiRewardVerifyResponse.model_validate({**base, "reward_components": {"a": 1}})
    assert ok.reward_components == {"a": 1.0}
