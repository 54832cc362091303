"""Addition problems: the reward is 1.0 when the last integer in the answer is the sum."""

from __future__ import annotations

import re

from gymkit import BaseResourcesServer, BaseVerifyRequest, BaseVerifyResponse
from gymkit.runtime.wire import output_text


class AdditionVerifyRequest(BaseVerifyRequest):
    expected_answer: str


class AdditionServer(BaseResourcesServer):
    async def verify(self, body: AdditionVerifyRequest) -> BaseVerifyResponse:
        numbers = re.findall(r"-?\d+", output_text(body.response))
        reward = 1.0 if numbers and numbers[-1] == body.expected_answer else 0.0
        return BaseVerifyResponse(**body.model_dump(), reward=reward)


server = AdditionServer()
