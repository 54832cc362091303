"""Kill ``gymkit rollouts`` and ``gymkit check`` at random moments: nothing they started may outlive them.

Each run gets a marker in its environment, which every process it starts inherits; after each
kill, /proc must hold no process with that marker once the supervisors' grace period is over.
Then ``gymkit rollouts --resume`` with the same settings must end with every (task, repeat) once.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from gymkit.project import ServerPaths, load_server
from gymkit.runtime.serving import serving_in_thread

from .rollouts.conftest import TOOLBOX, task, write_tasks
from .rollouts.scripted import MODEL, scripted_model

pytestmark = pytest.mark.slow

TASKS = 40
REPEATS = 2
KILLS_EACH = 10
# Signals in turn: the two the attack used, and Ctrl-C's.
SIGNALS = (signal.SIGTERM, signal.SIGKILL, signal.SIGINT)
# The supervisor gives a server 5 s to stop after SIGTERM before SIGKILL; then some slack.
CLEAR_WITHIN = 9.0
MARK = "GYMKIT_KILL_TEST"


def _theirs(marker: str) -> list[tuple[int, str]]:
    """Processes alive (not zombies) whose environment carries ``marker``."""
    found = []
    needle = f"{MARK}={marker}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in environ.split(b"\0") and stat.rpartition(")")[2].split()[0] != "Z":
            found.append((int(entry), cmdline.strip()))
    return found


def _serving(marker: str) -> bool:
    return any(" -m gymkit serve " in cmd for _, cmd in _theirs(marker))


def _now(marker: str) -> bool:
    return True


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


class _Kills:
    """Start a command, kill it at a moment ``when`` picks, and check what it leaves behind."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.kills = 0
        self.finished_first = 0
        self.clear_times: dict[str, float] = {}  # by signal: longest time from the parent's exit to none left
        self.moments: dict[str, int] = {}

    def run(self, cmd: list[str], cwd: Path, sig: signal.Signals, moment: str, ready: Any) -> None:
        marker = uuid.uuid4().hex
        env = {**os.environ, MARK: marker, "NO_COLOR": "1"}
        log = cwd / f"stderr-{marker}.txt"
        with log.open("wb") as stderr:
            proc = subprocess.Popen(
                cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True
            )
        try:
            deadline = time.monotonic() + 30
            while proc.poll() is None and not ready(marker) and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(self.rng.uniform(0.0, 0.3))
            if proc.poll() is not None:
                self.finished_first += 1
                return
            proc.send_signal(sig)  # the process only, as kill(1) does: its children are in other sessions
            self.kills += 1
            self.moments[moment] = self.moments.get(moment, 0) + 1
            proc.wait(timeout=30)
            killed_at = time.monotonic()
            left = _theirs(marker)
            while left and time.monotonic() - killed_at < CLEAR_WITHIN:
                time.sleep(0.05)
                left = _theirs(marker)
            assert not left, f"{sig.name} at {moment} left {left}; stderr: {log.read_text()[-2000:]}"
            took = time.monotonic() - killed_at
            self.clear_times[sig.name] = max(self.clear_times.get(sig.name, 0.0), took)
        finally:
            # A failed assertion must not leave processes either. Only a live process's group:
            # once reaped, its group id may belong to someone else.
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            for pid, _ in _theirs(marker):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            proc.wait()
            log.unlink()


def _kill_many(cmd: list[str], cwd: Path, moment: Any, rng: random.Random, first_signal: int) -> _Kills:
    """Start and kill ``cmd`` until KILLS_EACH kills landed, signals in turn; bounded attempts."""
    kills = _Kills(rng)
    for _ in range(2 * KILLS_EACH):
        if kills.kills == KILLS_EACH:
            break
        name, ready = moment(rng)
        kills.run(cmd, cwd, SIGNALS[(kills.kills + first_signal) % len(SIGNALS)], f"{cmd[3]}/{name}", ready)
    assert kills.kills == KILLS_EACH, f"{cmd[3]}: too many runs ended before their kill ({kills.finished_first})"
    return kills


