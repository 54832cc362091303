"""Atomic writes: whole files only, with the permissions any file the user writes would have."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gymkit import jsonl
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


_HANGING_WRITER = """
import os, sys, time
from pathlib import Path
from gymkit import jsonl

def hang(fd):
    print("writing", flush=True)
    time.sleep(120)

jsonl.os.fsync = hang  # stop between writing the temporary file and renaming it
jsonl.atomic_write_text(Path(sys.argv[1]), "from the writer\\n")
"""


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".gymkit-tmp-" in p.name)


def _start_hanging_writer(target: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", _HANGING_WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "writing\n"
    return proc


def test_the_next_write_removes_what_a_killed_writer_left(tmp_path: Path) -> None:
    target = tmp_path / "rows.jsonl"
    target.write_text("old\n")
    writer = _start_hanging_writer(target)
    try:
        (left,) = _temporaries(tmp_path)
        assert left.startswith(".rows.jsonl.gymkit-tmp-") and f"-{writer.pid}-" in left
        # The writer is alive: its temporary file is a write in flight, not a leftover.
        atomic_write_text(target, "while it writes\n")
        assert _temporaries(tmp_path) == [left]
    finally:
        writer.kill()
        writer.wait()
        assert writer.stdout is not None
        writer.stdout.close()
    atomic_write_text(target, "after\n")
    assert _temporaries(tmp_path) == [] and target.read_text() == "after\n"


def test_a_live_writers_temporary_goes_once_it_is_stale(tmp_path: Path) -> None:
    target = tmp_path / "rows.jsonl"
    writer = _start_hanging_writer(target)
    try:
        (left,) = _temporaries(tmp_path)
        # The pid may be reused, or the file may be another machine's: age decides then.
        old = time.time() - jsonl.STALE_AFTER - 5
        os.utime(tmp_path / left, (old, old))
        atomic_write_text(target, "x\n")
        assert _temporaries(tmp_path) == []
    finally:
        writer.kill()
        writer.wait()
        assert writer.stdout is not None
        writer.stdout.close()


def test_only_the_targets_own_stale_temporaries_are_removed(tmp_path: Path) -> None:
    old = time.time() - jsonl.STALE_AFTER - 5
    names = {
        ".rows.jsonl.ab12cd_9.tmp": True,  # what earlier versions left: removed by age
        ".other.jsonl.gymkit-tmp-000000-1-abcdefgh": False,  # another target's
        ".rows.jsonl.gymkit-tmp-000000-1-abcdefgh": True,  # another host's, stale
        "rows.jsonl.notes": False,  # the user's own file
    }
    for name in names:
        (tmp_path / name).write_text("x")
        os.utime(tmp_path / name, (old, old))
    fresh = tmp_path / ".rows.jsonl.zz12cd_9.tmp"
    fresh.write_text("x")  # recent, and nothing says whose: kept
    atomic_write_text(tmp_path / "rows.jsonl", "x\n")
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {"rows.jsonl", fresh.name} | {name for name, removed in names.items() if not removed}
