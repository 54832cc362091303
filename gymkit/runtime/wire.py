"""NeMo Gym's wire models: what travels between agent, model and resource server.

Strict where upstream's contract is strict (``responses_create_params`` rejects unknown
keys), tolerant where upstream's committed files vary (a ``response`` may carry fields
newer or older than any SDK release, ``function_call_output`` items sit inside
``response.output`` with ``id: null``, usage details differ between files).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

__all__ = [
    "BaseMultiRewardVerifyResponse",
    "BaseRunRequest",
    "BaseSeedSessionRequest",
    "BaseSeedSessionResponse",
    "BaseVerifyRequest",
    "BaseVerifyResponse",
    "FunctionCallItem",
    "FunctionCallOutputItem",
    "MessageItem",
    "OtherItem",
    "OutputItem",
    "OutputText",
    "ReasoningItem",
    "Response",
    "ResponseCreateParams",
    "RolloutRow",
    "Usage",
    "function_calls",
    "output_text",
    "reward_problem",
    "tool_route",
]


class ResponseCreateParams(BaseModel):
    """The Responses API request body, non-streaming, as upstream accepts it.

    ``input`` is required; any key not listed here is an error, so a typo such as
    ``max_tokens`` (a Chat Completions name) fails at load time instead of being dropped.
    """

    model_config = ConfigDict(extra="forbid")

    input: str | list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = Field(default_factory=list)
    tool_choice: str | dict[str, Any] | None = "auto"
    parallel_tool_calls: bool | None = True
    instructions: str | None = None
    max_output_tokens: int | None = None
    max_tool_calls: int | None = None
    metadata: dict[str, Any] | None = None
    model: str | None = None
    reasoning: dict[str, Any] | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_logprobs: int | None = None
    text: dict[str, Any] | None = None
    truncation: str | None = None
    user: str | None = None
    store: bool | None = None
    service_tier: str | None = None
    include: list[Any] | None = None
    prompt: dict[str, Any] | None = None
    previous_response_id: str | None = None
    background: bool | None = None
    stream: Literal[False] | None = None

    @field_validator("input")
    @classmethod
    def _input_items_are_items(cls, value: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
        if isinstance(value, list):
            if not value:
                raise ValueError("input must not be empty")
            for i, item in enumerate(value):
                if "role" not in item and "type" not in item:
                    raise ValueError(f"input[{i}] has neither 'role' nor 'type'")
        return value


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="allow")


class OutputText(_Tolerant):
    type: str = "output_text"
    text: str = ""
    annotations: list[Any] = Field(default_factory=list)


class MessageItem(_Tolerant):
    type: Literal["message"] = "message"
    id: str | None = None
    role: str = "assistant"
    status: str | None = None
    content: list[OutputText] | str = Field(default_factory=list)


class FunctionCallItem(_Tolerant):
    type: Literal["function_call"] = "function_call"
    id: str | None = None
    call_id: str
    name: str
    arguments: str
    status: str | None = None


class FunctionCallOutputItem(_Tolerant):
    type: Literal["function_call_output"] = "function_call_output"
    id: str | None = None
    call_id: str
    output: str | list[Any]
    status: str | None = None


class ReasoningItem(_Tolerant):
    type: Literal["reasoning"] = "reasoning"
    id: str | None = None
    summary: list[Any] = Field(default_factory=list)


class OtherItem(_Tolerant):
    """Item types gymkit does not interpret (web search calls, MCP calls, ...) pass through."""

    type: str


_KNOWN_ITEMS = {"message", "function_call", "function_call_output", "reasoning"}


def _item_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    if kind is None and isinstance(value, dict) and "role" in value:
        return "message"
    return kind if kind in _KNOWN_ITEMS else "other"


OutputItem = Annotated[
    Annotated[MessageItem, Tag("message")]
    | Annotated[FunctionCallItem, Tag("function_call")]
    | Annotated[FunctionCallOutputItem, Tag("function_call_output")]
    | Annotated[ReasoningItem, Tag("reasoning")]
    | Annotated[OtherItem, Tag("other")],
    Discriminator(_item_tag),
]


class Usage(_Tolerant):
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    input_tokens_details: dict[str, Any] | None = None
    output_tokens_details: dict[str, Any] | None = None


class Response(_Tolerant):
    """A Responses API ``response`` object; unknown fields survive a round trip."""

    id: str = ""
    object: str = "response"
    created_at: float = 0.0
    model: str = ""
    output: list[OutputItem] = Field(default_factory=list)
    status: str | None = None
    usage: Usage | None = None
    incomplete_details: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class BaseRunRequest(BaseModel):
    """One task row: ``responses_create_params`` plus any task fields, which pass through."""

    model_config = ConfigDict(extra="allow")

    responses_create_params: ResponseCreateParams


class BaseVerifyRequest(BaseRunRequest):
    response: Response


class BaseVerifyResponse(BaseVerifyRequest):
    """What ``verify`` returns: the request echoed back, plus ``reward`` and any extras."""

    reward: float


class BaseMultiRewardVerifyResponse(BaseVerifyResponse):
    """A verify response with several objectives: ``reward_components`` by name, ``reward`` their aggregate.

    NeMo Gym v0.5.0's shape. Return the same names for every task (GYM409 checks the example
    rollouts), and set ``reward`` to the scalar a single-reward trainer optimises.
    """

    # Finite, as the profile and GYM409 require: a NaN would only surface later, as a row they refuse.
    reward_components: dict[str, Annotated[float, Field(allow_inf_nan=False)]]


class BaseSeedSessionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")


class BaseSeedSessionResponse(BaseModel):
    model_config = ConfigDict(extra="allow")


class RolloutRow(BaseVerifyResponse):
    """A line of a rollouts file: a verify response plus ``_ng_*`` bookkeeping.

    The reward must be finite; the [0, 1] range is a gymkit rule checked separately,
    because upstream environments (blackjack, for one) commit rewards of -1.
    """

    @field_validator("reward")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError(f"reward must be a finite number, got {value}")
        return value


def reward_problem(value: object) -> str | None:
    """Why ``value`` is not a valid gymkit reward, or None when it is one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"reward must be a number, got {type(value).__name__}"
    if not math.isfinite(value):
        return f"reward must be finite, got {value}"
    if not 0.0 <= value <= 1.0:
        return f"reward must be in [0, 1], got {value}"
    return None


def output_text(response: Response, *, last_only: bool = True) -> str:
    """The assistant's text in ``response.output``: the last message, or all joined."""
    texts: list[str] = []
    for item in response.output:
        if isinstance(item, MessageItem) and item.role == "assistant":
            if isinstance(item.content, str):
                texts.append(item.content)
            else:
                texts.append("".join(part.text for part in item.content if part.type == "output_text"))
    if not texts:
        return ""
    return texts[-1] if last_only else "\n".join(texts)


def function_calls(response: Response) -> list[FunctionCallItem]:
    return [item for item in response.output if isinstance(item, FunctionCallItem)]


def tool_route(name: str) -> str:
    """The tool a recorded call names: ``get_weather`` for ``mcp__<server>__get_weather``.

    An MCP-native agent records its calls namespaced by server; the tool's route is the bare
    name. Any other name, and ``mcp__`` with nothing after the server, is returned unchanged.
    """
    if not name.startswith("mcp__"):
        return name
    _, sep, tool = name[len("mcp__") :].partition("__")
    return tool if sep and tool else name
