"""Steps 3, 4, 5, 6 and 8 in a NeMo Gym checkout follow NeMo Gym's rules; in a gymkit gym, gymkit's.

Each test writes a small tree: a NeMo Gym checkout is a folder with ``nemo_gym/__init__.py`` and a
pyproject naming the ``nemo-gym`` project, and one server under ``resources_servers/`` written for
nemo_gym. The same server written for gymkit, in a folder without those two files, is judged by gymkit's rules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gymkit.checks.fixtures import CheckOptions, Fixtures
from gymkit.checks.registry import Skip
from gymkit.checks.runner import run_checks
from gymkit.checks.step4_rollouts import GYM405
from gymkit.findings.model import Finding
from gymkit.project import ServerPaths

NAME = "quiz"
NEMO_APP = "from nemo_gym.base_resources_server import SimpleResourcesServer\n"
GYMKIT_APP = "from gymkit import ResourcesServer\n"


def _task(n: int) -> dict[str, Any]:
    return {"responses_create_params": {"input": [{"role": "user", "content": f"question {n}"}]}, "answer": str(n)}


def _rollout(n: int, *, task: int | None = None, reward: object = 1.0, materialized: bool = True) -> dict[str, Any]:
    """A rollout as NeMo Gym writes it: the request with every field, unset ones as null."""
    params: dict[str, Any] = {"input": [{"role": "user", "content": f"question {n}", "type": "message"}]}
    if materialized:
        params.update(tool_choice=None, parallel_tool_calls=None, user="", temperature=None, tools=[])
    row: dict[str, Any] = {"responses_create_params": params, "response": {"output": []}, "answer": str(n)}
    if task is not None:
        row.update(_ng_task_index=task, _ng_rollout_index=0)
    if reward is not None:
        row["reward"] = reward
    return row


def _lines(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def _tree(
    tmp_path: Path,
    *,
    nemo: bool = True,
    rollouts: list[dict[str, Any]] | str | None = None,
    metrics: object = "count",
) -> Path:
    root = tmp_path / ("nemo" if nemo else "gym")
    if nemo:
        (root / "nemo_gym").mkdir(parents=True)
        (root / "nemo_gym" / "__init__.py").write_text("")
        (root / "pyproject.toml").write_text('[project]\nname = "nemo-gym"\nversion = "0.5.0"\n')
    server = root / "resources_servers" / NAME
    (server / "data").mkdir(parents=True)
    (server / "tests").mkdir()
    (server / "app.py").write_text(NEMO_APP if nemo else GYMKIT_APP)
    (server / "tests" / "test_app.py").write_text("def test_nothing():\n    pass\n")
    examples = [_task(n) for n in range(5)]
    (server / "data" / "example.jsonl").write_text(_lines(examples))
    if rollouts is None:
        rollouts = [_rollout(n, task=n) for n in range(5)]
    text = rollouts if isinstance(rollouts, str) else _lines(rollouts)
    (server / "data" / "example_rollouts.jsonl").write_text(text)
    if metrics == "count":
        metrics = {"name": "example", "type": "example", "Number of examples": len(examples)}
    if metrics is not None:
        (server / "data" / "example_metrics.json").write_text(json.dumps(metrics))
    return server


def _findings(server: Path, *codes: str) -> dict[str, list[Finding]]:
    report = run_checks(server, options=CheckOptions(reverify=False), select=list(codes))
    found: dict[str, list[Finding]] = {code: [] for code in codes}
    for finding in report.findings:
        found[finding.code].append(finding)
    return found


def _statuses(findings: list[Finding]) -> set[str]:
    return {str(f.status) for f in findings}


def test_upstream_task_indices_point_into_its_dataset_not_the_examples(tmp_path: Path) -> None:
    rows = [_rollout(n, task=80 + n) for n in range(5)]
    nemo = _findings(_tree(tmp_path, rollouts=rows), "GYM402")["GYM402"]
    assert _statuses(nemo) == {"pass"}, nemo
    gym = _findings(_tree(tmp_path, nemo=False, rollouts=rows), "GYM402")["GYM402"]
    assert _statuses(gym) == {"fail"}
    assert "_ng_task_index 80 is out of range" in gym[0].message


def test_a_repeated_task_and_rollout_key_fails_in_nemo_gym_as_its_profiler_refuses_it(tmp_path: Path) -> None:
    rows = [_rollout(n, task=[439, 5, 2, 11, 11][n]) for n in range(5)]
    found = _findings(_tree(tmp_path, rollouts=rows), "GYM402")["GYM402"]
    assert [(f.status, f.line) for f in found] == [("fail", 5)]
    assert "repeats line 4" in found[0].message


@pytest.mark.parametrize(("reward", "read_as"), [(1.0000000000000004, "1"), (-1e-12, "0")])
def test_a_reward_a_float_step_outside_the_range_is_read_as_the_bound_and_said(
    tmp_path: Path, reward: float, read_as: str
) -> None:
    rows = [_rollout(n, task=n, reward=reward if n == 2 else 1.0) for n in range(5)]
    found = _findings(_tree(tmp_path, rollouts=rows), "GYM402")["GYM402"]
    assert [(f.status, f.line) for f in found] == [("warn", 3)]
    assert f"is read as {read_as}" in found[0].message and repr(reward) in found[0].message


def test_a_reward_past_the_tolerance_still_fails(tmp_path: Path) -> None:
    rows = [_rollout(n, task=n, reward=1.001 if n == 0 else 1.0) for n in range(5)]
    found = _findings(_tree(tmp_path, nemo=False, rollouts=rows), "GYM402")["GYM402"]
    assert [(f.status, f.line) for f in found] == [("fail", 1)]
    assert "reward must be in [0, 1], got 1.001" in found[0].message


def test_placeholder_rollout_files_and_rollouts_without_reward_fail_in_nemo_gym(tmp_path: Path) -> None:
    placeholder = _findings(_tree(tmp_path / "a", rollouts="<PLACEHOLDER ROW>\n" * 5), "GYM402")["GYM402"]
    assert _statuses(placeholder) == {"fail"} and "placeholder" in placeholder[0].message
    rows = [_rollout(n, task=n, reward=None if n == 1 else 0.0) for n in range(5)]
    unrewarded = _findings(_tree(tmp_path / "b", rollouts=rows), "GYM402")["GYM402"]
    assert [(f.status, f.line) for f in unrewarded] == [("fail", 2)]
    assert "no reward" in unrewarded[0].message


def test_materialized_inputs_match_their_example_rows(tmp_path: Path) -> None:
    # NeMo Gym writes tool_choice null, user "" and the rest where the example row left them out.
    rows = [_rollout(n, task=n, materialized=True) for n in range(5)]
    for nemo in (True, False):
        found = _findings(_tree(tmp_path / str(nemo), nemo=nemo, rollouts=rows), "GYM403")["GYM403"]
        assert _statuses(found) == {"pass"}, found


def test_a_different_request_still_does_not_match(tmp_path: Path) -> None:
    rows = [_rollout(n, task=n) for n in range(5)]
    rows[0]["responses_create_params"]["tool_choice"] = "required"
    found = _findings(_tree(tmp_path, nemo=False, rollouts=rows), "GYM403")["GYM403"]
    assert [(f.status, f.file, f.line) for f in found] == [
        ("fail", "data/example_rollouts.jsonl", 1),
        ("fail", "data/example.jsonl", 1),
    ]


def test_nemo_gym_asks_for_exactly_five_rollouts_not_one_per_example(tmp_path: Path) -> None:
    # Upstream's rollouts come from its datasets: unmatched ones only warn, a count other than five fails.
    rows = [_rollout(90 + n, task=90 + n) for n in range(4)]
    found = _findings(_tree(tmp_path, rollouts=rows), "GYM403")["GYM403"]
    fails = [f for f in found if f.status == "fail"]
    assert [f.message for f in fails] == ["4 rollouts; NeMo Gym's CONTRIBUTING.md asks for exactly 5 example rollouts"]
    # One note per file, not one per row: upstream does not tie its rollouts to the examples.
    warns = [f for f in found if f.status == "warn"]
    assert [(f.line, f.message.split(" (")[0]) for f in warns] == [
        (1, "4 rollout(s) match no row of data/example.jsonl and 5 example(s) have no rollout")
    ]
    assert "does not ask that they come from" in warns[0].message
    in_range = [_rollout(90 + n, task=n) for n in range(4)]  # gymkit bounds the indices by the examples
    gym = _findings(_tree(tmp_path, nemo=False, rollouts=in_range), "GYM403")["GYM403"]
    assert _statuses(gym) == {"fail"} and len(gym) == 4 + 5


def test_example_metrics_is_required_and_counts_the_examples_in_nemo_gym(tmp_path: Path) -> None:
    assert _statuses(_findings(_tree(tmp_path / "ok"), "GYM408")["GYM408"]) == {"pass"}
    missing = _findings(_tree(tmp_path / "missing", metrics=None), "GYM408")["GYM408"]
    assert [(f.status, f.message) for f in missing] == [("fail", "data/example_metrics.json is missing")]
    wrong = _findings(_tree(tmp_path / "wrong", metrics={"Number of examples": 4}), "GYM408")["GYM408"]
    assert [f.status for f in wrong] == ["fail"] and "is 4, data/example.jsonl has 5 rows" in wrong[0].message
    broken = _findings(_tree(tmp_path / "broken", metrics=[1, 2]), "GYM408")["GYM408"]
    assert [f.status for f in broken] == ["fail"] and '"Number of examples"' in broken[0].message
    gym = _findings(_tree(tmp_path / "gym", nemo=False, metrics=None), "GYM408")["GYM408"]
    assert _statuses(gym) == {"pass"}


def test_upstream_rollouts_need_no_gymkit_record(tmp_path: Path) -> None:
    nemo = _findings(_tree(tmp_path), "GYM801", "GYM802")
    assert _statuses(nemo["GYM801"]) == {"pass"} and _statuses(nemo["GYM802"]) == {"pass"}
    gym = _findings(_tree(tmp_path, nemo=False), "GYM801")["GYM801"]
    assert _statuses(gym) == {"fail"} and len(gym) == 5


def test_a_broken_gymkit_record_fails_in_nemo_gym_too(tmp_path: Path) -> None:
    rows = [_rollout(n, task=n) for n in range(5)]
    rows[3]["_gymkit"] = {"schema_version": 1, "model": 7}
    found = _findings(_tree(tmp_path, rollouts=rows), "GYM801")["GYM801"]
    assert [(f.status, f.line) for f in found] == [("fail", 4)] and "model" in found[0].message


def test_a_recorded_endpoint_with_credentials_fails_beside_unrecorded_rows(tmp_path: Path) -> None:
    rows = [_rollout(n, task=n) for n in range(5)]
    rows[0]["_gymkit"] = {"model": "m", "endpoint": "http://user:pw@host/v1"}
    found = _findings(_tree(tmp_path, rollouts=rows), "GYM802")["GYM802"]
    assert [(f.status, f.line) for f in found] == [("fail", 1)]


def test_no_gymkit_test_stamp_warns_naming_ng_test_in_nemo_gym(tmp_path: Path) -> None:
    found = _findings(_tree(tmp_path), "GYM303")["GYM303"]
    assert _statuses(found) == {"warn"}
    assert f"`ng_test +entrypoint=resources_servers/{NAME}`" in found[0].message
    gym = _findings(_tree(tmp_path, nemo=False), "GYM303")["GYM303"]
    assert _statuses(gym) == {"fail"}


def test_collecting_an_upstream_servers_tests_waits_for_its_environment(tmp_path: Path) -> None:
    found = _findings(_tree(tmp_path), "GYM302")["GYM302"]
    assert _statuses(found) == {"skip"} and "NeMo Gym environment" in found[0].message


def test_gymkit_reports_are_not_required_in_nemo_gym(tmp_path: Path) -> None:
    nemo = _findings(_tree(tmp_path), "GYM501", "GYM502", "GYM601", "GYM602")
    assert {code: _statuses(found) for code, found in nemo.items()} == {
        "GYM501": {"skip"},
        "GYM502": {"skip"},
        "GYM601": {"skip"},
        "GYM602": {"skip"},
    }
    assert "NeMo Gym does not require gymkit's reward profile" in nemo["GYM501"][0].message
    gym = _findings(_tree(tmp_path, nemo=False), "GYM501", "GYM601")
    assert _statuses(gym["GYM501"]) == {"fail"} and _statuses(gym["GYM601"]) == {"fail"}


def test_a_reward_outside_the_range_is_gymkits_rule_and_only_warns_in_nemo_gym(tmp_path: Path) -> None:
    # blackjack and the gymnasium servers pay -1 for a lost game.
    rows = [_rollout(n, task=n, reward=-1.0 if n == 4 else 0.0) for n in range(5)]
    nemo = _findings(_tree(tmp_path, rollouts=rows), "GYM402")["GYM402"]
    assert [(f.status, f.line) for f in nemo] == [("warn", 5)]
    assert "NeMo Gym allows any finite reward" in nemo[0].message
    gym = _findings(_tree(tmp_path, nemo=False, rollouts=rows), "GYM402")["GYM402"]
    assert [(f.status, f.line) for f in gym] == [("fail", 5)]


def test_an_empty_rollout_input_only_warns_in_nemo_gym(tmp_path: Path) -> None:
    rows = [_rollout(n, task=n) for n in range(5)]
    rows[1]["responses_create_params"]["input"] = []
    nemo = _findings(_tree(tmp_path, rollouts=rows), "GYM402")["GYM402"]
    assert [(f.status, f.line) for f in nemo] == [("warn", 2)]
    assert "environment supplies the prompt" in nemo[0].message
    gym = _findings(_tree(tmp_path, nemo=False, rollouts=rows), "GYM402")["GYM402"]
    assert [(f.status, f.line) for f in gym] == [("fail", 2)]
    # Another problem in the same row is a defect in either gym.
    rows[1]["responses_create_params"]["max_tokens"] = 5
    both = _findings(_tree(tmp_path / "both", rollouts=rows), "GYM402")["GYM402"]
    assert [(f.status, f.line) for f in both] == [("fail", 2)]


def _readme_check(server: Path) -> list[Finding]:
    outcome = GYM405().check(Fixtures(ServerPaths(server)))
    assert not isinstance(outcome, Skip), outcome
    return list(outcome)


def test_a_readme_without_a_start_command_only_warns_in_nemo_gym(tmp_path: Path) -> None:
    # Upstream's README template is `# Description` and `# Licensing information`. Called directly:
    # GYM405 waits on GYM210, whose NeMo Gym rule is step 2's (gymkit's failing case: test_each_check.py).
    readme = "# Description\n\nA quiz.\n\n# Licensing information\nCode: Apache 2.0\nData: CC-BY-4.0\n"
    server = _tree(tmp_path)
    (server / "README.md").write_text(readme)
    found = _readme_check(server)
    assert [f.status for f in found] == ["warn"]
    assert "NeMo Gym's README template does not ask for it" in found[0].message
    (server / "README.md").write_text(readme + "\n```\nng_run +config_paths=[x]\n```\n")
    assert _readme_check(server) == []


COUNTER_APP = """
from pydantic import BaseModel

