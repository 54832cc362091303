"""Whole profiles of rollout files with known properties."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import orjson
import pytest

from gymkit.errors import InvalidDataError
from gymkit.profiling import profile_files, write_profile

from .conftest import rollout, write_rows

UPSTREAM = Path(__file__).parents[1] / "fixtures" / "upstream"
BAD_ARGS = '{"error":"Invalid tool call arguments: Expecting value"}'
HTTP_422 = '{"error": "invalid body for /search: query: Field required", "route": "/search"}'
HTTP_500 = '{"error": "/search raised KeyError: x", "route": "/search"}'


def test_prompt_fractions_and_verdict(write) -> None:  # type: ignore[no-untyped-def]
    rows = []
    for task in range(10):  # 6 all-fail, 2 all-pass, 2 mixed prompts, 4 samples each
        rewards = [0, 0, 0, 0] if task < 6 else [1, 1, 1, 1] if task < 8 else [1, 0, 0, 1]
        rows += [rollout(r, task=task) for r in rewards]
    report = profile_files([write(rows)]).report
    assert (report["num_prompts"], report["samples_per_prompt"], report["num_rollouts"]) == (10, 4, 40)
    assert report["prompts"]["all_fail"] == pytest.approx(0.6)
    assert report["prompts"]["all_pass"] == pytest.approx(0.2)
    assert report["prompts"]["mixed"] == pytest.approx(0.2)
    assert report["prompts"]["verdict"] is None  # 20% is not low
    # pass@1 = mean reward = 12/40; pass@2 for a mixed prompt = 1 - C(2,2)/C(4,2) = 5/6.
    assert report["pass_at_k"]["1"] == pytest.approx(0.3)
    assert report["pass_at_k"]["2"] == pytest.approx((2 + 2 * 5 / 6) / 10)
    assert list(report["pass_at_k"]) == ["1", "2", "4"]
    assert report["reward"]["per_prompt"]["mean"]["mean"] == pytest.approx(0.3)
    assert report["reward"]["per_prompt"]["std"]["max"] == pytest.approx(statistics.stdev([1, 0, 0, 1]))

    rows = [rollout(0, task=t) for t in range(9) for _ in range(2)] + [rollout(r, task=9) for r in (0, 1)]
    low = profile_files([write(rows, "low.jsonl")]).report["prompts"]
    assert low["mixed"] == pytest.approx(0.1)
    assert "only 10% of prompts" in low["verdict"] and "90% always fail" in low["verdict"]
    assert "make the tasks easier" in low["verdict"]


def test_tool_metrics_and_correlation(write) -> None:  # type: ignore[no-untyped-def]
    ok = ("search", '{"q": "x"}', '{"hits": 1}')
    rows = [
        rollout(0.0, task=0),
        rollout(0.0, task=1, calls=[("search", "{not json", BAD_ARGS)]),
        rollout(1.0, task=2, calls=[ok, ("search", '{"q": 1}', HTTP_422)]),
        rollout(1.0, task=3, calls=[ok, ok, ("lookup", '{"id": 2}', HTTP_500)]),
        rollout(1.0, task=4, calls=[ok, ok, ok, ("lookup", '{"id": 3}', '{"error": null, "ok": true}')]),
    ]
    t = profile_files([write(rows)]).report["tool_calls"]
    calls = [0, 1, 2, 3, 4]
    assert t["total"] == 10 and t["per_rollout_mean"] == pytest.approx(2.0)
    assert t["no_call_share"] == pytest.approx(0.2)
    assert t["invalid_arguments"] == 2 and t["invalid_argument_rate"] == pytest.approx(0.2)
    assert t["tool_errors"] == 1 and t["tool_error_rate"] == pytest.approx(0.1)
    expected = statistics.correlation(calls, [0, 0, 1, 1, 1])
    assert t["reward_correlation"]["r"] == pytest.approx(expected)
    assert t["reward_correlation"]["ci_low"] < expected < t["reward_correlation"]["ci_high"]
    search, lookup = t["per_tool"]["search"], t["per_tool"]["lookup"]
    assert (search["calls"], search["rollouts_with_call"], lookup["calls"]) == (8, 4, 2)
    assert search["invalid_argument_rate"] == pytest.approx(2 / 8)
    assert lookup["tool_error_rate"] == pytest.approx(1 / 2)
    assert search["reward_correlation"]["r"] == pytest.approx(statistics.correlation([0, 1, 2, 2, 3], [0, 0, 1, 1, 1]))
    assert [p["mean_reward"] for p in t["calls_vs_reward"]] == [0, 0, 1, 1, 1]


def test_rollouts_without_indices_are_grouped_by_prompt(write) -> None:  # type: ignore[no-untyped-def]
    rows = [rollout(r, prompt="a") for r in (1, 0)] + [rollout(1, prompt="b")] * 2 + [rollout(0, prompt="c")]
    report = profile_files([write(rows)]).report
    assert report["num_prompts"] == 3 and report["samples_per_prompt"] == 2
    assert report["prompts"]["counts"] == {"all_fail": 1, "all_pass": 1, "mixed": 1}
    assert all(str(row["task"]).startswith("prompt:") for row in report["per_task"])


def test_per_task_matches_nemo_gym_statistics(write) -> None:  # type: ignore[no-untyped-def]
    rewards, outputs = [0.0, 0.5, 1.0, 1.0], [4, 9, 2, 7]
    pairs = zip(rewards, outputs, strict=True)
    rows = [rollout(r, task=3, tokens=(10, o), accuracy=r > 0.4, info={"x": 1}) for r, o in pairs]
    rows.append(rollout(0.25, task=8))
    report = profile_files([write(rows)]).report
    first, single = report["per_task"]
    assert first["_ng_task_index"] == 3 and first["num_rollouts"] == 4
    for column, values in (("reward", rewards), ("output_tokens", outputs), ("accuracy", [0, 1, 1, 1])):
        assert first[f"mean/{column}"] == pytest.approx(statistics.mean(values))
        assert first[f"median/{column}"] == pytest.approx(statistics.median(values))
        assert first[f"std/{column}"] == pytest.approx(statistics.stdev(values))
        assert (first[f"min/{column}"], first[f"max/{column}"]) == (min(values), max(values))
    assert not any("info" in key or "_ng_task_index/" in key for key in first)
    assert single["std/reward"] == 0.0 and single["mean/reward"] == 0.25


def test_failures_side_file_is_read_by_class(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write([rollout(1.0, task=0), rollout(0.0, task=0)])
    failures = [{"_ng_failure_class": "model_error"}] * 2 + [
        {"_ng_failure_class": "verify_error", "_ng_failure_terminal": True}
    ]
    write_rows(tmp_path / "rollouts_failures.jsonl", failures)
    f = profile_files([path]).report["failures"]
    assert f["count"] == 3 and f["terminal"] == 1
    assert f["classes"] == {"model_error": 2, "verify_error": 1}
    assert f["rate"] == pytest.approx(3 / 5)


def test_usage_and_provenance(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dataset = write_rows(tmp_path / "train.jsonl", [{"responses_create_params": {"input": "q"}}] * 3)
    path = write([rollout(1, task=0, tokens=(10, 4)), rollout(0, task=0, tokens=(20, 8))])
    report = profile_files([path], dataset=dataset).report
    assert report["usage"]["output_tokens"]["mean"] == 6 and report["usage"]["input_tokens"]["total"] == 30
    assert report["dataset"]["num_rows"] == 3 and len(report["dataset"]["sha256"]) == 64
    assert report["schema_version"] == 1 and report["models"] == ["m-small"]
    assert report["sampling"] == {"temperature": 1.0, "top_p": None, "max_output_tokens": None}


def test_several_models_get_their_own_sections_and_overlaid_plots(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    small = write([rollout(r, task=t) for t in range(3) for r in (0, 0, 1, 0)], "small.jsonl")
    call = [("search", "{}", "{}")]
    large_rows = [rollout(r, task=t, model="m-large", calls=call * int(r)) for t in range(3) for r in (1, 1, 0, 1)]
    large = write(large_rows, "large.jsonl")
    profile = profile_files([small, large])
    report = profile.report
    assert report["models"] == ["m-small", "m-large"]
    assert report["by_model"]["m-small"]["pass_at_k"]["1"] == pytest.approx(0.25)
    assert report["by_model"]["m-large"]["pass_at_k"]["1"] == pytest.approx(0.75)
    assert report["pass_at_k"]["1"] == pytest.approx(0.5)
    # Calls are counted within each model's rollouts: the large model calls exactly when it passes.
    assert report["by_model"]["m-small"]["tool_calls"]["total"] == 0
    large_tools = report["by_model"]["m-large"]["tool_calls"]
    assert large_tools["total"] == 9 and large_tools["per_tool"]["search"]["reward_correlation"]["r"] == pytest.approx(
        1.0
    )
    written = write_profile(profile, tmp_path / "out")
    markdown = (tmp_path / "out" / "reward_profile.md").read_text()
    assert "## Models side by side" in markdown and "| m-small | m-large |" in markdown
    assert {"reward_hist.png", "pass_at_k.png", "prompt_mean_hist.png"} <= set(written)
    assert (tmp_path / "out" / "reward_hist.png").read_bytes()[:4] == b"\x89PNG"
    rows = [orjson.loads(line) for line in (tmp_path / "out" / "per_task.jsonl").read_bytes().splitlines()]
    assert {row.get("model") for row in rows} == {None, "m-small", "m-large"}


@pytest.mark.parametrize("name", ["blackjack", "example_single_tool_call", "mcqa"])
def test_upstream_rollouts_profile(name: str, tmp_path: Path) -> None:
    profile = profile_files([UPSTREAM / name / "example_rollouts.jsonl"])
    write_profile(profile, tmp_path, plots=name == "blackjack")
    report = orjson.loads((tmp_path / "reward_profile.json").read_bytes())
    assert report["num_rollouts"] == 5
    if name == "blackjack":  # rewards -1/1, one task with 5 samples: 3 pass
        assert report["reward"]["min"] == -1 and report["reward"]["mean"] == pytest.approx(0.2)
        assert report["pass_at_k"] == pytest.approx({"1": 0.6, "2": 0.9, "4": 1.0})
        assert report["prompts"]["mixed"] == 1.0
        assert report["max_at_k"]["2"] == pytest.approx(1 - 2 * 1 / math.comb(5, 2))  # both -1: 1 pair of 10
    if name == "example_single_tool_call":
        assert report["tool_calls"]["total"] == 3 and report["num_prompts"] == 5


def test_bad_rows_name_file_and_line(write) -> None:  # type: ignore[no-untyped-def]
    path = write([rollout(1, task=0), {"response": {}, "reward": "high", "_ng_task_index": 1}])
    with pytest.raises(InvalidDataError, match=r"rollouts.jsonl:2: reward must be a finite number"):
        profile_files([path])
    with pytest.raises(InvalidDataError, match=r"empty.jsonl: no rollouts to profile"):
        profile_files([write([], "empty.jsonl")])


def test_a_field_missing_from_some_rows_is_summarised_over_the_rows_that_have_it(write) -> None:  # type: ignore[no-untyped-def]
    rows = [rollout(1, task=0, score=1.0), rollout(0, task=0), rollout(1, task=0, score=3.0), rollout(0, task=1)]
    rows.append(rollout(1, task=1, score=10.0))
    first, second = profile_files([write(rows)]).report["per_task"]
    assert first["mean/score"] == 2.0 and first["std/score"] == pytest.approx(statistics.stdev([1, 3]))
    assert first["num_rollouts"] == 3 and second["median/score"] == 10.0
