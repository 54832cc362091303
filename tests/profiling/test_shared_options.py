"""`gymkit rollouts` and `gymkit profile` take the same endpoint, sampling and bound flags, meaning the same."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from gymkit.cli import app

from .conftest import write_rows

SERVER = Path(__file__).parent / "servers" / "answer"
SHARED = [
    "--base-url", "--api-key", "--model", "--api", "--endpoint-config",
    "--temperature", "--top-p", "--max-output-tokens", "--seed",
    "--concurrency", "--max-steps", "--model-timeout", "--max-retries", "--retry-max-time",
    "--max-response-bytes", "--rollout-timeout", "--server-timeout", "--quiet",
]  # fmt: skip


def _options(command: str) -> dict[str, Any]:
    params = typer.main.get_command(app).commands[command].params  # type: ignore[attr-defined]
    return {name: p for p in params if p.param_type_name == "option" for name in p.opts}


def test_both_commands_describe_every_shared_option_alike() -> None:
    rollouts, profile = _options("rollouts"), _options("profile")
    for flag in SHARED:
        assert flag in rollouts and flag in profile, flag
        assert rollouts[flag].help and not rollouts[flag].hidden, flag
        if flag != "--temperature":  # its default differs, and its help says why
            assert rollouts[flag].help == profile[flag].help, flag
    assert "sent with every model call" in (profile["--seed"].help or "")
    assert "prompt subset" in (profile["--subset-seed"].help or "")


@pytest.fixture
def answer(tmp_path: Path) -> Path:
    server = tmp_path / "answer"
    shutil.copytree(SERVER, server)
    rows = [{"responses_create_params": {"input": [{"role": "user", "content": "1+1"}]}, "expected_answer": "2"}]
    (server / "data").mkdir()
    write_rows(server / "data" / "train.jsonl", rows * 3)
    write_rows(server / "data" / "example.jsonl", rows)
    return server


@pytest.fixture
def collected(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What `gymkit profile` hands the collector; the collection itself is not run."""
    seen: dict[str, Any] = {}

    def collect_and_profile(paths: Any, folder: Path, **kwargs: Any) -> Any:
        seen.update(kwargs)
        raise typer.Exit(0)

    monkeypatch.setattr("gymkit.profiling.collect.collect_and_profile", collect_and_profile)
    return seen


def test_profile_seed_is_the_sampling_seed_and_subset_seed_picks_prompts(
    answer: Path, collected: dict[str, Any]
) -> None:
    result = CliRunner().invoke(app, ["profile", str(answer), "--seed", "7", "--subset-seed", "3", "--api", "chat"])
    assert result.exit_code == 0, result.output
    assert collected["sampling"].seed == 7 and collected["seed"] == 3
    assert collected["sampling"].temperature == 1.0


def test_profile_seed_alone_says_what_it_became(answer: Path, collected: dict[str, Any]) -> None:
    result = CliRunner().invoke(app, ["profile", str(answer), "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert collected["sampling"].seed == 5 and collected["seed"] == 0
    assert "note: --seed is sent to the model; the prompt subset's seed is --subset-seed" in result.stderr


def test_the_old_sampling_seed_spelling_still_works_with_a_warning(answer: Path, collected: dict[str, Any]) -> None:
    result = CliRunner().invoke(app, ["profile", str(answer), "--sampling-seed", "9"])
    assert result.exit_code == 0, result.output
    assert collected["sampling"].seed == 9
    assert result.stderr.splitlines() == [
        "warning: --sampling-seed is deprecated; use --seed, the model's sampling seed"
    ]


def test_a_bad_bound_is_named_by_its_flag_in_both(answer: Path, collected: dict[str, Any]) -> None:
    for command in ("rollouts", "profile"):
        result = CliRunner().invoke(app, [command, str(answer), "--model-timeout", "-1"])
        assert result.exit_code == 1
        assert result.output.splitlines()[0].startswith("error: --model-timeout must be a number above 0"), command
    assert collected == {}


def test_profile_tells_a_long_run_how_to_shrink_with_its_own_flags(answer: Path, collected: dict[str, Any]) -> None:
    result = CliRunner().invoke(app, ["profile", str(answer)])
    assert result.exit_code == 0, result.output
    heard: list[str] = []
    notice = collected["notice"]
    type(notice)(heard.append, notice.smaller).before_embedded(500 * 16)
    assert heard and heard[0].endswith("; fewer with --num-prompts N or --samples K")


def test_profile_seed_on_the_responses_api_also_names_subset_seed(answer: Path, collected: dict[str, Any]) -> None:
    # An older command passed --seed for the prompts; on the Responses API it is refused, and says what to use.
    endpoint = ["--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--api", "responses"]
    result = CliRunner().invoke(app, ["profile", str(answer), *endpoint, "--seed", "1"])
    assert result.exit_code == 1, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("error: --seed needs the Chat Completions API"), first
    assert first.endswith("the prompt subset's seed is now --subset-seed"), first
    assert "note:" not in result.output  # the refusal says it all, once
    assert collected == {}
    same = CliRunner().invoke(app, ["profile", str(answer), *endpoint, "--subset-seed", "1"])
    assert same.exit_code == 0, same.output
    assert collected["seed"] == 1 and collected["sampling"].seed is None


def test_no_help_text_of_any_command_carries_a_module_prefix() -> None:
    # "options.Seed of ..." once reached --help from a search-and-replace over the shared options.
    def walk(command: Any, path: str) -> Any:
        for sub_name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, f"{path} {sub_name}")
        yield path, command

    found = 0
    for path, command in walk(typer.main.get_command(app), "gymkit"):
        for param in command.params:
            text = getattr(param, "help", None) or ""
            found += bool(text)
            assert "options." not in text, f"{path} {param.opts}: {text}"
    assert found > 50  # the walk reached the subcommands' options, not just the root's
