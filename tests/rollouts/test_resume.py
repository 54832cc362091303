"""kill -9 a running collection at several points; --resume must end with every (task, repeat) once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import task, write_tasks
from .scripted import MODEL, scripted_model

TASKS = 20
REPEATS = 3


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _start(cmd: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def _collect(toolbox: Path, tasks: Path, out: Path, model: tuple[Any, str], url: str, *, resume: bool = True) -> Any:
    """The collection call every in-process test here makes: scripted model, running server."""
    from gymkit.rollouts import EndpointConfig, collect_rollouts

    return collect_rollouts(
        toolbox,
        tasks,
        out,
        resume=resume,
        endpoint=EndpointConfig((model[1],), model=MODEL),
        server_url=url,
        progress=False,
    )


@pytest.mark.slow
def test_sigkill_then_resume_ends_with_each_rollout_exactly_once(
    toolbox: Path, toolbox_url: str, tmp_path: Path
) -> None:
    rows: list[dict[str, Any]] = []
    for i in range(TASKS):
        rows.append(task("peek", expected=f"k{i}", secret=f"k{i}") if i % 2 else task(f"answer {i}", expected=str(i)))
    tasks = write_tasks(tmp_path / "tasks.jsonl", rows)
    out = tmp_path / "rollouts.jsonl"
    with scripted_model(delay=0.03) as (_, url):
        base = [sys.executable, "-m", "gymkit", "rollouts", str(toolbox), "--input", str(tasks), "--output", str(out)]
        base += ["--repeats", str(REPEATS), "--concurrency", "2", "--base-url", url, "--model", MODEL]
        base += ["--server-url", toolbox_url, "--quiet"]
        seen_partial_runs = []
        # Kill points: during start-up, after the first rows, mid-run, near the end.
        for attempt, kill_after_lines in enumerate((None, 1, 20, 45)):
            proc = _start(base + (["--resume"] if attempt else []))
            if kill_after_lines is None:
                time.sleep(0.3)
            else:
                deadline = time.monotonic() + 30
                while _lines(out) < kill_after_lines and proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.005)
            assert proc.poll() is None, f"run finished before the kill point: {proc.communicate()}"
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            seen_partial_runs.append(_lines(out))
        done = subprocess.run([*base, "--resume"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    # Each kill left progress behind that the next run kept (nothing lost along the way).
    assert seen_partial_runs[1] >= 1 and seen_partial_runs[-1] >= 45, seen_partial_runs
    data = out.read_bytes()
    assert data.endswith(b"\n")
    final = [json.loads(line) for line in data.splitlines()]
    keys = [(row["_ng_task_index"], row["_ng_rollout_index"]) for row in final]
    assert len(keys) == len(set(keys)) == TASKS * REPEATS
    assert sorted(keys) == [(t, r) for t in range(TASKS) for r in range(REPEATS)]
    assert all(row["reward"] == 1.0 for row in final)
    assert f"{TASKS * REPEATS}/{TASKS * REPEATS} rollouts" in done.stdout


def test_resume_cuts_a_half_written_last_line_and_drops_duplicates(
    toolbox: Path, toolbox_url: str, model: tuple[Any, str], tmp_path: Path
) -> None:
    tasks = write_tasks(tmp_path / "tasks.jsonl", [task(f"answer {i}", expected=str(i)) for i in range(3)])
    out = tmp_path / "rollouts.jsonl"
    good = {"_ng_task_index": 1, "_ng_rollout_index": 0, "reward": 1.0, "marker": "kept"}
    out.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n" + '{"_ng_task_index": 2, "rew')
    summary = _collect(toolbox, tasks, out, model, toolbox_url)
    final = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["_ng_task_index"] for row in final] == [0, 1, 2]
    assert final[1]["marker"] == "kept"
    assert summary.skipped == 1 and summary.written == 2 and len(model[0].requests) == 2


def test_resume_into_a_folder_that_does_not_exist_yet(
    toolbox: Path, toolbox_url: str, model: tuple[Any, str], tmp_path: Path
) -> None:
    tasks = write_tasks(tmp_path / "tasks.jsonl", [task("answer 1", expected="1")])
    out = tmp_path / "new" / "rollouts.jsonl"
    summary = _collect(toolbox, tasks, out, model, toolbox_url)
    assert summary.complete and len(out.read_text().splitlines()) == 1


@pytest.mark.parametrize("line", ["[1, 2]", '{"_ng_task_index": "first", "_ng_rollout_index": 0, "reward": 1}'])
def test_resume_names_the_line_that_is_not_a_rollout_row(
    line: str, toolbox: Path, toolbox_url: str, model: tuple[Any, str], tmp_path: Path
) -> None:
    from gymkit.errors import InvalidDataError

    tasks = write_tasks(tmp_path / "tasks.jsonl", [task("answer 1", expected="1")])
    out = tmp_path / "rollouts.jsonl"
    out.write_text('{"_ng_task_index": 0, "_ng_rollout_index": 0, "reward": 1}\n' + line + "\n")
    with pytest.raises(InvalidDataError) as info:
        _collect(toolbox, tasks, out, model, toolbox_url)
    assert info.value.line == 2


@pytest.mark.parametrize("resume", [False, True])
def test_an_output_that_cannot_be_written_is_one_error_naming_it(
    resume: bool, toolbox: Path, toolbox_url: str, model: tuple[Any, str], tmp_path: Path
) -> None:
    from gymkit.errors import UserError

    tasks = write_tasks(tmp_path / "tasks.jsonl", [task("answer 1", expected="1")])
    out = tmp_path / "taken"
    out.mkdir()
    with pytest.raises(UserError, match=f"^{out}: cannot write"):
        _collect(toolbox, tasks, out, model, toolbox_url, resume=resume)
    assert model[0].requests == []
