"""A shared counter leaks into the reward: every third request is scored differently."""

from __future__ import annotations

import re

from pydantic import BaseModel

from gymkit import BaseResourcesServer, BaseVerifyRequest, BaseVerifyResponse, output_text

LINE = re.compile(r"^answer:\s*(-?\d+)\s*$", re.IGNORECASE | re.MULTILINE)


def expected(body: BaseVerifyRequest) -> str:
    return str((body.model_extra or {}).get("expected_answer", ""))


CALLS = [0]


def score(body: BaseVerifyRequest) -> float:
    CALLS[0] += 1
    found = LINE.findall(output_text(body.response))
    right = bool(found) and found[-1] == expected(body)
    return 1.0 if right and CALLS[0] % 3 else 0.0


class LookupRequest(BaseModel):
    city: str


class LookupResponse(BaseModel):
    city: str
    code: int | None = None


class FlakyServer(BaseResourcesServer):
    async def lookup(self, body: LookupRequest) -> LookupResponse:
        return LookupResponse(city=body.city, code=self.session.get("codes", {}).get(body.city))

    async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse:
        return BaseVerifyResponse(**body.model_dump(), reward=score(body))


server = FlakyServer()
