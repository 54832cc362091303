"""A verify that blocks its event loop forever: re-verification must time out, not hang."""

from __future__ import annotations

import time

from gymkit import BaseResourcesServer, BaseVerifyRequest, BaseVerifyResponse


class AdditionVerifyRequest(BaseVerifyRequest):
    expected_answer: str


class AdditionServer(BaseResourcesServer):
    async def verify(self, body: AdditionVerifyRequest) -> BaseVerifyResponse:
        while True:
            time.sleep(1)


server = AdditionServer()
