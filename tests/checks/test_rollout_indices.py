"""GYM402-404 on rollout indices: a duplicate or stray ``_ng_task_index``/``_ng_rollout_index``
fails GYM402 at its line, and GYM403/GYM404 do not run on rows whose grouping is wrong."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from gymkit.checks import CheckOptions, run_checks

from .conftest import build_server

Change = Callable[[list[dict]], None]


def _set(line: int, key: str, value: object) -> Change:
    def change(rows: list[dict]) -> None:
        rows[line - 1][key] = value

    return change


def _drop(line: int, key: str) -> Change:
    def change(rows: list[dict]) -> None:
        del rows[line - 1][key]

    return change


def _copy_indices(source: int, target: int) -> Change:
    def change(rows: list[dict]) -> None:
        for key in ("_ng_task_index", "_ng_rollout_index"):
            rows[target - 1][key] = rows[source - 1][key]

    return change


CASES: dict[str, tuple[Change, int, str]] = {
    "duplicate pair": (_copy_indices(1, 4), 4, "repeats line 1"),
    "task index missing": (_drop(2, "_ng_task_index"), 2, "_ng_task_index is missing"),
    "rollout index missing": (_drop(3, "_ng_rollout_index"), 3, "_ng_rollout_index is missing"),
    "float task index": (_set(2, "_ng_task_index", 1.0), 2, "_ng_task_index must be an integer, got 1.0"),
    "string rollout index": (_set(2, "_ng_rollout_index", "0"), 2, "must be an integer, got '0'"),
    "bool task index": (_set(5, "_ng_task_index", True), 5, "_ng_task_index must be an integer, got True"),
    "negative rollout index": (_set(1, "_ng_rollout_index", -1), 1, "_ng_rollout_index must be 0 or more"),
    "task index past the examples": (_set(5, "_ng_task_index", 5), 5, "there are 5 task rows (0 to 4)"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_indices_fail_gym402_and_stop_gym403_and_gym404(tmp_path: Path, case: str) -> None:
    change, line, message = CASES[case]
    server = build_server(tmp_path)
    path = server / "data" / "example_rollouts.jsonl"
    rows = [json.loads(text) for text in path.read_text().splitlines()]
    change(rows)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))

    report = run_checks(server, options=CheckOptions(verify_timeout=5), select=["GYM402", "GYM403", "GYM404"])
    by_code = {code: [f for f in report.findings if f.code == code] for code in ("GYM402", "GYM403", "GYM404")}
    failed = [f for f in by_code["GYM402"] if f.status == "fail"]
    assert [(f.file, f.line) for f in failed] == [("data/example_rollouts.jsonl", line)], failed
    assert message in failed[0].message
    # Re-verifying or matching rows that are grouped wrongly would only report noise.
    assert all(f.status == "skip" for f in by_code["GYM403"] + by_code["GYM404"]), by_code


def test_files_without_any_indices_still_pass_gym402(tmp_path: Path) -> None:
    # Older upstream rollouts carry no indices at all; they are grouped by prompt instead.
    server = build_server(tmp_path)
    path = server / "data" / "example_rollouts.jsonl"
    rows = [json.loads(text) for text in path.read_text().splitlines()]
    for row in rows:
        del row["_ng_task_index"], row["_ng_rollout_index"]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    report = run_checks(server, options=CheckOptions(reverify=False), select=["GYM402"])
    assert [f.status for f in report.findings if f.code == "GYM402"] == ["pass"]


def test_a_fifo_for_the_rollouts_is_named_by_gym402_not_called_missing(tmp_path: Path) -> None:
    server = build_server(tmp_path)
    path = server / "data" / "example_rollouts.jsonl"
    path.unlink()
    os.mkfifo(path)
    report = run_checks(server, options=CheckOptions(reverify=False), select=["GYM401", "GYM402"])
    statuses = {f.code: f.status for f in report.findings}
    assert statuses == {"GYM401": "pass", "GYM402": "fail"}
    assert any("not a regular file (a FIFO)" in f.message for f in report.findings if f.code == "GYM402")
