"""gymkit.validation: every bad line is named, with what to do, and the list stays short."""

from __future__ import annotations

from pathlib import Path

import pytest

from gymkit.project import ServerPaths
from gymkit.validation import DataProblem, example_problems, rollout_problems, server_data_problems

from ..conftest import UPSTREAM
from .builders import task_row, write_rows

PLACEHOLDER = "<PLACEHOLDER ROW>"


def rollout(reward: object, index: int = 0) -> dict[str, object]:
    row = task_row(index)
    response = {"id": "r", "output": []}
    return {**row, "response": response, "reward": reward, "_ng_task_index": index, "_ng_rollout_index": 0}


INDICES = {"_ng_task_index": 1, "_ng_rollout_index": 0}


def lines_of(problems: list[DataProblem]) -> list[int | None]:
    return [p.line for p in problems]


def test_problem_reads_as_path_line_message(tmp_path: Path) -> None:
    assert str(DataProblem(tmp_path / "a.jsonl", 3, "bad")) == f"{tmp_path}/a.jsonl:3: bad"
    assert str(DataProblem(tmp_path / "a.jsonl", None, "bad")) == f"{tmp_path}/a.jsonl: bad"


def test_good_examples_have_no_problems(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "example.jsonl", [task_row(i) for i in range(5)])
    assert example_problems(path) == []


def test_every_bad_line_is_reported_not_only_the_first(tmp_path: Path) -> None:
    rows = [
        task_row(0),
        "{not json",
        {"responses_create_params": {"input": "hi", "max_tokens": 5}},  # a Chat Completions key
        [1, 2],
        {"question": "no responses_create_params"},
        *[task_row(i) for i in range(5, 10)],
    ]
    problems = example_problems(write_rows(tmp_path / "example.jsonl", rows))
    assert lines_of(problems) == [2, 3, 4, 5]
    by_line = {p.line: p.message for p in problems}
    assert by_line[2].startswith("not valid JSON")
    assert "responses_create_params.max_tokens: unknown key" in by_line[3]
    assert "expected a JSON object, got list" in by_line[4]
    assert "responses_create_params: required field is missing" in by_line[5]
    # Each message also says what to do.
    assert by_line[2].endswith("write one JSON object per line")
    assert all("a task row is {" in by_line[n] for n in (3, 5))


def test_duplicates_name_both_lines(tmp_path: Path) -> None:
    rows = [task_row(0), task_row(1), task_row(2), task_row(1), task_row(3), task_row(4)]
    problems = example_problems(write_rows(tmp_path / "example.jsonl", rows))
    assert [str(p).removeprefix(str(tmp_path) + "/") for p in problems] == [
        "example.jsonl:4: same row as line 2; make every example a different task or delete it"
    ]


def test_key_order_does_not_hide_a_duplicate(tmp_path: Path) -> None:
    row = task_row(1)
    reordered = dict(reversed(list(row.items())))
    rows = [task_row(0), row, task_row(2), task_row(3), reordered]
    assert lines_of(example_problems(write_rows(tmp_path / "example.jsonl", rows))) == [5]


@pytest.mark.parametrize(("count", "expected"), [(0, "no rows"), (1, "only 1 row;"), (3, "only 3 rows;")])
def test_too_few_rows(tmp_path: Path, count: int, expected: str) -> None:
    path = write_rows(tmp_path / "example.jsonl", [task_row(i) for i in range(count)])
    problems = example_problems(path)
    assert len(problems) == 1 and problems[0].line is None
    assert expected in problems[0].message and "at least 5" in problems[0].message
    # With the bar at the row count the file passes; an empty file never does.
    relaxed = example_problems(path, min_rows=max(count, 1))
    if count:
        assert relaxed == []
    else:
        assert relaxed == [DataProblem(path, None, "no rows; add example tasks until there are at least 1")]


def test_missing_file_says_what_to_add(tmp_path: Path) -> None:
    (problem,) = example_problems(tmp_path / "data" / "example.jsonl")
    assert problem.line is None and "file not found" in problem.message and "at least 5" in problem.message


def test_problems_are_capped_with_a_count_of_the_rest(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "example.jsonl", ["nope"] * 50)
    problems = example_problems(path, limit=20)
    assert lines_of(problems[:20]) == list(range(1, 21))
    assert problems[20].line is None and problems[20].message.startswith("30 more problems not shown")
    assert "no rows" in problems[21].message


def test_upstream_rollouts_load(tmp_path: Path) -> None:
    for name in ("mcqa", "example_single_tool_call"):
        assert rollout_problems(UPSTREAM / name / "example_rollouts.jsonl") == []


def test_upstream_negative_rewards_are_refused_by_line() -> None:
    problems = rollout_problems(UPSTREAM / "blackjack" / "example_rollouts.jsonl")
    assert problems and all("reward must be in [0, 1], got -1" in p.message for p in problems)
    assert all(p.line is not None for p in problems)


def test_placeholder_rollout_file_is_refused_line_by_line(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "resources_servers" / "quiz" / "data" / "example_rollouts.jsonl", [PLACEHOLDER] * 5)
    problems = rollout_problems(path)
    assert lines_of(problems)[:5] == [1, 2, 3, 4, 5]
    assert "placeholder line, not a row" in problems[0].message
    assert "gymkit rollouts quiz" in problems[0].message
    assert problems[-1].message.startswith("no rollouts in the file")


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            {"responses_create_params": {"input": "x"}, "response": {"output": []}, **INDICES},
            "no reward",
        ),
        (rollout(1.5), "reward must be in [0, 1], got 1.5"),
        (rollout(-0.1), "reward must be in [0, 1], got -0.1"),
        (rollout(True), "reward must be a number, got bool"),
        (rollout("1"), "reward must be a number, got str"),
        (rollout(float("nan")), "NaN and Infinity are not JSON"),
        (rollout(float("inf")), "NaN and Infinity are not JSON"),
        ({**rollout(1.0), "response": "text"}, "response"),
    ],
)
def test_bad_rollouts(tmp_path: Path, row: dict[str, object], expected: str) -> None:
    path = write_rows(tmp_path / "example_rollouts.jsonl", [rollout(0.0, 3), row, rollout(1.0, 2)])
    problems = rollout_problems(path)
    assert lines_of(problems) == [2], problems
    assert expected in problems[0].message


def test_server_data_checks_rollouts_only_when_present(tmp_path: Path) -> None:
    paths = ServerPaths(tmp_path / "quiz")
    write_rows(paths.example, [task_row(i) for i in range(5)])
    assert server_data_problems(paths) == []
    write_rows(paths.example_rollouts, [rollout(0.5), rollout(7, 1)])
    assert [(p.path.name, p.line) for p in server_data_problems(paths)] == [("example_rollouts.jsonl", 2)]
