"""What re-verification sends to /verify, and how it matches rollouts to examples."""

from __future__ import annotations

import json
from pathlib import Path

from gymkit.project import ServerPaths
from gymkit.reverify import StoredInputs, match_rollouts, reverify_rollouts, verify_body
from tests.checks.conftest import build_server


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_rollouts_match_examples_by_task_index_or_by_input(tmp_path: Path) -> None:
    server = build_server(tmp_path)
    examples = _rows(server / "data" / "example.jsonl")
    rollouts = _rows(server / "data" / "example_rollouts.jsonl")
    for row in rollouts[:2]:
        del row["_ng_task_index"]  # older upstream files have no bookkeeping
    rollouts[2]["_ng_task_index"] = 0  # a wrong index is checked against the input
    rollouts[3]["responses_create_params"] = {"input": "something else"}
    matched = match_rollouts(examples, list(enumerate(rollouts, start=1)))
    assert matched == {1: 0, 2: 1, 3: 2, 4: None, 5: 4}


def test_the_body_is_the_example_plus_the_stored_response_not_the_verifier_extras(tmp_path: Path) -> None:
    server = build_server(tmp_path)
    example = _rows(server / "data" / "example.jsonl")[0]
    rollout = {**_rows(server / "data" / "example_rollouts.jsonl")[0], "extracted_answer": "41", "accuracy": 1.0}
    body = verify_body(rollout, example)
    assert body["response"] == rollout["response"]
    assert body["_ng_task_index"] == 0 and body["agent_ref"] == example["agent_ref"]
    assert not {"reward", "extracted_answer", "accuracy", "_gymkit"} & body.keys()
    unmatched = verify_body(rollout, None)
    assert "reward" not in unmatched and "_gymkit" not in unmatched and unmatched["extracted_answer"] == "41"


def test_reverify_reports_each_row_and_a_server_that_does_not_start(tmp_path: Path) -> None:
    server = build_server(tmp_path)
    report = reverify_rollouts(ServerPaths(server), verify_timeout=5)
    assert report.ok and [r.reward for r in report.rows] == [1.0, 0.0, 1.0, 0.0, 1.0]
    (server / "app.py").write_text("raise RuntimeError('no server today')\n")
    broken = reverify_rollouts(ServerPaths(server), verify_timeout=5)
    assert not broken.ok and broken.error is not None and "no server today" in broken.error


def _write_rows(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def test_a_materialized_input_is_what_verify_gets_with_the_stored_response(tmp_path: Path) -> None:
    # NeMo Gym's rule: the input with the rollout's (task, rollout) index | {"response": ...}.
    server = build_server(tmp_path)
    data = server / "data"
    rollouts = _rows(data / "example_rollouts.jsonl")
    first = rollouts[0]
    materialized = {k: first[k] for k in ("responses_create_params", "expected_answer", "agent_ref")}
    materialized |= {"_ng_task_index": 0, "_ng_rollout_index": 0, "source": "materialized"}
    _write_rows(data / "example_rollouts_materialized_inputs.jsonl", [materialized])
    first["responses_create_params"] = {"input": "asked differently"}
    bodies = StoredInputs.read(ServerPaths(server)).bodies(list(enumerate(rollouts, start=1)))
    assert bodies[1] == {**materialized, "response": first["response"]}
    assert "source" not in bodies[2] and bodies[2]["expected_answer"] == rollouts[1]["expected_answer"]


def test_an_unmatched_rollout_keeps_only_task_fields_so_verify_outputs_are_not_sent_back(tmp_path: Path) -> None:
    # A verify that builds its response from the request plus an output field raises TypeError
    # ("multiple values") when that output comes back in the request, as a stored rollout has it.
    server = build_server(tmp_path)
    app = server / "app.py"
    text = app.read_text().replace(
        "class AdditionServer(BaseResourcesServer):",
        "class AdditionVerifyResponse(BaseVerifyResponse):\n    last_number: str\n\n\n"
        "class AdditionServer(BaseResourcesServer):",
    )
    text = text.replace(
        "return BaseVerifyResponse(**body.model_dump(), reward=reward)",
        "return AdditionVerifyResponse(**body.model_dump(), reward=reward, last_number=numbers[-1] if numbers else '')",
    )
    app.write_text(text)
    path = server / "data" / "example_rollouts.jsonl"
    rollouts = _rows(path)
    for rollout in rollouts:
        rollout["last_number"] = "x"
    rollouts[0]["responses_create_params"] = {"input": "What is 21 + 10? Just the number."}  # stale: no example
    _write_rows(path, rollouts)
    report = reverify_rollouts(ServerPaths(server), verify_timeout=10)
    assert report.error is None and report.ok, [(r.line, r.error) for r in report.rows]


def test_a_rollout_whose_agent_added_request_fields_matches_the_example_with_its_input(tmp_path: Path) -> None:
    # v0.5.0's swerl_llm_judge: its agent adds `max_output_tokens: 4096`, which the rows lack; sent as
    # stored, the rollout had no `options` and every stored reward of 1 came back 0.
    server = build_server(tmp_path)
    examples = _rows(server / "data" / "example.jsonl")
    rollouts = _rows(server / "data" / "example_rollouts.jsonl")
    for row in rollouts:
        del row["_ng_task_index"]
        row["responses_create_params"] = {**row["responses_create_params"], "max_output_tokens": 4096}
    twin = {**examples[0], "expected_answer": "another"}  # two rows with one input: no guess between them
    matched = match_rollouts([*examples, twin], list(enumerate(rollouts, start=1)))
    assert matched == {1: None, 2: 1, 3: 2, 4: 3, 5: 4}
