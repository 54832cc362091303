"""A verify that raises on some answers: re-verification must report it, not crash."""

from __future__ import annotations

from gymkit import BaseResourcesServer, BaseVerifyRequest, BaseVerifyResponse
from gymkit.runtime.wire import output_text


class AdditionVerifyRequest(BaseVerifyRequest):
    expected_answer: str


class AdditionServer(BaseResourcesServer):
    async def verify(self, body: AdditionVerifyRequest) -> BaseVerifyResponse:
        answer = output_text(body.response).split()[-1].rstrip(".")
        return BaseVerifyResponse(**body.model_dump(), reward=1.0 / (int(answer) - int(body.expected_answer)))


server = AdditionServer()
