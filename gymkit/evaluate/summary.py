"""What one rollout row says about its own health, in a few numbers and flags.

``gymkit health`` counts these over a file and ``gymkit view`` keeps them per row to filter on,
so both read a row the same way. Rows are plain dicts: upstream files carry shapes the
runtime's models would reject, and a viewer must show a broken row rather than refuse it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gymkit.artifacts.rollout import rollout_meta
from gymkit.profiling.grouping import tool_use

__all__ = ["RowSummary", "final_answer", "summarise"]


@dataclass(frozen=True)
class RowSummary:
    reward: float | None  # None: missing or not a finite number
    final: str  # the last assistant message's text ("" when there is none)
    empty_turns: int  # assistant messages with no text
    incomplete: str | None  # why the response was cut: "max_output_tokens", "max_steps", ...
    output_tokens: int | None  # None: the response carries no usage figures
    has_usage: bool
    calls: int
    tool_errors: int
    invalid_arguments: int

    @property
    def hollow(self) -> bool:
        """Nothing to grade: no final answer, or a turn that said nothing (and not because it was cut)."""
        return self.incomplete is None and (not self.final.strip() or self.empty_turns > 0)

    @property
    def runaway(self) -> bool:
        return self.incomplete is not None

    @property
    def zero_completion(self) -> bool:
        return self.output_tokens == 0


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _messages(items: list[Any]) -> list[dict[str, Any]]:
    return [
        item
        for item in items
        if isinstance(item, dict)
        and item.get("type", "message") == "message"
        and item.get("role", "assistant") == "assistant"
        and "content" in item
    ]


def final_answer(response: Any) -> str:
    """The text of the last assistant message of a response dict; "" when it ends without one."""
    items = response.get("output") if isinstance(response, dict) else None
    messages = _messages(items if isinstance(items, list) else [])
    return _text(messages[-1].get("content")) if messages else ""


def _incomplete(response: dict[str, Any], items: list[Any], final: str) -> str | None:
    details = response.get("incomplete_details")
    if isinstance(details, dict) and details.get("reason"):
        return str(details["reason"])
    if response.get("status") == "incomplete":
        return "incomplete"
    # The agent loop stops at max_steps with the tools' answers last and no message after them:
    # the turn limit cut it, whatever status the last model call had.
    last = next((i for i in reversed(items) if isinstance(i, dict) and i.get("type") != "reasoning"), None)
    if not final and isinstance(last, dict) and last.get("type") in ("function_call", "function_call_output"):
        return "max_steps"
    return None


def _usage(response: dict[str, Any]) -> tuple[bool, int | None]:
    usage = response.get("usage")
    if not isinstance(usage, dict):
        return False, None
    tokens = usage.get("output_tokens")
    if isinstance(tokens, bool) or not isinstance(tokens, int | float):
        return False, None
    return True, int(tokens)


def summarise(row: dict[str, Any]) -> RowSummary:
    """The health figures of one rollout row."""
    raw = row.get("response")
    response: dict[str, Any] = raw if isinstance(raw, dict) else {}
    output = response.get("output")
    items: list[Any] = output if isinstance(output, list) else []
    messages = _messages(items)
    final = _text(messages[-1].get("content")) if messages else ""
    reward = row.get("reward")
    if isinstance(reward, bool) or not isinstance(reward, int | float) or not math.isfinite(reward):
        reward = None
    has_usage, tokens = _usage(response)
    use = tool_use(row)
    meta = rollout_meta(row)
    # The collector counts calls refused before the server answered; the output only shows the rest.
    recorded = (meta.tool_errors if meta else None) or 0
    errors = max(sum(use.errors.values()), recorded)
    return RowSummary(
        reward=None if reward is None else float(reward),
        final=final,
        empty_turns=sum(1 for m in messages if not _text(m.get("content")).strip()),
        incomplete=_incomplete(response, items, final),
        output_tokens=tokens,
        has_usage=has_usage,
        calls=use.total,
        tool_errors=errors,
        invalid_arguments=sum(use.invalid.values()),
    )
