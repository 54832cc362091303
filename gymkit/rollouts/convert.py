"""Responses API <-> Chat Completions, the way upstream's vLLM model server converts.

The agent loop speaks only the Responses API. For an endpoint that serves only
``/chat/completions`` the request is converted on the way out (flat function tools wrapped,
``max_output_tokens`` renamed, input items turned into messages) and the answer converted
back (tool calls become ``function_call`` items).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import orjson

__all__ = [
    "ModelResponseError",
    "chat_to_response",
    "complete_response",
    "input_items",
    "responses_to_chat",
    "tool_arguments",
]

# Responses request keys that have a Chat Completions counterpart under the same name.
_SAME_NAME = ("temperature", "top_p", "parallel_tool_calls", "user", "seed", "metadata")


class ModelResponseError(Exception):
    """The endpoint answered 200 with something that is not a model response."""


def input_items(params: dict[str, Any]) -> list[dict[str, Any]]:
    """``params["input"]`` as a list of items (a string is one user message)."""
    value = params.get("input")
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return list(value or [])


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        if isinstance(part, dict):
            parts.append(str(part.get("text") or ""))
        else:
            parts.append(str(part))
    return "".join(parts)


def _wrap_tool(tool: dict[str, Any]) -> dict[str, Any]:
    if tool.get("type") == "function" and "function" not in tool:
        inner = {k: tool[k] for k in ("name", "description", "parameters") if k in tool}
        return {"type": "function", "function": inner}
    return tool


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, dict) and choice.get("type") == "function" and "name" in choice:
        return {"type": "function", "function": {"name": choice["name"]}}
    return choice


def tool_arguments(raw: str) -> tuple[dict[str, Any] | None, str | None]:
    """Decode a call's arguments: (object, None), or (None, error text for the model).

    Small models append stray text after a valid object; that is repaired (the object is
    used). Anything else that is not one JSON object is rejected without calling the server.
    """
    text = (raw or "").strip() or "{}"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        start = text.find("{")
        try:
            value, _ = json.JSONDecoder().raw_decode(text[start:]) if start >= 0 else (None, 0)
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, dict):
            return None, f"Invalid tool call arguments: {exc}"
    if not isinstance(value, dict):
        return None, f"Invalid tool call arguments: expected a JSON object, got {type(value).__name__}"
    return value, None


def _history_arguments(raw: Any) -> str:
    """A past call's arguments as chat history must carry them: always one JSON object.

    llama.cpp parses the arguments of every call in the history and answers HTTP 500 to the
    whole request when one is not JSON, on every later turn of the rollout. The model already
    got the problem back as that call's tool output; the history holds the repaired object,
    or an empty one when nothing could be repaired.
    """
    text = raw if isinstance(raw, str) else ""
    try:
        if isinstance(json.loads(text), dict):
            return text
    except json.JSONDecodeError:
        pass
    value, _ = tool_arguments(text)
    return json.dumps(value if value is not None else {})


def _messages(params: dict[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if params.get("instructions"):
        messages.append({"role": "system", "content": params["instructions"]})
    for item in input_items(params):
        kind = item.get("type") or "message"
        if kind == "message":
            role = item.get("role", "user")
            messages.append({"role": "system" if role == "developer" else role, "content": _text(item.get("content"))})
        elif kind == "function_call":
            call = {
                "id": item.get("call_id") or item.get("id") or "",
                "type": "function",
                "function": {"name": item.get("name", ""), "arguments": _history_arguments(item.get("arguments"))},
            }
            last = messages[-1] if messages else None
            # A turn's text and all its calls are one assistant message, as upstream converts.
            if last and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": "", "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": item.get("call_id", ""),
                    "content": output if isinstance(output, str) else _text(output),
                }
            )
        # reasoning and unknown items carry nothing a chat model can take as input
    return messages


def responses_to_chat(params: dict[str, Any], model: str | None) -> dict[str, Any]:
    """A Chat Completions request body for a Responses API request."""
    body: dict[str, Any] = {"messages": _messages(params)}
    if model:
        body["model"] = model
    for key in _SAME_NAME:
        if params.get(key) is not None:
            body[key] = params[key]
    if params.get("max_output_tokens") is not None:
        body["max_tokens"] = params["max_output_tokens"]
    effort = (params.get("reasoning") or {}).get("effort")
    if effort:
        body["reasoning_effort"] = effort
    tools = [_wrap_tool(t) for t in params.get("tools") or []]
    if tools:
        body["tools"] = tools
        if params.get("tool_choice") is not None:
            body["tool_choice"] = _tool_choice(params["tool_choice"])
    else:
        body.pop("parallel_tool_calls", None)
    body.pop("metadata", None)
    return body


def chat_to_response(data: Any, model: str | None = None) -> dict[str, Any]:
    """A Responses API ``response`` object for a Chat Completions answer."""
    try:
        choice = data["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError):
        raise ModelResponseError("chat completion without choices[0].message") from None
    if not isinstance(message, dict):
        raise ModelResponseError("chat completion message is not an object")
    output: list[dict[str, Any]] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if reasoning:
        output.append(
            {
                "type": "reasoning",
                "id": f"rs_{uuid.uuid4().hex}",
                "summary": [{"type": "summary_text", "text": str(reasoning)}],
            }
        )
    content = _text(message.get("content"))
    # Like upstream, an answer with neither text nor a call is an empty message, which ends
    # the rollout; no output at all would have the loop ask again until max_steps.
    if content or not (output or message.get("tool_calls")):
        output.append(
            {
                "type": "message",
                "id": f"msg_{uuid.uuid4().hex}",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": content, "annotations": []}],
            }
        )
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            arguments = orjson.dumps(arguments if arguments is not None else {}).decode()
        call_id = call.get("id") or f"call_{uuid.uuid4().hex}"
        output.append(
            {
                "type": "function_call",
                "id": f"fc_{uuid.uuid4().hex}",
                "call_id": call_id,
                "name": str(function.get("name", "")),
                "arguments": arguments,
                "status": "completed",
            }
        )
    usage = data.get("usage") or {}
    truncated = choice.get("finish_reason") == "length"
    return {
        "id": f"resp_{data.get('id') or uuid.uuid4().hex}",
        "object": "response",
        "created_at": float(data.get("created") or time.time()),
        "model": data.get("model") or model or "",
        "output": output,
        "status": "incomplete" if truncated else "completed",
        "incomplete_details": {"reason": "max_output_tokens"} if truncated else None,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": int(usage.get("prompt_tokens") or 0),
            "output_tokens": int(usage.get("completion_tokens") or 0),
            "total_tokens": int(usage.get("total_tokens") or 0),
            "input_tokens_details": {
                "cached_tokens": int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
            },
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }


def complete_response(response: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """``response`` with the Response fields an endpoint left out filled from the request it answered.

    A Responses endpoint echoes ``tools``, ``tool_choice`` and ``parallel_tool_calls`` from the
    request, and NeMo Gym's /verify requires them (HTTP 422 without); a minimal endpoint (or a
    proxy) may omit them. Fields the endpoint did return are kept as they are.
    """
    filled = dict(response)
    defaults = {
        "tools": params.get("tools") or [],
        "tool_choice": params.get("tool_choice") or "auto",
        "parallel_tool_calls": params.get("parallel_tool_calls", True) is not False,
        "object": "response",
        "id": f"resp_{uuid.uuid4().hex}",
        "created_at": float(time.time()),
        "model": params.get("model") or "",
    }
    for key, value in defaults.items():
        if filled.get(key) is None:
            filled[key] = value
    usage = filled.get("usage")
    if isinstance(usage, dict):
        # The Response's usage type requires both detail objects; a minimal endpoint sends the counts only.
        details = {"input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}
        filled["usage"] = {**usage, **{k: v for k, v in details.items() if usage.get(k) is None}}
    return filled
