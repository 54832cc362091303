"""Atomic writes: whole files only, with the permissions any file the user writes would have."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gymkit.errors import CannotWriteError, UserError
from gymkit.jsonl import atomic_write_jsonl, atomic_write_text, read_rows


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_gets_the_umask_mode_not_a_private_one(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "rows.jsonl"
    atomic_write_jsonl(path, [{"a": 1}, {"b": [2]}])
    assert read_rows(path) == [{"a": 1}, {"b": [2]}]
    umask = os.umask(0)
    os.umask(umask)
    assert _mode(path) == 0o666 & ~umask


def test_replacing_a_file_keeps_its_mode_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("old\n")
    path.chmod(0o640)
    atomic_write_text(path, "new\n")
    assert path.read_text() == "new\n" and _mode(path) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    atomic_write_text(path, '{"kept": true}\n')
    with pytest.raises(TypeError):
        atomic_write_jsonl(path, [{"a": 1}, {"bad": object()}])
    assert read_rows(path) == [{"kept": True}]
    assert [p.name for p in tmp_path.iterdir()] == ["rows.jsonl"]


def test_an_unwritable_path_is_one_error_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(CannotWriteError) as info:
        atomic_write_text(blocker / "rows.jsonl", "x\n")
    # A user error for the CLI's one-line report, and still an OSError for callers that catch one.
    assert isinstance(info.value, UserError) and isinstance(info.value, OSError)
    assert str(info.value).startswith(f"{blocker / 'rows.jsonl'}: cannot write: ")
    assert info.value.filename == str(blocker / "rows.jsonl") and info.value.strerror
