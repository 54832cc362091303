"""GYM404 re-verifies an upstream server's rollouts with the request's null fields left out.

v0.5.0's math_advanced_calculations stores `tool_choice: null` from an older nemo_gym schema; today's
refuses it (HTTP 422), while its agent, dumping the request model, sends "auto" there. A gymkit server
gets the stored request as it is.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import gymkit.reverify
from gymkit.project import ServerPaths
from gymkit.reverify import reverify_rollouts, verify_body

PARAMS = {"input": "2+2?", "tool_choice": None, "temperature": None, "tools": [], "user": ""}
ROLLOUT = {"responses_create_params": PARAMS, "response": {"output": []}, "reward": 1.0, "_ng_task_index": 0}


def test_an_upstream_body_leaves_the_requests_nulls_out_and_keeps_the_rest() -> None:
    body = verify_body(ROLLOUT, None, upstream=True)
    assert body["responses_create_params"] == {"input": "2+2?", "tools": [], "user": ""}
    assert body["response"] == {"output": []} and "reward" not in body
    assert ROLLOUT["responses_create_params"] is PARAMS and PARAMS["tool_choice"] is None  # the row is untouched
    example = {"responses_create_params": {"input": "2+2?", "tool_choice": None}, "answer": "4"}
    matched = verify_body(ROLLOUT, example, upstream=True)
    assert matched["responses_create_params"] == {"input": "2+2?"} and matched["answer"] == "4"


def test_a_gymkit_body_is_the_stored_request_as_it_is() -> None:
    assert verify_body(ROLLOUT, None)["responses_create_params"] == PARAMS


@pytest.mark.parametrize(("app", "sent"), [("import nemo_gym\n", False), ("import gymkit\n", True)])
def test_reverification_sends_the_nulls_only_to_a_gymkit_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, app: str, sent: bool
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "app.py").write_text(app)
    (tmp_path / "data" / "example_rollouts.jsonl").write_text(json.dumps(ROLLOUT) + "\n")
    bodies: list[dict[str, Any]] = []

    @contextlib.contextmanager
    def started(folder: Path, timeout: float) -> Iterator[SimpleNamespace]:
        yield SimpleNamespace(url="http://127.0.0.1:9")

    def post(client: object, url: str, body: dict[str, Any], timeout: float, **_: object) -> tuple[float, None]:
        bodies.append(body)
        return 1.0, None

    monkeypatch.setattr(gymkit.reverify, "ServerProcess", started)
    monkeypatch.setattr(gymkit.reverify, "_post", post)
    monkeypatch.setattr(gymkit.reverify, "_reverify_mode", lambda client, url: None)
    report = reverify_rollouts(ServerPaths(tmp_path))
    assert report.error is None and report.ok
    assert [("tool_choice" in b["responses_create_params"]) for b in bodies] == [sent]


@pytest.mark.parametrize(("app", "sent"), [("import nemo_gym\n", False), ("import gymkit\n", True)])
def test_the_audits_gold_rollouts_are_sent_as_reverification_sends_them(tmp_path: Path, app: str, sent: bool) -> None:
    from gymkit.audit.fixture import gold_cases

    (tmp_path / "data").mkdir()
    (tmp_path / "app.py").write_text(app)
    (tmp_path / "data" / "example_rollouts.jsonl").write_text(json.dumps(ROLLOUT) + "\n")
    golds = gold_cases(ServerPaths(tmp_path), [], None)
    assert [("tool_choice" in g.body["responses_create_params"]) for g in golds] == [sent]