from gymkit import BaseResourcesServer, BaseSeedSessionRequest, BaseSeedSessionResponse, BaseVerifyRequest
from gymkit import BaseVerifyResponse


class Seed(BaseSeedSessionRequest):
    start: int = 0


class Add(BaseModel):
    n: int


class Added(BaseModel):
    total: int


class CountVerify(BaseVerifyRequest):
    expected: int


class Counter(BaseResourcesServer):
    async def seed_session(self, body: Seed) -> BaseSeedSessionResponse:
        self.session["total"] = body.start
        return BaseSeedSessionResponse()

    async def add(self, body: Add) -> Added:
        self.session["total"] = self.session.get("total", 0) + body.n
        return Added(total=self.session["total"])

    async def verify(self, body: CountVerify) -> BaseVerifyResponse:
        return BaseVerifyResponse(**body.model_dump(), reward=float(self.session.get("total") == body.expected))


server = Counter()
"""


def test_reverification_replays_the_stored_tool_calls_for_a_server_that_keeps_session_state(tmp_path: Path) -> None:
    """Like upstream's example_session_state_mgmt: verify reads what the rollout's tool calls did to the session."""
    from gymkit.reverify import reverify_rollouts
    from tests.checks.conftest import build_server

    server = build_server(tmp_path)
    (server / "app.py").write_text(COUNTER_APP)
    examples = [
        {"responses_create_params": {"input": f"add up to {n + 4}"}, "start": n, "expected": n + 4} for n in range(3)
    ]
    (server / "data" / "example.jsonl").write_text(_lines(examples))

    def call(n: int) -> dict[str, Any]:
        return {"type": "function_call", "name": "add", "arguments": json.dumps({"n": n}), "call_id": f"c{n}"}

    # Rows 1 and 3 added what was asked (reward 1), row 2 fell short (reward 0): replayed, all three reproduce.
    adds = [[call(4)], [call(1)], [call(2), call(2)]]
    rollouts = [
        {**example, "response": {"output": calls}, "reward": 0.0 if n == 1 else 1.0, "_ng_task_index": n,
         "_ng_rollout_index": 0}
        for n, (example, calls) in enumerate(zip(examples, adds, strict=True))
    ]  # fmt: skip
    (server / "data" / "example_rollouts.jsonl").write_text(_lines(rollouts))
    report = reverify_rollouts(ServerPaths(server), verify_timeout=10)
    assert report.error is None and [(r.stored, r.reward) for r in report.rows] == [(1.0, 1.0), (0.0, 0.0), (1.0, 1.0)]
    assert report.ok

    # A stored reward the replay does not reproduce is still a difference.
    rollouts[2]["response"] = {"output": [call(2)]}
    (server / "data" / "example_rollouts.jsonl").write_text(_lines(rollouts))
    report = reverify_rollouts(ServerPaths(server), verify_timeout=10)
    assert [(r.line, r.reward) for r in report.differences] == [(3, 0.0)]


def test_the_audits_responses_carry_what_the_responses_api_requires_of_a_response() -> None:
    # NeMo Gym's servers validate verify's `response` as the Responses API's object and answered
    # every audit probe with HTTP 422 while these were missing.
    from gymkit.smoke import answer_response, empty_response

    for response in (empty_response(), answer_response("4")):
        assert {"parallel_tool_calls", "tool_choice", "tools"} <= response.keys()
        assert (response["parallel_tool_calls"], response["tool_choice"], response["tools"]) == (True, "auto", [])


def test_an_audit_reward_outside_the_range_only_warns_in_nemo_gym(tmp_path: Path) -> None:
    from gymkit.audit.report import AuditFinding
    from gymkit.audit.runner import AuditResult
    from gymkit.checks.step3_audit import GYM304

    def audited(server: Path) -> list[Finding]:
        fx = Fixtures(ServerPaths(server))
        fx.__dict__["audit"] = AuditResult(  # the audit's result, as the cached fixture holds it
            findings=[
                AuditFinding("GYM3A14", 3, "fail", "got reward 2.0, not in [0, 1]", probe="reward_range", reward=2.0),
                AuditFinding("GYM3A14", 3, "fail", "got HTTP 422", probe="reward_range", reward=None),
                AuditFinding("GYM3A01", 3, "fail", "earned reward 1; expected 0", probe="empty", reward=1.0),
            ]
        )
        outcome = GYM304().check(fx)
        assert not isinstance(outcome, Skip), outcome
        return list(outcome)

    nemo = audited(_tree(tmp_path))
    # The empty probe's reward is gymkit's own audit rule, so it warns too; the 422 fails everywhere.
    assert [str(f.status) for f in nemo] == ["warn", "fail", "warn"]
    assert "NeMo Gym allows any finite reward" in nemo[0].message
    assert "NeMo Gym has no such check" in nemo[2].message
    assert [str(f.status) for f in audited(_tree(tmp_path, nemo=False))] == ["fail", "fail", "fail"]


def _stepped(n: int, *, last: list[Any], task: int) -> dict[str, Any]:
    """A rollout as upstream's aviary agent writes it: one list per step, each the conversation so far."""
    row = _rollout(n, task=task)
    row["responses_create_params"]["input"] = []
    first = [{"role": "user", "content": f"question {n}", "type": "message"}]
    row["response"] = {"contains_transitions": True, "env_id": "e", "group_id": str(n), "output": [first, last]}
    return row


def test_aviarys_stepped_output_is_read_as_its_last_step_in_nemo_gym(tmp_path: Path) -> None:
    call = {"type": "function_call", "name": "calculator", "arguments": "{}", "call_id": "c", "id": "c"}
    good = [{"role": "user", "content": "q", "type": "message"}, call]
    rows = [_stepped(n, last=good, task=n) for n in range(4)]
    rows.append(_stepped(4, last=[{"type": "function_call", "name": 7}], task=4))  # broken in its last step
    found = _findings(_tree(tmp_path, rollouts=rows), "GYM402")["GYM402"]
    assert [(str(f.status), f.line) for f in found] == [("warn", 1), ("warn", 2), ("warn", 3), ("warn", 4), ("fail", 5)]
    assert "holds 2 steps" in found[0].message and "NeMo Gym allows an empty input" in found[0].message
    assert "in the last of its 2 steps" in found[4].message
    gym = _findings(_tree(tmp_path, nemo=False, rollouts=rows), "GYM402")["GYM402"]
    assert _statuses(gym) == {"fail"} and len(gym) == 5
