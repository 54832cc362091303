"""gymkit.smoke against real servers under uvicorn on 127.0.0.1: what passes, and how failures read."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gymkit.cli import app
from gymkit.errors import ServerLoadError
from gymkit.project import ServerPaths
from gymkit.smoke import main, smoke_test

from .builders import add_server, task_row, write_rows


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), start=1) if text in line)


def test_a_good_server_passes_every_check(tmp_path: Path) -> None:
    paths = ServerPaths(add_server(tmp_path, "exact"))
    lines: list[str] = []
    report = smoke_test(paths, progress=lines.append)
    assert report.ok, report.problems
    assert report.url.startswith("http://127.0.0.1:")
    assert report.passed == 1 + 1 + 5  # GET /, the echo tool, five rows
    assert "ok   POST /echo rejects an invalid body with 422" in lines
    # The server rewards the expected answer only: the smoke test really called verify.
    assert "ok   example.jsonl:3 verify: empty response -> reward 0, reply = expected_answer -> reward 1" in lines


def test_verify_that_raises_is_reported_per_row_with_the_line_of_app(tmp_path: Path) -> None:
    paths = ServerPaths(add_server(tmp_path, "raiser", verify_line="ratio = 1 / 0"))
    report = smoke_test(paths)
    line = line_of(paths.app, "ratio = 1 / 0")
    assert [(p.path, p.line) for p in report.problems] == [(paths.example, n) for n in range(1, 6)]
    assert report.problems[0].message == (
        f"/verify answered HTTP 500: /verify raised ZeroDivisionError: division by zero (at {paths.app}:{line})"
    )


def test_invalid_reward_and_a_failing_seed_session(tmp_path: Path) -> None:
    paths = ServerPaths(
        add_server(tmp_path, "greedy", verify_line="return BaseVerifyResponse(**body.model_dump(), reward=2.0)")
    )
    paths.app.write_text(
        paths.app.read_text()
        + "\n\nasync def _seed(self, body):\n    raise KeyError('seed')\n\n\nExactServer.seed_session = _seed\n"
    )
    report = smoke_test(paths)
    assert len(report.problems) == 5
    assert "/seed_session answered HTTP 500: /seed_session raised KeyError" in report.problems[0].message

    paths.app.write_text(paths.app.read_text().split("\n\nasync def _seed")[0])
    report = smoke_test(paths)
    assert len(report.problems) == 5
    assert "verify returned an invalid reward: reward must be in [0, 1], got 2.0" in report.problems[0].message


@pytest.mark.slow
def test_a_hanging_verify_stops_the_smoke_test_at_the_timeout(tmp_path: Path) -> None:
    paths = ServerPaths(add_server(tmp_path, "sleepy", verify_line="await asyncio.sleep(3)"))
    report = smoke_test(paths, timeout=0.5)
    (problem,) = report.problems
    assert problem.path == paths.app
    assert problem.message.startswith("POST /verify did not answer within 0.5 s; stopped here")


def test_bad_example_lines_are_named_and_not_sent(tmp_path: Path) -> None:
    rows = [task_row(0), "{oops", {"responses_create_params": {}}, task_row(3)]
    paths = ServerPaths(add_server(tmp_path, "sloppy", rows=rows))
    report = smoke_test(paths)
    assert [(p.line, p.message.split(";")[0]) for p in report.problems] == [
        (2, "not valid JSON"),
        (3, "responses_create_params.input: required field is missing"),
    ]
    assert report.passed == 1 + 1 + 2


def test_a_server_that_does_not_import_raises_a_user_error(tmp_path: Path) -> None:
    paths = ServerPaths(add_server(tmp_path, "broken"))
    paths.app.write_text("import not_a_module_anywhere\n")
    with pytest.raises(ServerLoadError, match=r"app.py:1: importing app.py failed: ModuleNotFoundError"):
        smoke_test(paths)


def test_main_runs_both_stages_and_says_which_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    good = add_server(tmp_path, "fine")
    assert main(["resources_servers/fine", "--data"]) == 0
    out = capsys.readouterr().out
    assert "smoke: passed in" in out and "data: passed in" in out

    write_rows(good / "data" / "example.jsonl", [task_row(i) for i in range(4)] + ["{oops"])
    assert main(["resources_servers/fine", "--data"]) == 3
    out = capsys.readouterr().out
    assert "FAIL resources_servers/fine/data/example.jsonl:5: not valid JSON; row not sent" in out
    assert "data: FAILED (2 problems)" in out
    assert "only 4 rows; add example tasks until there are at least 5" in out

    add_server(tmp_path, "dull", verify_line="raise RuntimeError('no')")
    assert main(["dull"]) == 1  # by name, from inside the gym tree; data not asked for

    (tmp_path / "resources_servers" / "dull" / "app.py").write_text("syntax error here\n")
    assert main(["dull", "--data"]) == 1  # the server does not load; its data is fine
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and "resources_servers/dull/app.py:1: syntax error" in captured.err
    assert "Traceback" not in captured.out + captured.err


def test_cli_commands_fail_with_one_line_and_no_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    add_server(tmp_path, "clean")
    runner = CliRunner()
    result = runner.invoke(app, ["smoke", "clean"])
    assert result.exit_code == 0, result.output
    assert "smoke ok: clean_resources_server, 7 checks" in result.output
    assert runner.invoke(app, ["validate-data", "clean"]).exit_code == 0

    add_server(tmp_path, "messy", rows=[task_row(0), task_row(0)], verify_line="raise ValueError('bad')")
    result = runner.invoke(app, ["validate-data", "messy"])
    assert result.exit_code == 1
    assert "resources_servers/messy/data/example.jsonl:2: same row as line 1" in result.output
    assert "error: resources_servers/messy/data: 2 problems in messy's data (listed above)" in result.output
    result = runner.invoke(app, ["smoke", "messy"])
    assert result.exit_code == 1
    assert "FAIL resources_servers/messy/data/example.jsonl:1: /verify answered HTTP 500" in result.output
    assert "error: smoke test of messy_resources_server (resources_servers/messy) failed: 2 problems" in result.output
    assert "Traceback" not in result.output
