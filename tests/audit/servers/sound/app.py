"""A sound verifier: the tool call when the row offers one, then the last "Answer: N" line or one JSON object."""

from __future__ import annotations

import json
import re

from pydantic import BaseModel

from gymkit import BaseResourcesServer, BaseVerifyRequest, BaseVerifyResponse, function_calls, output_text

LINE = re.compile(r"^answer:\s*(-?\d+)\s*$", re.IGNORECASE | re.MULTILINE)


def expected(body: BaseVerifyRequest) -> str:
    return str((body.model_extra or {}).get("expected_answer", ""))


def called(body: BaseVerifyRequest) -> bool:
    outputs = {i.call_id for i in body.response.output if i.type == "function_call_output"}
    return any(c.name == "lookup" and c.call_id in outputs for c in function_calls(body.response))


def answer(body: BaseVerifyRequest, text: str) -> str | None:
    if (body.model_extra or {}).get("kind") == "json":
        try:
            obj = json.loads(text)
        except ValueError:
            return None
        return str(obj["code"]) if isinstance(obj, dict) and set(obj) == {"code"} else None
    found = LINE.findall(text)
    return found[-1] if found else None


def score(body: BaseVerifyRequest) -> float:
    if body.responses_create_params.tools and not called(body):
        return 0.0
    return 1.0 if answer(body, output_text(body.response)) == expected(body) else 0.0


class LookupRequest(BaseModel):
    city: str


class LookupResponse(BaseModel):
    city: str
    code: int | None = None


class SoundServer(BaseResourcesServer):
    async def lookup(self, body: LookupRequest) -> LookupResponse:
        return LookupResponse(city=body.city, code=self.session.get("codes", {}).get(body.city))

    async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse:
        return BaseVerifyResponse(**body.model_dump(), reward=score(body))


server = SoundServer()
