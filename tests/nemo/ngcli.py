"""NeMo Gym's own command line (ng_run, ng_collect_rollouts, ng_test) in the nemo-gym environment the tests build.

That environment holds the checkout on a ``.pth``, not as an installed distribution, so it has
no console scripts; each command runs as its console script would, through upstream's legacy
entry, which picks the command by the script's name. ng_run builds a uv venv per server and
needs ``uv`` and the Python it pins (the one its own process runs on) on ``PATH``; nothing is
downloaded (``UV_PYTHON_DOWNLOADS=never``). Every server's output goes to a log per server
(``+nemo_gym_log_dir``), which a failure quotes: upstream's agent answers HTTP 500 without
saying why, and the reason is only in the log of the server behind it.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from gymkit.childproc import ChildProcess
from gymkit.nemo.launch import free_port
from gymkit.testing.environment import Environment, find_uv

_ENTRY = "import sys; from nemo_gym.cli.legacy import main; sys.argv[0] = sys.argv.pop(1); main()"
_READY = re.compile(r"All (\d+) / \1 servers ready")
# Cold, ng_run builds three ~600 MB venvs one after another's resolution on a busy 2-core machine.
RUN_TIMEOUT = 1500.0
COMMAND_TIMEOUT = 900.0


@dataclass
class NemoCli:
    """How to run upstream's commands for one gym folder: its Python, environment variables and logs."""

    runtime: Environment
    base_python: str
    gym: Path
    logs: Path
    venvs: Path
    head: list[str] = field(default_factory=list)
    process: ChildProcess | None = None  # ng_run, while serving() runs

    def env(self) -> dict[str, str]:
        tools = self.logs.parent / "ng-bin"
        tools.mkdir(parents=True, exist_ok=True)
        uv = find_uv()
        assert uv, "uv is needed on PATH for ng_run (the dev extra installs it)"
        for name, target in (("uv", uv), ("python3.12", self.base_python)):
            link = tools / name
            if not link.exists():
                link.symlink_to(target)
        variables = self.runtime.variables(
            UV_PYTHON_DOWNLOADS="never",
            NO_COLOR="1",
            PYTHONUNBUFFERED="1",
            RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0",
            RAY_USAGE_STATS_ENABLED="0",
            # The raylet gives Ray's dashboard agent 15 s to start by default; on a busy shared
            # machine it takes longer, and the raylet then aborts the whole cluster.
            RAY_agent_register_timeout_ms="300000",
            RAY_raylet_start_wait_time_s="300",  # the same for the raylet's own registration
        )
        variables["PATH"] = f"{tools}:{variables['PATH']}"
        return variables

    def argv(self, command: str, *overrides: str) -> list[str]:
        return [str(self.runtime.python), "-c", _ENTRY, command, *overrides, *self.head]

    def log_tails(self, lines: int = 40) -> str:
        """The end of every server's log, for a failure message."""
        parts = []
        for log in sorted(self.logs.glob("*.log")):
            kept = [line for line in log.read_text(errors="replace").splitlines() if "  + " not in line]
            parts.append(f"--- {log.name}\n" + "\n".join(kept[-lines:]))
        return "\n".join(parts) or "(no server logs)"

    def run(self, command: str, *overrides: str, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(command, *overrides),
            cwd=self.gym,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    @contextmanager
    def serving(self, configs: list[Path], *overrides: str) -> Iterator[NemoCli]:
        """ng_run over ``configs`` until the block ends; its head server's address goes to later commands."""
        self.logs.mkdir(parents=True, exist_ok=True)
        self.head = ["+head_server.host=127.0.0.1", f"+head_server.port={free_port()}"]
        argv = self.argv(
            "ng_run",
            f"+config_paths=[{','.join(str(c) for c in configs)}]",
            f"+uv_venv_dir={self.venvs}",
            f"+nemo_gym_log_dir={self.logs}",
            "+skip_venv_if_present=true",
            *overrides,
        )
        # Short and under /tmp: Ray's socket paths must fit in 107 bytes, and pytest's tmp_path is longer.
        ray_tmp = tempfile.mkdtemp(prefix="gymkit-ray-", dir="/tmp")
        env = self.env() | {"RAY_TMPDIR": ray_tmp}
        proc = ChildProcess(argv, ready=_READY, timeout=RUN_TIMEOUT, env=env, cwd=self.gym, grace=15)
        try:
            proc.launch()
            if proc.wait_ready() is None:
                stderr = proc.stop()
                raise AssertionError(f"ng_run did not get its servers up:\n{stderr[-3000:]}\n{self.log_tails()}")
            self.process = proc
            yield self
        finally:
            self.process = None
            proc.stop()
            shutil.rmtree(ray_tmp, ignore_errors=True)


def serving_process(server_dir: Path) -> int:
    """The pid of the ``python app.py`` running in ``server_dir`` (ng_run starts each server there)."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            here = entry.name.isdigit() and (entry / "cwd").resolve() == server_dir.resolve()
            if here and b"app.py" in (entry / "cmdline").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    assert len(found) == 1, f"expected one server process in {server_dir}, found {found}"
    return found[0]


def parent_of(pid: int) -> int:
    # /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after its ')'.
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def gone_within(pid: int, seconds: float) -> bool:
    """Has ``pid`` ended (a zombie counts as ended) within ``seconds``?"""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z":
                return True
        except OSError:
            return True
        time.sleep(0.2)
    return False


def failure(done: subprocess.CompletedProcess[str], cli: NemoCli) -> str:
    """What a failed command printed, then what the servers behind it logged."""
    return f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}\n{cli.log_tails()}"
