"""A tool call answered with FastAPI's error body counts as a failed call, in health, GYM407 and the profile.

NeMo Gym's agents pass a tool's non-2xx body to the model as it came; example_tool_call_multireward
and xlam_fc call tools their server does not serve and get `{"detail":"Not Found"}` back, which has no
``error`` key, so `gymkit health` and GYM407 counted those calls as answered.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gymkit.checks.fixtures import Fixtures
from gymkit.checks.registry import Skip
from gymkit.checks.step4_rollouts import GYM407
from gymkit.evaluate.summary import summarise
from gymkit.profiling.grouping import tool_use
from gymkit.project import ServerPaths

VALIDATION = json.dumps({"detail": [{"loc": ["body", "city"], "msg": "Field required", "type": "missing"}]})


def _row(*outputs: str) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    for n, output in enumerate(outputs):
        items.append({"type": "function_call", "name": f"tool{n}", "arguments": "{}", "call_id": f"c{n}"})
        items.append({"type": "function_call_output", "call_id": f"c{n}", "output": output})
    items.append({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "done"}]})
    return {"response": {"output": items}, "reward": 1.0}


def test_fastapis_404_body_is_a_tool_error_and_its_422_body_invalid_arguments() -> None:
    summary = summarise(_row('{"detail":"Not Found"}', VALIDATION, '{"temperature": 20}'))
    assert (summary.calls, summary.tool_errors, summary.invalid_arguments) == (3, 1, 1)
    use = tool_use(_row('{"detail":"Not Found"}', VALIDATION))
    assert (use.errors, use.invalid) == ({"tool0": 1}, {"tool1": 1})


def test_a_tool_answer_with_a_detail_among_other_keys_or_an_empty_detail_is_an_answer() -> None:
    summary = summarise(_row('{"detail": "sunny", "temperature": 20}', '{"detail": ""}', '{"detail": [1, 2]}'))
    assert (summary.tool_errors, summary.invalid_arguments) == (0, 0)


def test_gym407_warns_for_the_404_naming_the_tool(tmp_path: Path) -> None:
    fx = Fixtures(ServerPaths(tmp_path))
    fx.__dict__["rollout_rows"] = [(1, _row('{"detail":"Not Found"}', "{}")), (2, _row("{}"))]
    outcome = GYM407().check(fx)
    assert not isinstance(outcome, Skip)
    found = list(outcome)
    assert [(str(f.status), f.line, f.message) for f in found] == [
        ("warn", 1, "1 of 2 tool call(s) got an error back (tool0 1)")
    ]


def test_the_reward_profile_counts_them_by_tool_as_health_does() -> None:
    use = tool_use(_row('{"detail":"Not Found"}', VALIDATION, '{"error": "boom"}', '{"detail": "sunny", "t": 1}'))
    assert (use.errors, use.invalid) == ({"tool0": 1, "tool2": 1}, {"tool1": 1})
