"""What one rollout row says about itself: its task, its model, its tool calls and its numbers.

Rows are read as plain dicts rather than validated models: the profiler reads up to millions
of rows and only needs a handful of fields, and upstream files carry shapes the runtime's
models would reject (rewards of -1, old rows without indices).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import orjson

from gymkit.artifacts import RolloutMeta
from gymkit.runtime.wire import tool_route

__all__ = [
    "NO_TOOLS",
    "ToolUse",
    "model_name",
    "numeric_fields",
    "prompt_key",
    "task_key",
    "tool_use",
]

# Tool outputs that mean "the arguments were wrong" rather than "the tool failed": the
# runtime's 422 body and the message agents write when arguments are not JSON.
_INVALID_ARGUMENT_PREFIXES = ("invalid tool call arguments", "invalid body for /")
_USAGE_FIELDS = ("input_tokens", "output_tokens", "total_tokens")


def prompt_key(row: dict[str, Any]) -> str:
    """A stable short hash of the prompt (``responses_create_params.input``)."""
    params = row.get("responses_create_params")
    prompt = params.get("input") if isinstance(params, dict) else None
    blob = orjson.dumps(prompt, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(blob).hexdigest()[:16]


def task_key(row: dict[str, Any]) -> int | str:
    """``_ng_task_index`` when the row has one; otherwise ``prompt:<hash>`` of its prompt.

    Older upstream files carry no indices; the rollouts of one prompt are still one task.
    """
    index = row.get("_ng_task_index")
    if isinstance(index, int) and not isinstance(index, bool):
        return index
    return f"prompt:{prompt_key(row)}"


def model_name(row: dict[str, Any], meta: RolloutMeta | None) -> str:
    """The model as gymkit recorded it (``meta``, the row's :func:`rollout_meta`), else as the response reported it."""
    if meta is not None and meta.model:
        return meta.model
    response = row.get("response")
    if isinstance(response, dict) and isinstance(model := response.get("model"), str) and model:
        return model
    return "unknown"


def numeric_fields(row: dict[str, Any]) -> dict[str, float]:
    """NeMo Gym's flat numeric record of a rollout.

    Every top-level number (bools as 0/1) except bookkeeping keys starting with ``_``, plus the
    numeric ``response.usage`` fields; nested objects are dropped, as upstream does.
    """
    record: dict[str, float] = {}
    for key, value in row.items():
        kind = type(value)  # exact type checks: this runs for every field of every rollout
        if (kind is float or kind is int or kind is bool) and key[:1] != "_" and math.isfinite(value):
            record[key] = float(value)
    response = row.get("response")
    usage = response.get("usage") if isinstance(response, dict) else None
    if isinstance(usage, dict):
        for key, value in usage.items():
            if isinstance(value, int | float) and not isinstance(value, bool) and key not in record:
                record[key] = float(value)
    return record


@dataclass
class ToolUse:
    """The function calls of one rollout, by tool: calls, invalid arguments, tool errors."""

    calls: dict[str, int] = field(default_factory=dict)
    invalid: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.calls.values())


NO_TOOLS = ToolUse()  # shared by every rollout without calls; never modified


def _error_text(output: Any) -> str | None:
    """The error message of a tool output, when the output is an error body.

    gymkit's runtime answers ``{"error": ...}``. FastAPI (NeMo Gym's servers) answers
    ``{"detail": "Not Found"}`` for a tool it does not serve and ``{"detail": [{"msg": ...}]}`` for
    arguments its model refuses; NeMo Gym's agents hand either to the model as it came.
    """
    if isinstance(output, list):  # content-part lists: look at their text
        output = "".join(p.get("text", "") for p in output if isinstance(p, dict))
    if not isinstance(output, str) or ('"error"' not in output and '"detail"' not in output):
        return None
    try:
        body = orjson.loads(output)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict):
        return None
    if "error" in body and body["error"] not in (None, "", False):
        return str(body["error"])
    if body.keys() == {"detail"}:
        detail = body["detail"]
        if isinstance(detail, str) and detail:
            return detail
        if isinstance(detail, list) and detail and all(isinstance(d, dict) and "msg" in d for d in detail):
            return f"{_INVALID_ARGUMENT_PREFIXES[0]}: " + "; ".join(str(d["msg"]) for d in detail)
    return None


def _bad_arguments(arguments: Any) -> bool:
    if isinstance(arguments, dict):
        return False
    if not isinstance(arguments, str):
        return True
    try:
        return not isinstance(orjson.loads(arguments or "{}"), dict)
    except orjson.JSONDecodeError:
        return True


def tool_use(row: dict[str, Any]) -> ToolUse:
    """Count function calls in ``response.output`` and classify each call's outcome.

    A call has invalid arguments when they are not a JSON object, or when its output is the
    error the runtime returns for a body that does not validate; any other output with an
    ``error`` key is a tool error.
    """
    response = row.get("response")
    items = response.get("output") if isinstance(response, dict) else None
    if not isinstance(items, list) or not any(
        isinstance(item, dict) and item.get("type") == "function_call" for item in items
    ):
        return NO_TOOLS
    use = ToolUse()
    names: dict[str, str] = {}
    bad_args: set[str] = set()
    name: str | None  # a call's tool; for an output, the tool of its call (None: no such call)
    for item in items:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "function_call":
            # An MCP-native agent's mcp__<server>__add is the server's add.
            name = tool_route(str(item.get("name") or "?"))
            use.calls[name] = use.calls.get(name, 0) + 1
            call_id = str(item.get("call_id") or item.get("id") or "")
            names[call_id] = name
            if _bad_arguments(item.get("arguments")):
                bad_args.add(call_id)
                use.invalid[name] = use.invalid.get(name, 0) + 1
        elif kind == "function_call_output":
            call_id = str(item.get("call_id") or "")
            name = names.get(call_id)
            message = _error_text(item.get("output"))
            if name is None or message is None or call_id in bad_args:
                continue
            bucket = use.invalid if message.lower().startswith(_INVALID_ARGUMENT_PREFIXES) else use.errors
            bucket[name] = bucket.get(name, 0) + 1
    return use
