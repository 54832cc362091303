"""A scripted OpenAI-compatible model for tests: real HTTP, both APIs, behaviour chosen by the prompt.

The user message's first word picks the script:

- ``answer TEXT``: reply TEXT.
- ``add A B``: call ``add`` with A and B, then reply with the tool's result.
- ``peek``: call ``peek``, then reply with the ``secret`` it returned.
- ``badargs``: call ``add`` with arguments that are not JSON, then reply with the tool output.
- ``explode``: call ``explode`` (a tool that raises), then reply with the tool output.
- ``loop``: call ``peek`` forever.
- ``garbage``: answer HTTP 200 with a body that is not JSON.
- ``flaky N``: answer 429, then 500, alternately, for the first N requests of this prompt.
- ``slow``: like ``answer slow`` after a short pause.
- ``truncated``: call ``peek``, but the answer is cut off by the token limit.
- ``empty``: answer with no text and no tool call.
- ``overflow``: answer HTTP 400 the way vLLM does when the prompt exceeds the context.
- ``call NAME``: call the tool NAME with ``{}``, then reply with the tool output.
- ``hang``: answer after 30 s (long past any test's model timeout).
- ``ratelimit [SECONDS]``: answer HTTP 429 every time, with ``Retry-After: SECONDS`` when given.
- ``huge N``: reply with a text of N bytes.
- ``hugestream N``: answer 200 with N bytes streamed in chunks, with no Content-Length.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from gymkit.runtime.serving import serving_in_thread

MODEL = "scripted-model"


class ScriptedModel:
    def __init__(self, *, delay: float = 0.0) -> None:
        self.delay = delay
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.seen: Counter[str] = Counter()
        self.app = self._build()

    # -- the script ---------------------------------------------------------------------
    def decide(self, user: str, tool_outputs: list[str]) -> tuple[str, Any]:
        words = user.split()
        verb = words[0] if words else ""
        if verb == "answer":
            return "text", user.removeprefix("answer ").strip()
        if verb == "slow":
            return "text", "slow"
        if verb == "add":
            if not tool_outputs:
                return "call", ("add", json.dumps({"a": float(words[1]), "b": float(words[2])}))
            return "text", str(json.loads(tool_outputs[-1])["result"])
        if verb == "peek":
            if not tool_outputs:
                return "call", ("peek", "{}")
            return "text", json.loads(tool_outputs[-1])["secret"]
        if verb == "badargs":
            if not tool_outputs:
                return "call", ("add", '{"a": 1, "b": ')
            return "text", tool_outputs[-1]
        if verb == "explode":
            if not tool_outputs:
                return "call", ("explode", json.dumps({"message": "kaboom"}))
            return "text", tool_outputs[-1]
        if verb in ("loop", "truncated"):
            return "call", ("peek", "{}")
        if verb == "empty":
            return "text", ""
        if verb == "call":
            if not tool_outputs:
                return "call", (words[1], "{}")
            return "text", tool_outputs[-1]
        if verb == "huge":
            return "text", "x" * int(words[1])
        return "text", f"unscripted: {user}"

    async def _gate(self, user: str) -> Response | None:
        """Failures injected before the script runs (garbage, flaky); None = go on."""
        if self.delay or user.startswith("slow"):
            await asyncio.sleep(self.delay or 0.02)
        self.seen[user] += 1
        words = user.split()
        if words and words[0] == "garbage":
            return PlainTextResponse("<html>502 upstream says hi</html>", status_code=200)
        if words and words[0] == "flaky" and self.seen[user] <= int(words[1]):
            code = 429 if self.seen[user] % 2 else 500
            return JSONResponse({"error": {"message": "try again"}}, status_code=code)
        if words and words[0] == "hang":
            await asyncio.sleep(30)
        if words and words[0] == "ratelimit":
            headers = {"Retry-After": words[1]} if len(words) > 1 else {}
            return JSONResponse({"error": {"message": "slow down"}}, status_code=429, headers=headers)
        if words and words[0] == "hugestream":
            size = int(words[1])
            chunks = (b"x" * min(65536, size - start) for start in range(0, size, 65536))
            return StreamingResponse(chunks, media_type="application/json")
        if words and words[0] == "overflow":
            message = "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens"
            return JSONResponse({"object": "error", "message": message, "code": 400}, status_code=400)
        return None

    # -- HTTP ---------------------------------------------------------------------------
    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v1/models")
        async def models() -> dict[str, Any]:
            return {"object": "list", "data": [{"id": MODEL, "object": "model"}]}

        @app.post("/v1/responses")
        async def responses(request: Request) -> Response:
            body = await request.json()
            self.requests.append(("responses", body))
            items = [{"role": "user", "content": body["input"]}] if isinstance(body["input"], str) else body["input"]
            user = next(_text(i.get("content")) for i in items if i.get("role") == "user")
            outputs = [i["output"] for i in items if i.get("type") == "function_call_output"]
            gate = await self._gate(user)
            if gate is not None:
                return gate
            kind, value = self.decide(user, outputs)
            if kind == "call":
                item = {
                    "type": "function_call",
                    "id": f"fc_{uuid.uuid4().hex}",
                    "call_id": f"call_{uuid.uuid4().hex}",
                    "name": value[0],
                    "arguments": value[1],
                    "status": "completed",
                }
            elif value:
                item = {
                    "type": "message",
                    "id": f"msg_{uuid.uuid4().hex}",
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": value, "annotations": []}],
                }
            truncated = user.startswith("truncated")
            return JSONResponse(
                {
                    "id": f"resp_{uuid.uuid4().hex}",
                    "object": "response",
                    "created_at": 1.0,
                    "model": body.get("model"),
                    "output": [item] if kind == "call" or value else [],
                    "status": "incomplete" if truncated else "completed",
                    "incomplete_details": {"reason": "max_output_tokens"} if truncated else None,
                    "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15},
                }
            )

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> Response:
            body = await request.json()
            self.requests.append(("chat", body))
            user = next(_text(m.get("content")) for m in body["messages"] if m["role"] == "user")
            outputs = [m["content"] for m in body["messages"] if m["role"] == "tool"]
            gate = await self._gate(user)
            if gate is not None:
                return gate
            kind, value = self.decide(user, outputs)
            message: dict[str, Any] = {"role": "assistant", "content": None}
            if kind == "call":
                message["tool_calls"] = [
                    {
                        "id": f"call_{uuid.uuid4().hex}",
                        "type": "function",
                        "function": {"name": value[0], "arguments": value[1]},
                    }
                ]
            elif value:
                message["content"] = value
            finish = "length" if user.startswith("truncated") else "stop"
            return JSONResponse(
                {
                    "id": f"chatcmpl-{uuid.uuid4().hex}",
                    "object": "chat.completion",
                    "created": 1,
                    "model": body.get("model"),
                    "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                }
            )

        return app


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(str(part.get("text", "")) for part in content or [])


@contextmanager
def scripted_model(**kwargs: Any) -> Iterator[tuple[ScriptedModel, str]]:
    """Serve a ScriptedModel on loopback; yields (model, base URL ending in /v1)."""
    model = ScriptedModel(**kwargs)
    with serving_in_thread(model.app) as url:
        yield model, f"{url}/v1"
