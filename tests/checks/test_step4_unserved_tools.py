"""GYM406 in a NeMo Gym checkout: a tool the rows advertise and the server does not serve warns, naming
gymkit's rule (upstream's xlam_fc and example_tool_call_multireward score the calls and serve no tools);
in a gymkit gym it fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gymkit.checks.fixtures import Fixtures
from gymkit.checks.registry import Skip
from gymkit.checks.step4_rollouts import GYM406
from gymkit.project import ServerPaths
from tests.checks.test_step3_audit_levels import _server

ROW = {
    "responses_create_params": {
        "input": [{"role": "user", "content": "weather in sf?"}],
        "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}],
    }
}


@pytest.mark.parametrize(("nemo", "level"), [(True, "warn"), (False, "fail")])
def test_an_unserved_tool(tmp_path: Path, nemo: bool, level: str) -> None:
    server = _server(tmp_path, nemo=nemo)
    (server / "data").mkdir()
    (server / "data" / "example.jsonl").write_text(json.dumps(ROW) + "\n")
    fx = Fixtures(ServerPaths(server))
    fx._memo["served_routes"] = (frozenset({"verify", "seed_session"}), None)  # what the running server lists
    outcome = GYM406().check(fx)
    assert not isinstance(outcome, Skip), outcome
    (found,) = list(outcome)
    assert (str(found.status), found.file, found.line) == (level, "data/example.jsonl", 1)
    assert "'get_weather'" in found.message
    assert ("NeMo Gym allows it" in found.message) is nemo


def test_a_catch_all_route_serves_every_tool(tmp_path: Path) -> None:
    # v0.5.0's workplace_assistant serves `/{path}` and dispatches the 27 tool names itself: 135
    # warnings said it served none of them.
    server = _server(tmp_path, nemo=True)
    (server / "data").mkdir()
    (server / "data" / "example.jsonl").write_text(json.dumps(ROW) + "\n")
    fx = Fixtures(ServerPaths(server))
    fx._memo["served_routes"] = (frozenset({"verify", "seed_session", "{path}"}), None)
    assert list(GYM406().check(fx)) == []
