"""Gold answers taken from the committed rollouts when a server has no verifier fixture.

NeMo Gym commits rollouts without the materialized input its reverify pairs them with, so a rollout
may lack a field verify declares. In a NeMo Gym checkout, refused for that alone, it is no gold and
no finding against verify, and GYM304 warns so; a rollout that carries what verify needs, or whose
input an example row holds, is gold as before; in gymkit's own gyms the refusal still fails.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gymkit.audit import AuditOptions, AuditResult, run_audit
from gymkit.checks.runner import run_checks
from gymkit.project import ServerPaths
from tests.checks.test_could_not_run_here import _as_nemo_checkout

from .conftest import TABLE, gold, task_row, write_server


def _rollout(row: dict[str, Any], city: str) -> dict[str, Any]:
    return {**row, "response": gold(city, "text"), "reward": 1.0}


def _server(
    tmp_path: Path, nemo: bool, rollouts: list[dict[str, Any]] | None = None, name: str = "typed_request"
) -> Path:
    folder = tmp_path / "resources_servers" / name
    if not folder.is_dir():
        folder = write_server(tmp_path, name, "text")
    (folder / "tests" / "verifier_cases.jsonl").unlink()
    if nemo:
        _as_nemo_checkout(tmp_path)
    if rollouts is None:
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
    return folder


def _audit(folder: Path) -> AuditResult:
    return run_audit(ServerPaths(folder), AuditOptions(target=folder.name))


@pytest.mark.parametrize("name", ["typed_request", "typed_seed"], ids=["refused by verify", "refused by the seed"])
def test_a_rollout_refused_for_a_field_no_stored_input_holds_warns_in_a_nemo_checkout(
    tmp_path: Path, name: str
) -> None:
    # indirect_prompt_injection's seed_session asks for `environment`, which its rollouts do not carry.
    folder = _server(tmp_path, nemo=True, name=name)
    result = _audit(folder)
    assert [f.message for f in result.findings if f.status == "fail"] == []
    [warned] = [f for f in result.findings if f.status == "warn"]
    assert warned.probe == "fixture" and warned.message.startswith("data/example_rollouts.jsonl:3: verify refuses")
    assert "HTTP 422" in warned.message and "expected_answer" in warned.message
    [gym304] = [f for f in run_checks(folder, select=["GYM304"]).findings if f.code == "GYM304"]
    assert gym304.status == "warn" and "cannot serve as a gold answer" in gym304.message


def test_in_gymkits_gym_the_same_refusal_still_fails(tmp_path: Path) -> None:
    result = _audit(_server(tmp_path, nemo=False))
    assert any(f.probe == "reward_range" and "HTTP 422" in f.message for f in result.findings if f.status == "fail")


def test_an_example_rows_rollout_refused_is_still_a_failure(tmp_path: Path) -> None:
    folder = write_server(tmp_path, "typed_request", "text")
    rows = [json.loads(line) for line in (folder / "data" / "example.jsonl").read_text().splitlines()]
    for row in rows:
        del row["expected_answer"]  # the example rows themselves lack the field: verify's request is wrong
    (folder / "data" / "example.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    folder = _server(tmp_path, nemo=True, rollouts=[_rollout(rows[0], next(iter(TABLE)))])
    failed = [f for f in _audit(folder).findings if f.status == "fail"]
    assert any(f.probe == "reward_range" and "HTTP 422" in f.message for f in failed)


@pytest.mark.parametrize("refusal", ["a verifier's own 422", "a 422 about the response"])
def test_a_refusal_that_is_not_a_missing_request_field_is_still_a_failure(tmp_path: Path, refusal: str) -> None:
    cities = list(TABLE)
    stray = task_row(cities[1], "text")
    stray["responses_create_params"]["input"][0]["content"] += " (asked again)"
    if refusal == "a verifier's own 422":
        stray["expected_answer"] = "refuse"  # typed_request answers HTTPException(422) to this
        rollout = _rollout(stray, cities[1])
    else:
        rollout = {**_rollout(stray, cities[1]), "response": "not a response"}
    failed = [f for f in _audit(_server(tmp_path, nemo=True, rollouts=[rollout])).findings if f.status == "fail"]
    assert any(f.probe == "reward_range" and "HTTP 422" in f.message for f in failed), failed
