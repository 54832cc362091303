"""Sound, but its verify reads the session: it pays only when the lookup was made in this session.

Like NeMo Gym's example_session_state_mgmt, a response sent to /verify alone earns nothing; the
audit must make the response's tool calls in the session first, as the agent made them.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from gymkit import BaseResourcesServer, BaseVerifyRequest, BaseVerifyResponse, output_text

LINE = re.compile(r"^answer:\s*(-?\d+)\s*$", re.IGNORECASE | re.MULTILINE)
CODES = {"Lima": 4821, "Oslo": 1930, "Quito": 7710, "Accra": 5264, "Hobart": 3057, "Tunis": 6148}


class LookupRequest(BaseModel):
    city: str


class LookupResponse(BaseModel):
    city: str
    code: int | None = None


class StatefulServer(BaseResourcesServer):
    async def lookup(self, body: LookupRequest) -> LookupResponse:
        code = CODES.get(body.city)
        self.session["looked_up"] = str(code)
        return LookupResponse(city=body.city, code=code)

    async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse:
        expected = str((body.model_extra or {}).get("expected_answer", ""))
        found = LINE.findall(output_text(body.response))
        paid = self.session.get("looked_up") == expected and bool(found) and found[-1] == expected
        return BaseVerifyResponse(**body.model_dump(), reward=1.0 if paid else 0.0)


server = StatefulServer()
