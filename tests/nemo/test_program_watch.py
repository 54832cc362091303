"""The watch on the programs a server starts, in a plain Python: what it logs and what it leaves alone."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gymkit.nemo.programs import ProgramWatch, named_in_code

SCRIPT = """
import asyncio, os, site, subprocess, sys
site.addsitedir(sys.argv[1])  # as site does for the environment's site-packages at start
for argv in (["gymkit-absent-one", "x"], ["true"], ["/no/such/dir/tool"], ["gymkit-absent-one"]):
    try:
        subprocess.run(argv, check=False)
    except OSError:
        pass
async def spawn():
    try:
        await asyncio.create_subprocess_exec("gymkit-absent-two")
    except OSError:
        pass
asyncio.run(spawn())
class CLoop(asyncio.SelectorEventLoop):
    async def subprocess_exec(self, protocol_factory, program, *args, **kwargs):
        # As uvloop's does: the spawn is the loop's own, with no Popen and so no audit event.
        raise FileNotFoundError(2, "No such file or directory")
async def spawn_in_c():
    try:
        await asyncio.create_subprocess_exec("gymkit-absent-three", "x")
    except OSError:
        pass
async def argv0_only():
    # argv[0] is only a name where `executable` says what runs.
    done = await asyncio.create_subprocess_exec("gymkit-argv0-only", "-c", "pass", executable=sys.executable)
    await done.wait()
asyncio.run(argv0_only())
loop = CLoop()
loop.run_until_complete(spawn_in_c())
loop.close()
subprocess.run(["true"], env={"PATH": "/nowhere"}, executable="/bin/true")
work = sys.argv[2]
subprocess.run(["./run.sh"], cwd=work, check=True)  # a path relative to the folder it starts in: there
print(subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True).stdout.strip())
"""


def _run(tmp_path: Path, watch: ProgramWatch | None) -> str:
    site = tmp_path / "site-packages"
    site.mkdir(exist_ok=True)
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    (work / "run.sh").write_text("#!/bin/sh\nexit 0\n")
    (work / "run.sh").chmod(0o755)
    env = {**os.environ, **(watch.environment(site) if watch else {})}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(site), str(work)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_the_programs_a_process_could_not_start_are_logged_once_each(tmp_path: Path) -> None:
    watch = ProgramWatch()
    assert _run(tmp_path, watch) == "42"  # the processes it watches run as they would without it
    watch.collect()
    assert watch.missing == ["gymkit-absent-one", "/no/such/dir/tool", "gymkit-absent-two", "gymkit-absent-three"]


def test_the_hook_left_in_the_environment_does_nothing_to_unwatched_runs(tmp_path: Path) -> None:
    watch = ProgramWatch()
    _run(tmp_path, watch)  # leaves the .pth in the environment, as a watched server start does
    watch.collect()
    assert (tmp_path / "site-packages" / "gymkit-program-watch.pth").is_file()
    assert _run(tmp_path, None) == "42"


def test_servers_starting_at_once_in_one_environment_are_all_watched(tmp_path: Path) -> None:
    # `gymkit check -j` starts servers from threads of one process, and most share one environment.
    site = tmp_path / "site-packages"
    site.mkdir()
    for _ in range(20):
        (site / "gymkit-program-watch.pth").unlink(missing_ok=True)
        watches = [ProgramWatch() for _ in range(4)]
        with ThreadPoolExecutor(4) as pool:
            given = list(pool.map(lambda w: w.environment(site), watches))
        assert all(given), given
        for watch in watches:
            watch.collect()
    assert [p.name for p in site.iterdir()] == ["gymkit-program-watch.pth"]  # no staged file left


def test_only_programs_the_servers_own_code_names_count(tmp_path: Path) -> None:
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "sandbox.py").write_text('cmd = ["singularity", "exec"]\nTOOL = "/opt/bin/grader"\n')
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "lib.py").write_text('probe = "ld"\n')  # an installed library's probe, not the server's
    tried = ["ld", "singularity", "file", "/opt/bin/grader"]
    assert named_in_code(tmp_path, tried) == ["singularity", "/opt/bin/grader"]


@pytest.mark.parametrize(
    ("message", "named"),
    [
        ("FileNotFoundError: [Errno 2] No such file or directory: 'ld'", True),
        ("ModuleNotFoundError: No module named 'build_utils'; could not build", False),
    ],
)
def test_a_start_failure_names_a_program_only_as_a_word_of_its_own(message: str, named: bool) -> None:
    from gymkit.checks.elsewhere import _names

    assert _names(message, "ld") is named
