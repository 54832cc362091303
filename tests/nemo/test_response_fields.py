"""complete_response: the Response fields upstream's /verify requires, filled from the request."""

from __future__ import annotations

from gymkit.rollouts.convert import complete_response

TOOL = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}, "strict": True}


def test_missing_fields_come_from_the_request() -> None:
    params = {"input": "hi", "tools": [TOOL], "tool_choice": "required", "parallel_tool_calls": False, "model": "m"}
    filled = complete_response({"output": [], "usage": {}}, params)
    assert filled["tools"] == [TOOL]
    assert filled["tool_choice"] == "required"
    assert filled["parallel_tool_calls"] is False
    assert filled["object"] == "response" and filled["model"] == "m"
    assert filled["id"].startswith("resp_") and isinstance(filled["created_at"], float)


def test_defaults_are_upstreams_and_returned_fields_are_kept() -> None:
    filled = complete_response({"output": [], "tools": [], "tool_choice": None, "id": "resp_1"}, {"input": "hi"})
    assert filled["tools"] == [] and filled["tool_choice"] == "auto" and filled["parallel_tool_calls"] is True
    assert filled["id"] == "resp_1"
