"""Gold answers taken from the committed rollouts when a server has no verifier fixture.

NeMo Gym commits rollouts without the materialized input its reverify pairs them with, so a rollout
may lack a field verify declares. Refused for that, it is no gold, and no finding against verify;
a rollout that carries what verify needs, or whose input an example row holds, is gold as before.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gymkit.audit import AuditOptions, run_audit
from gymkit.project import ServerPaths

from .conftest import TABLE, gold, task_row, write_server


def _rollout(row: dict[str, Any], city: str) -> dict[str, Any]:
    return {**row, "response": gold(city, "text"), "reward": 1.0}


def test_a_rollout_refused_for_a_field_no_stored_input_holds_warns_instead_of_failing(tmp_path: Path) -> None:
    folder = write_server(tmp_path, "typed_request", "text")
    (folder / "tests" / "verifier_cases.jsonl").unlink()
    cities = list(TABLE)
    paired = task_row(cities[0], "text")  # an example row: its expected_answer comes from there
    stray = task_row(cities[1], "text")
    stray["responses_create_params"]["input"][0]["content"] += " (asked again)"  # matches no example row
    carried = {**stray, "responses_create_params": {"input": [{"role": "user", "content": "Code of Oslo?"}]}}
    bare = {k: v for k, v in stray.items() if k != "expected_answer"}
    rollouts = [
        _rollout({k: v for k, v in paired.items() if k != "expected_answer"}, cities[0]),
        _rollout(carried, cities[1]),  # unpaired but whole: still gold
        _rollout(bare, cities[1]),  # unpaired and refused: not gold
    ]
    (folder / "data" / "example_rollouts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rollouts))

    result = run_audit(ServerPaths(folder), AuditOptions(target="typed_request"))

    assert [f.message for f in result.findings if f.status == "fail"] == []
    [warned] = [f for f in result.findings if f.status == "warn"]
    assert warned.probe == "fixture" and warned.message.startswith("data/example_rollouts.jsonl:3: verify refuses")
    assert "HTTP 422" in warned.message and "expected_answer" in warned.message


def test_the_same_refusal_of_an_example_rows_rollout_is_still_a_failure(tmp_path: Path) -> None:
    folder = write_server(tmp_path, "typed_request", "text")
    (folder / "tests" / "verifier_cases.jsonl").unlink()
    rows = [json.loads(line) for line in (folder / "data" / "example.jsonl").read_text().splitlines()]
    for row in rows:
        del row["expected_answer"]  # the example rows themselves lack the field: verify's request is wrong
    (folder / "data" / "example.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    rollouts = [_rollout(rows[0], next(iter(TABLE)))]
    (folder / "data" / "example_rollouts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rollouts))

    result = run_audit(ServerPaths(folder), AuditOptions(target="typed_request"))

    failed = [f for f in result.findings if f.status == "fail"]
    assert any(f.probe == "reward_range" and "HTTP 422" in f.message for f in failed)
    assert not any(f.status == "warn" for f in result.findings)
