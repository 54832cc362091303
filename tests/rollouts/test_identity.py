"""Resume checks that the file belongs to this run; a fresh run never shrinks a file without force."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gymkit.errors import UserError
from gymkit.rollouts import EndpointConfig, Sampling, collect_rollouts

from .conftest import read_jsonl, task, write_tasks
from .scripted import MODEL, ScriptedModel


def _collect(toolbox: Path, tasks: Path, out: Path, model: tuple[Any, str], url: str, **kwargs: Any) -> Any:
    endpoint = EndpointConfig((model[1],), model=MODEL, retry_backoff=0.01, max_retries=kwargs.pop("max_retries", 5))
    return collect_rollouts(toolbox, tasks, out, endpoint=endpoint, server_url=url, progress=False, **kwargs)


@pytest.fixture
def six(toolbox: Path, toolbox_url: str, model: tuple[ScriptedModel, str], tmp_path: Path) -> tuple[Path, Path]:
    """A finished collection of 2 tasks x 3 repeats."""
    tasks = write_tasks(tmp_path / "tasks.jsonl", [task(f"answer {i}", expected=str(i)) for i in range(2)])
    out = tmp_path / "rollouts.jsonl"
    assert _collect(toolbox, tasks, out, model, toolbox_url, repeats=3).rows == 6
    return tasks, out


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"repeats": 1}, "repeats 3 (now 1)"),
        ({"repeats": 3, "limit": 1}, "limit null (now 1)"),
        ({"repeats": 3, "sampling": Sampling(temperature=0.2)}, "sampling"),
        ({"repeats": 3, "max_steps": 2}, "max_steps 16 (now 2)"),
    ],
)
def test_resume_with_other_settings_is_refused_and_touches_nothing(
    change: dict[str, Any],
    says: str,
    six: tuple[Path, Path],
    toolbox: Path,
    toolbox_url: str,
    model: tuple[ScriptedModel, str],
) -> None:
    # The attack: resuming a 600-row file with --limit 10 -k 2 rewrote it to 20 rows.
    tasks, out = six
    before = out.read_bytes()
    calls = len(model[0].requests)
    with pytest.raises(UserError) as info:
        _collect(toolbox, tasks, out, model, toolbox_url, resume=True, **change)
    assert str(info.value).startswith(f"cannot resume {out}: it was started with ") and says in str(info.value)
    assert out.read_bytes() == before and len(model[0].requests) == calls


def test_resume_with_another_input_is_refused(
    six: tuple[Path, Path], toolbox: Path, toolbox_url: str, model: tuple[ScriptedModel, str], tmp_path: Path
) -> None:
    # The attack: resuming with another -i kept the other dataset's rows and reported them done.
    _, out = six
    other = write_tasks(tmp_path / "other.jsonl", [task(f"answer {i}", expected="x") for i in range(2)])
    before = out.read_bytes()
    with pytest.raises(UserError, match="input_sha256"):
        _collect(toolbox, other, out, model, toolbox_url, resume=True, repeats=3)
    # With the run record gone, each row's task hash still tells.
    out.with_name("rollouts.run.json").unlink()
    with pytest.raises(UserError, match="made from another task than line 1 of the input"):
        _collect(toolbox, other, out, model, toolbox_url, resume=True, repeats=3)
    assert out.read_bytes() == before


def test_rows_outside_the_plan_are_refused_not_dropped(
    six: tuple[Path, Path], toolbox: Path, toolbox_url: str, model: tuple[ScriptedModel, str]
) -> None:
    tasks, out = six
    out.with_name("rollouts.run.json").unlink()
    before = out.read_bytes()
    with pytest.raises(UserError, match=r"holds rollout \(0, 1\), outside this run's 2 tasks x 1 repeats"):
        _collect(toolbox, tasks, out, model, toolbox_url, resume=True, repeats=1)
    assert out.read_bytes() == before


def test_the_same_settings_resume(
    six: tuple[Path, Path], toolbox: Path, toolbox_url: str, model: tuple[ScriptedModel, str]
) -> None:
    tasks, out = six
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:4]) + "\n")
    summary = _collect(toolbox, tasks, out, model, toolbox_url, resume=True, repeats=3)
    assert summary.rows == 6 and summary.written == 2 and summary.skipped == 4
    record = json.loads(out.with_name("rollouts.run.json").read_text())
    assert record["repeats"] == 3 and record["model"] == MODEL and record["limit"] is None


def test_a_fresh_run_that_would_shrink_a_file_needs_force(
    six: tuple[Path, Path], toolbox: Path, toolbox_url: str, model: tuple[ScriptedModel, str]
) -> None:
    # The attack: `nox -s rollouts -- NAME --limit 1` cut a committed 6-row file to 1 row.
    tasks, out = six
    before = out.read_bytes()
    with pytest.raises(UserError) as info:
        _collect(toolbox, tasks, out, model, toolbox_url, limit=1)
    assert str(info.value) == f"{out} has 6 rows and this run plans 1: 5 rows would be lost"
    assert out.read_bytes() == before
    # The same plan or a bigger one replaces the file; --force allows a smaller one.
    assert _collect(toolbox, tasks, out, model, toolbox_url, repeats=3).rows == 6
    assert _collect(toolbox, tasks, out, model, toolbox_url, limit=1, force=True).rows == 1


def test_failures_fixed_by_a_resume_leave_the_failures_file(
    toolbox: Path, toolbox_url: str, model: tuple[ScriptedModel, str], tmp_path: Path
) -> None:
    # The attack: the failures file kept failures that a later resume fixed.
    tasks = write_tasks(
        tmp_path / "tasks.jsonl", [task("flaky 2", expected="unscripted"), task("answer 1", expected="1")]
    )
    out = tmp_path / "rollouts.jsonl"
    first = _collect(toolbox, tasks, out, model, toolbox_url, max_retries=0)
    assert first.rows == 1 and len(read_jsonl(first.failures_path)) == 1
    second = _collect(toolbox, tasks, out, model, toolbox_url, max_retries=0, resume=True)
    assert second.rows == 1 and len(read_jsonl(second.failures_path)) == 1  # failed again: the latest is kept
    third = _collect(toolbox, tasks, out, model, toolbox_url, max_retries=0, resume=True)
    assert third.complete and read_jsonl(third.failures_path) == []
