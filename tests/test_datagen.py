"""A dataset generator's command line: writes each split, and --check names a file that drifted."""

from __future__ import annotations

from pathlib import Path

import pytest

from gymkit.datagen import generator_main


def build() -> dict[str, list[dict[str, object]]]:
    return {"train": [{"q": "2+2", "a": 4}, {"q": "café", "a": 1}], "example": [{"q": "1+1", "a": 2}]}


def test_writes_every_split_then_check_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "generate_data.py"
    assert generator_main(build, script, "Arithmetic rows.\n\nMore.", []) == 0
    assert (tmp_path / "data" / "train.jsonl").read_text(encoding="utf-8") == (
        '{"a": 4, "q": "2+2"}\n{"a": 1, "q": "café"}\n'
    )
    assert "wrote 1 rows to" in capsys.readouterr().out
    assert generator_main(build, script, None, ["--check"]) == 0


def test_check_names_the_file_that_differs_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "generate_data.py"
    generator_main(build, script, None, [])
    example = tmp_path / "data" / "example.jsonl"
    example.write_text('{"a": 3, "q": "1+1"}\n')
    assert generator_main(build, script, None, ["--check"]) == 1
    err = capsys.readouterr().err
    assert f"{example}: differs from the generator's output; run: python generate_data.py" in err
    assert example.read_text() == '{"a": 3, "q": "1+1"}\n'


def test_check_reports_a_missing_file(tmp_path: Path) -> None:
    assert generator_main(build, tmp_path / "generate_data.py", None, ["--check", "--out", str(tmp_path / "x")]) == 1


def test_an_unwritable_folder_is_one_line_not_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "data").write_text("a file where the data folder should be")
    assert generator_main(build, tmp_path / "generate_data.py", None, []) == 1
    assert capsys.readouterr().err.startswith(f"{tmp_path / 'data' / 'train.jsonl'}: cannot write: ")
