"""Model clients over one shared aiohttp session: Responses API natively, Chat Completions converted.

aiohttp rather than httpx: its connection pool stays flat with thousands of requests in
flight, where httpx's pool degrades quadratically. 429, 500, gateway errors (502/503/504/520),
timeouts and connection errors are retried (see retry.py for the budget); an answer is read
in chunks and abandoned past ``max_response_bytes``, so a runaway answer cannot fill memory.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import orjson

from gymkit.errors import UserError
from gymkit.rollouts.config import EndpointConfig, redact_url
from gymkit.rollouts.convert import ModelResponseError, chat_to_response, responses_to_chat
from gymkit.rollouts.limiter import CallLimiter, FixedLimit
from gymkit.rollouts.pool import Replica, ReplicaPool
from gymkit.rollouts.retry import RetryPolicy, parse_retry_after

__all__ = [
    "EndpointError",
    "ModelCallError",
    "ModelClient",
    "ModelResponseError",
    "ResponseTooLargeError",
    "read_capped",
]

RETRIED = frozenset({429, 500, 502, 503, 504, 520})
# Answers that say "too much load": the limiter backs off. A 500 is a bug more often than load.
OVERLOADED = frozenset({429, 503})
_CHUNK = 64 * 1024
# The prefill that makes a small model emit a structured tool call (see embedded.py).
TOOL_CALL_PREFILL = "<tool_call>\n"
# Where the first call ends. Asked for one call, the small model writes the same call again
# until the token limit: stopping here cuts a forced turn from 128 tokens to about 30.
TOOL_CALL_STOP = "</tool_call>"
MIN_TOOL_TURN_TOKENS = 128


class EndpointError(UserError):
    """The endpoint cannot be used at all: unreachable, wrong key, unknown model."""


class ModelCallError(Exception):
    """One model call failed for good (after retries); the rollout is recorded as failed."""


class ResponseTooLargeError(Exception):
    """An answer longer than the byte cap; reading stopped there."""


async def read_capped(resp: aiohttp.ClientResponse, cap: int) -> bytes:
    """The body of ``resp``, refusing (before reading, when the length is announced) more than ``cap`` bytes."""
    if resp.content_length is not None and resp.content_length > cap:
        raise ResponseTooLargeError(f"answer of {resp.content_length} bytes is over the {cap}-byte limit")
    chunks: list[bytes] = []
    size = 0
    while chunk := await resp.content.read(_CHUNK):
        size += len(chunk)
        if size > cap:
            raise ResponseTooLargeError(f"answer is over the {cap}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


class _ContextExceeded(ModelCallError):
    """HTTP 400 because the prompt (the rollout so far) no longer fits the model's context."""


# vLLM and OpenAI say "maximum context length", vLLM "max_tokens must be at least 1" when the
# prompt fills the context, llama.cpp "exceeds the available context size".
_CONTEXT_EXCEEDED = (b"context length", b"context_length_exceeded", b"context size", b"max_tokens must be at least")


