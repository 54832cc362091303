"""GYM406 (the tools the examples advertise are served) and GYM407 (tool calls that got an error back),
on a real server started under uvicorn: `servers/broken/tool_not_served` serves `add`, and two of its
example rows also advertise `multiply`, which one committed rollout called."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gymkit.checks import CheckOptions, run_checks
from tests.checks.conftest import build_server

OPTIONS = CheckOptions(verify_timeout=10)


def _by_code(server: Path, options: CheckOptions = OPTIONS) -> dict[str, list[tuple[str, str | None, int | None, str]]]:
    found: dict[str, list[tuple[str, str | None, int | None, str]]] = {}
    for f in run_checks(server, options=options, select=["GYM406", "GYM407"]).findings:
        found.setdefault(f.code, []).append((f.status, f.file, f.line, f.message))
    return found


def test_a_tool_the_server_does_not_serve_fails_on_each_row_that_advertises_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy in the environment must not take the loopback request to the server's routes.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    found = _by_code(build_server(tmp_path, "tool_not_served"))
    message = "advertises tool 'multiply', which the server does not serve (it serves: add)"
    assert found["GYM406"] == [
        ("fail", "data/example.jsonl", 1, message),
        ("fail", "data/example.jsonl", 3, message),
    ]
    # The rollout that called it got the runtime's error: a warning on its line, counted as the profile counts.
    assert found["GYM407"] == [
        ("warn", "data/example_rollouts.jsonl", 3, "1 of 1 tool call(s) got an error back (multiply 1)")
    ]


def test_advertised_tools_that_are_served_pass(tmp_path: Path) -> None:
    server = build_server(tmp_path, "tool_not_served")
    for name in ("example.jsonl", "example_rollouts.jsonl"):
        path = server / "data" / name
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        for row in rows:
            tools = row["responses_create_params"]["tools"]
            row["responses_create_params"]["tools"] = [t for t in tools if t["name"] == "add"]
            output = row.get("response", {}).get("output", [])
            row.get("response", {})["output"] = [i for i in output if i["type"] == "message"]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    found = _by_code(server)
    assert [s for s, *_ in found["GYM406"]] == ["pass"] and [s for s, *_ in found["GYM407"]] == ["pass"]


def test_gym406_starts_no_server_when_no_row_advertises_a_tool(tmp_path: Path) -> None:
    server = build_server(tmp_path)
    # An app.py that cannot start: a check that started it would fail, one that does not passes.
    (server / "app.py").write_text((server / "app.py").read_text() + "\nraise SystemExit(3)\n")
    assert [s for s, *_ in _by_code(server)["GYM406"]] == ["pass"]


def test_gym406_says_when_the_server_does_not_start(tmp_path: Path) -> None:
    server = build_server(tmp_path, "tool_not_served")
    (server / "app.py").write_text((server / "app.py").read_text() + "\nraise RuntimeError('no database')\n")
    ((status, file, _, message),) = _by_code(server, CheckOptions(verify_timeout=5, startup_timeout=20))["GYM406"]
    assert (status, file) == ("fail", "app.py") and message.startswith("the server did not start")


def test_gym406_is_skipped_with_the_other_server_checks(tmp_path: Path) -> None:
    found = _by_code(build_server(tmp_path, "tool_not_served"), CheckOptions(reverify=False))
    assert found["GYM406"] == [
        ("skip", None, None, "reading the server's routes starts it; turned off with --no-reverify")
    ]
    # GYM407 reads the committed file only: it still warns.
    assert [s for s, *_ in found["GYM407"]] == ["warn"]