@pytest.fixture
def model() -> Iterator[str]:
    # A little latency per answer, so a collection is still running when the kill comes.
    with scripted_model(delay=0.03) as (_, url):
        yield url


def _server(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name / "resources_servers" / "toolbox"
    shutil.copytree(TOOLBOX, target)
    return target


def test_killed_commands_leave_no_process_and_resume_is_exact(tmp_path: Path, model: str) -> None:
    seed = random.randrange(1 << 30)

    # gymkit rollouts, starting its own server; every run resumes the same file with the same settings.
    toolbox = _server(tmp_path, "rollouts")
    rows = [
        task("peek", expected=f"k{i}", secret=f"k{i}") if i % 2 else task(f"answer {i}", expected=str(i))
        for i in range(TASKS)
    ]
    tasks = write_tasks(tmp_path / "tasks.jsonl", rows)
    out = tmp_path / "out" / "rollouts.jsonl"
    rollouts = [sys.executable, "-m", "gymkit", "rollouts", str(toolbox), "--input", str(tasks), "--output", str(out)]
    rollouts += ["--repeats", str(REPEATS), "--concurrency", "2", "--base-url", model, "--model", MODEL, "--quiet"]
    rollouts += ["--resume"]

    # gymkit check, re-verifying example rollouts through a server it starts.
    checked = _server(tmp_path, "check")
    from gymkit.rollouts import EndpointConfig, collect_rollouts

    with serving_in_thread(load_server(ServerPaths(checked)).app) as url:
        collect_rollouts(
            checked,
            checked / "data" / "example.jsonl",
            checked / "data" / "example_rollouts.jsonl",
            endpoint=EndpointConfig((model,), model=MODEL),
            server_url=url,
            progress=False,
        )
    check = [sys.executable, "-m", "gymkit", "check", str(checked), "--select", "GYM4"]

    def rollouts_moment(rng: random.Random) -> tuple[str, Any]:
        # While starting up, once the server runs, once new rows are being written.
        moment = rng.choice(["start", "server", "rows"])
        before, n = _lines(out), rng.randint(1, 4)
        return moment, {"start": _now, "server": _serving, "rows": lambda marker: _lines(out) >= before + n}[moment]

    def check_moment(rng: random.Random) -> tuple[str, Any]:
        moment = rng.choice(["start", "server"])
        return moment, {"start": _now, "server": _serving}[moment]

    started = time.monotonic()
    # The two commands are killed side by side: half the wall time, and a busier machine.
    with ThreadPoolExecutor(2) as pool:
        runs = [
            pool.submit(_kill_many, rollouts, tmp_path, rollouts_moment, random.Random(seed), 0),
            pool.submit(_kill_many, check, checked.parent.parent, check_moment, random.Random(seed + 1), 1),
        ]
        rollouts_kills, check_kills = (run.result() for run in runs)
    killing = time.monotonic() - started
    kills = [rollouts_kills, check_kills]

    kept = _lines(out)
    resumed = time.monotonic()
    done = subprocess.run(rollouts, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    final = [json.loads(line) for line in out.read_text().splitlines()]
    keys = [(row["_ng_task_index"], row["_ng_rollout_index"]) for row in final]
    assert keys == [(t, r) for t in range(TASKS) for r in range(REPEATS)]
    assert all(row["reward"] == 1.0 for row in final)
    assert not [p.name for p in out.parent.iterdir() if ".gymkit-tmp-" in p.name]
    for name, done_kills in zip(("rollouts", "check"), kills, strict=True):
        print(
            f"\n{name}: {done_kills.kills} kills {done_kills.moments}, {done_kills.finished_first} runs ended first, "
            f"0 survivors; all gone, after the parent, within (s) "
            f"{ {name: round(took, 2) for name, took in done_kills.clear_times.items()} }"
        )
    resume_took = time.monotonic() - resumed
    print(f"seed {seed}: {killing:.1f} s of kills; resume kept {kept} lines, took {resume_took:.1f} s: {len(final)}")