class ModelClient:
    """Every model call of a run: through ``limiter`` (calls in flight) to a replica of ``pool``."""

    def __init__(
        self,
        endpoint: EndpointConfig,
        http: aiohttp.ClientSession,
        limiter: CallLimiter | None = None,
        pool: ReplicaPool | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.http = http
        self.limiter = limiter or CallLimiter(FixedLimit(1 << 30))
        self.pool = pool or ReplicaPool(endpoint.base_urls)
        self.retry = RetryPolicy(
            max_retries=endpoint.max_retries, backoff=endpoint.retry_backoff, max_time=endpoint.retry_max_time
        )
        self.model = endpoint.model
        self._timeout = aiohttp.ClientTimeout(total=endpoint.timeout)
        self._headers = {"Content-Type": "application/json"}
        if endpoint.api_key:
            self._headers["Authorization"] = f"Bearer {endpoint.api_key}"

    async def check(self) -> str:
        """Look the model up in ``/models`` once; returns the model name to use.

        With no model configured, the endpoint's first (usually only) model is used. Of
        several replicas the first that answers is asked: one that is down at the start is
        taken out by the pool, not a reason to refuse the run.
        """
        *others, last = self.endpoint.base_urls
        for url in others:
            try:
                return await self._check(url)
            except EndpointError:
                continue
        return await self._check(last)

    async def _check(self, url: str) -> str:
        shown = redact_url(url)
        try:
            async with self.http.get(
                f"{url}/models", headers=self._headers, timeout=aiohttp.ClientTimeout(total=30)
            ) as resp:
                status = resp.status
                body = await read_capped(resp, self.endpoint.max_response_bytes)
        except (aiohttp.ClientError, TimeoutError, OSError, ResponseTooLargeError) as exc:
            raise EndpointError(
                f"model endpoint {shown} is unreachable ({type(exc).__name__}: {exc})".rstrip(": )") + ")",
                hint="check --base-url / GYMKIT_BASE_URL, or unset it to use the embedded model",
            ) from None
        if status in (401, 403):
            raise EndpointError(
                f"model endpoint {shown} refused the API key (HTTP {status})", hint="check GYMKIT_API_KEY"
            )
        if status >= 400:
            # Some servers do not list models; the first real call will tell.
            if self.model is None:
                raise EndpointError(f"{shown}/models answered HTTP {status}; name the model", hint="pass --model NAME")
            return self.model
        try:
            ids = [str(m["id"]) for m in orjson.loads(body)["data"]]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            ids = []
        if self.model is None:
            if not ids:
                raise EndpointError(f"{shown}/models lists no model", hint="pass --model NAME")
            self.model = ids[0]
        elif ids and self.model not in ids:
            raise EndpointError(
                f"model {self.model!r} is not served by {shown}",
                hint=f"available: {', '.join(ids[:10])}" + (" ..." if len(ids) > 10 else ""),
            )
        return self.model

    async def create(self, params: dict[str, Any], *, sticky_key: str, force_tool_call: bool = False) -> dict[str, Any]:
        """One model turn: a Responses API request in, a Responses API ``response`` dict out."""
        try:
            return await self._create(params, sticky_key=sticky_key, force_tool_call=force_tool_call)
        except _ContextExceeded:
            # Upstream's model servers answer an empty message here: the rollout ends and is
            # verified instead of failing on every --resume.
            return chat_to_response({"choices": [{"message": {"content": None}, "finish_reason": "stop"}]}, self.model)

    async def _create(self, params: dict[str, Any], *, sticky_key: str, force_tool_call: bool) -> dict[str, Any]:
        if self.endpoint.api == "responses":
            body = {k: v for k, v in params.items() if v is not None}
            if self.model:
                body["model"] = self.model
            if force_tool_call:
                body["tool_choice"] = "required"
            data = await self._post("/responses", body, sticky_key)
            if not isinstance(data, dict) or not isinstance(data.get("output"), list):
                raise ModelResponseError("response without an output list")
            return data
        body = responses_to_chat(params, self.model)
        if force_tool_call:
            # A small model follows a prefilled tool-call opener; "required" lets the server
            # constrain what follows to a call of one of the offered tools.
            body["tool_choice"] = "required"
            body["parallel_tool_calls"] = False
            body["messages"] = [*body["messages"], {"role": "assistant", "content": TOOL_CALL_PREFILL}]
            body["stop"] = [TOOL_CALL_STOP]
            body["max_tokens"] = max(body.get("max_tokens") or 0, MIN_TOOL_TURN_TOKENS)
        response = chat_to_response(await self._post("/chat/completions", body, sticky_key), self.model)
        return _first_call_only(response) if force_tool_call else response

    async def _attempt(
        self, path: str, payload: bytes, sticky_key: str, avoid: Replica | None
    ) -> tuple[Replica, int | None, bytes, float | None]:
        """One attempt: (replica, HTTP status or None, body or error text, Retry-After)."""
        started = await self.limiter.acquire()
        # Picked once the permit is held, so the choice sees the calls really in flight.
        replica = self.pool.pick(sticky_key, avoid)
        retry_after = None
        limiter_outcome = pool_outcome = "other"
        try:
            async with self.http.post(
                replica.url + path, data=payload, headers=self._headers, timeout=self._timeout
            ) as resp:
                status = resp.status
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                raw = await read_capped(resp, self.endpoint.max_response_bytes)
            if status < 300:
                limiter_outcome = pool_outcome = "ok"
            elif status in OVERLOADED:
                limiter_outcome = "overload"
            elif status >= 500:
                pool_outcome = "failure"
        except ResponseTooLargeError as exc:
            # Asking again would most likely get another such answer; the rollout fails.
            raise ModelResponseError(str(exc)) from None
        except TimeoutError:
            status, raw = None, f"no answer within {self.endpoint.timeout:g}s".encode()
            limiter_outcome, pool_outcome = "overload", "failure"
        except (aiohttp.ClientError, OSError) as exc:
            status, raw = None, f"{type(exc).__name__}: {exc}".encode()
            pool_outcome = "failure"
        finally:
            latency = self.limiter.clock() - started
            self.limiter.release(started, limiter_outcome)
            self.pool.done(replica, pool_outcome, latency, sticky_key)
        return replica, status, raw, retry_after

    async def _post(self, path: str, body: dict[str, Any], sticky_key: str) -> Any:
        payload = orjson.dumps(body)
        started = time.monotonic()
        retry = 0
        replica: Replica | None = None
        while True:
            replica, status, raw, retry_after = await self._attempt(path, payload, sticky_key, replica)
            url = replica.url + path
            if status is not None and status < 300:
                try:
                    return orjson.loads(raw)
                except orjson.JSONDecodeError:
                    raise ModelResponseError(f"not JSON: {raw[:120]!r}") from None
            if status == 400 and any(marker in raw.lower() for marker in _CONTEXT_EXCEEDED):
                raise _ContextExceeded(raw[:300].decode(errors="replace"))
            retry += 1
            why: str | None = "not retried"
            if status is None or status in RETRIED:
                delay = self.retry.delay(retry, retry_after)
                why = self.retry.gives_up(retry, time.monotonic() - started, delay)
                if why is None:
                    await asyncio.sleep(delay)
                    continue
            what = f"HTTP {status}" if status is not None else "connection failed"
            detail = raw[:300].decode(errors="replace")
            raise ModelCallError(f"{what} from {redact_url(url)} ({why}): {detail}")


def _first_call_only(response: dict[str, Any]) -> dict[str, Any]:
    """A forced turn keeps its first tool call only.

    Small models asked for one call often write several and run out of tokens in the last
    one; the truncation would end the rollout before the model ever sees a tool result.
    """
    calls = [item for item in response["output"] if item.get("type") == "function_call"]
    if not calls:
        return response
    return {**response, "output": calls[:1], "status": "completed", "incomplete_details": None}
