"""Addition problems with an `add` tool; the examples also advertise `multiply`, which is not served."""

from __future__ import annotations

import re

from pydantic import BaseModel

from gymkit import BaseResourcesServer, BaseVerifyRequest, BaseVerifyResponse
from gymkit.runtime.wire import output_text


class AdditionVerifyRequest(BaseVerifyRequest):
    expected_answer: str


class AddRequest(BaseModel):
    a: int
    b: int


class AddResponse(BaseModel):
    sum: int


class AdditionServer(BaseResourcesServer):
    async def add(self, body: AddRequest) -> AddResponse:
        return AddResponse(sum=body.a + body.b)

    async def verify(self, body: AdditionVerifyRequest) -> BaseVerifyResponse:
        numbers = re.findall(r"-?\d+", output_text(body.response))
        reward = 1.0 if numbers and numbers[-1] == body.expected_answer else 0.0
        return BaseVerifyResponse(**body.model_dump(), reward=reward)


server = AdditionServer()
