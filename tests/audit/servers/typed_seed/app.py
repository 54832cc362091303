"""A sound verifier whose session seed declares the field the episode needs, so a row without it gets a 422."""

from __future__ import annotations

import re

from gymkit import (
    BaseResourcesServer,
    BaseSeedSessionRequest,
    BaseSeedSessionResponse,
    BaseVerifyRequest,
    BaseVerifyResponse,
    output_text,
)

LINE = re.compile(r"^answer:\s*(-?\d+)\s*$", re.IGNORECASE | re.MULTILINE)


class SeedRequest(BaseSeedSessionRequest):
    expected_answer: str


class TypedSeedServer(BaseResourcesServer):
    async def seed_session(self, body: SeedRequest) -> BaseSeedSessionResponse:
        self.session["expected"] = body.expected_answer
        return BaseSeedSessionResponse()

    async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse:
        found = LINE.findall(output_text(body.response))
        expected = self.session.get("expected", str((body.model_extra or {}).get("expected_answer", "")))
        return BaseVerifyResponse(**body.model_dump(), reward=1.0 if found and found[-1] == expected else 0.0)


server = TypedSeedServer()
