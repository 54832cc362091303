"""The watch on the programs a server starts, in a plain Python: what it logs and what it leaves alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gymkit.nemo.programs import ProgramWatch

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
subprocess.run(["true"], env={"PATH": "/nowhere"}, executable="/bin/true")
print(subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True).stdout.strip())
"""


def _run(tmp_path: Path, watch: ProgramWatch | None) -> str:
    site = tmp_path / "site-packages"
    site.mkdir(exist_ok=True)
    env = {**os.environ, **(watch.environment(site) if watch else {})}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(site)], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip()


def test_the_programs_a_process_could_not_start_are_logged_once_each(tmp_path: Path) -> None:
    watch = ProgramWatch()
    assert _run(tmp_path, watch) == "42"  # the processes it watches run as they would without it
    watch.collect()
    assert watch.missing == ["gymkit-absent-one", "/no/such/dir/tool", "gymkit-absent-two"]


def test_the_hook_left_in_the_environment_does_nothing_to_unwatched_runs(tmp_path: Path) -> None:
    watch = ProgramWatch()
    _run(tmp_path, watch)  # leaves the .pth in the environment, as a watched server start does
    watch.collect()
    assert (tmp_path / "site-packages" / "gymkit-program-watch.pth").is_file()
    assert _run(tmp_path, None) == "42"
