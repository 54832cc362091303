"""gymkit health and gymkit compare: the judgements, and the commands that print them."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from gymkit.cli import build_app
from gymkit.evaluate import compare_rewards, health_of_files, rewards_of_file, summarise
from tests.view.synthetic import rollout


def _row(output: list[dict[str, Any]], **response: Any) -> dict[str, Any]:
    return {"reward": 0.0, "response": {"output": output, "status": "completed", **response},
            "_ng_task_index": 0, "_ng_rollout_index": 0}  # fmt: skip


def _msg(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}


CALL = {"type": "function_call", "call_id": "c", "name": "t", "arguments": "{}"}
OUT = {"type": "function_call_output", "call_id": "c", "output": '{"error": "boom"}'}


def test_a_row_is_read_for_what_it_teaches() -> None:
    good = summarise(_row([_msg("42")], usage={"output_tokens": 3}))
    assert (good.hollow, good.runaway, good.zero_completion, good.has_usage) == (False, False, False, True)
    assert summarise(_row([_msg("  ")], usage={"output_tokens": 0})).hollow
    assert summarise(_row([_msg("")], usage={"output_tokens": 0})).zero_completion
    cut = summarise(
        _row([_msg("The answer is")], status="incomplete", incomplete_details={"reason": "max_output_tokens"})
    )
    assert cut.incomplete == "max_output_tokens" and not cut.hollow  # cut, not hollow: a different fix
    at_limit = summarise(_row([CALL, OUT]))
    assert at_limit.incomplete == "max_steps" and at_limit.tool_errors == 1 and not at_limit.has_usage


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def test_health_counts_each_category_with_its_worst_examples(tmp_path: Path) -> None:
    rng = random.Random(0)
    rows = [rollout(t, s, rng) for t in range(10) for s in range(4)]
    del rows[5]  # task 1 lacks rollout 1: an index gap
    path = _write(tmp_path / "r.jsonl", rows)
    _write(tmp_path / "r_failures.jsonl", [{"_ng_task_index": 1, "_ng_rollout_index": 1, "_ng_failure_class": "x"}])
    report = health_of_files([path]).to_json()
    cats = report["categories"]
    assert report["rows"] == 39 and cats["failures"]["count"] == 1
    assert cats["index_gaps"]["count"] == 1 and "rollouts [1] missing" in cats["index_gaps"]["examples"][0]["why"]
    assert cats["index_gaps"]["flagged"]  # any gap is flagged
    runaway = cats["runaway"]
    assert runaway["count"] >= 1 and runaway["examples"][0]["why"] in ("max_output_tokens", "max_steps")
    # Worst first: the runaway rows that spent the most tokens lead.
    tokens = [e["output_tokens"] or 0 for e in runaway["examples"]]
    assert tokens == sorted(tokens, reverse=True)
    assert cats["tool_errors"]["count"] == sum(r["_gymkit"]["tool_errors"] for r in rows)


def test_health_passes_a_clean_file_and_exits_1_on_a_flagged_one(tmp_path: Path) -> None:
    clean = _write(tmp_path / "clean.jsonl", [
        _row([_msg("42")], usage={"output_tokens": 3}) | {"_ng_task_index": t, "_ng_rollout_index": 0} for t in range(3)
    ])  # fmt: skip
    runner = CliRunner()
    ok = runner.invoke(build_app(["health"]), ["health", str(clean)])
    assert ok.exit_code == 0, ok.output
    assert "healthy" in ok.output
    hollow = _write(tmp_path / "hollow.jsonl", [_row([_msg("")], usage={"output_tokens": 5})])
    bad = runner.invoke(build_app(["health"]), ["health", str(hollow), "--format", "json"])
    assert bad.exit_code == 1
    assert json.loads(bad.output)["flagged"] == ["hollow"]
    lenient = runner.invoke(build_app(["health"]), ["health", str(hollow), "--max-rate", "1"])
    assert lenient.exit_code == 0


def test_compare_finds_a_real_change_and_not_a_fake_one() -> None:
    a = {t: {s: float(s < 2) for s in range(4)} for t in range(20)}  # every task 0.5
    same = compare_rewards(a, a)
    assert same["overall"]["delta"] == 0 and same["overall"]["permutation_p"] == 1.0
    assert "no significant" in same["verdict"] and same["flips"]["paired_rollouts"] == 80
    b = {t: {s: 1.0 for s in range(4)} for t in range(20)}  # the verifier now accepts everything
    up = compare_rewards(a, b, seed=3)
    o = up["overall"]
    assert o["delta"] == pytest.approx(0.5) and o["ci"][0] > 0 and o["permutation_p"] < 0.001
    assert o["sign_test"]["higher"] == 20 and o["sign_test"]["p"] < 1e-5
    assert "significant" in up["verdict"] and "higher" in up["verdict"]
    assert len(up["flips"]["fail_to_pass"]) == 40 and up["flips"]["pass_to_fail"] == []
    assert compare_rewards(a, b, seed=3) == up  # seeded: the same numbers every run


def test_compare_pairs_tasks_only_and_says_so(tmp_path: Path) -> None:
    rng = random.Random(1)
    pa = _write(tmp_path / "a.jsonl", [rollout(t, s, rng) for t in range(6) for s in range(4)])
    pb = _write(tmp_path / "b.jsonl", [rollout(t, s, rng) for t in range(3, 9) for s in range(4)])
    result = compare_rewards(rewards_of_file(pa), rewards_of_file(pb))
    assert result["tasks"] == {"shared": 3, "only_a": 3, "only_b": 3}
    out = CliRunner().invoke(build_app(["compare"]), ["compare", str(pa), str(pb)])
    assert out.exit_code == 0, out.output
    assert "3 shared tasks" in out.output and "McNemar" in out.output and "95% CI" in out.output
