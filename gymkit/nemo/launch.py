"""Starting one upstream (nemo_gym) resources server the way ``ng_run`` starts it, and nothing else.

``ng_run`` also starts a head server (a config-dictionary service for its CLI tools), a Ray
cluster in its own process, and every agent and model server the config names. One resources
server needs none of them: it reads its configuration from its environment, and calls the
head server only if it asks for the whole configuration over HTTP, which servers do not.
What it cannot do without is Ray: ``run_webserver`` initialises Ray before serving, joining the
cluster named in the configuration or else starting a local one. There is no cluster to join
here, so the server starts its own, as it does when run alone; gymkit keeps it on loopback
(``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``: a single-node, local-only Ray), puts its session files
in a temporary folder it removes afterwards, and turns off Ray's usage reporting.
"""

from __future__ import annotations

import re
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from gymkit.childproc import ChildProcess
from gymkit.errors import ServerLoadError
from gymkit.needs import need_shown
from gymkit.nemo.config import server_entry, single_server_config
from gymkit.nemo.detect import nemo_checkout
from gymkit.nemo.environment import prepare_nemo_environment
from gymkit.nemo.programs import ProgramWatch
from gymkit.nemo.ray_logs import unschedulable
from gymkit.testing.environment import Environment, find_uv

__all__ = ["DEFAULT_TIMEOUT", "UpstreamServer", "free_port"]

# Importing nemo_gym and starting Ray take 15-40 s on a busy 2-core machine.
DEFAULT_TIMEOUT = 180.0
_NEVER = re.compile(r"(?!)")  # readiness is asked over HTTP, not read from the log
# One Ray start at a time in this process: two or three at once on two cores (`gymkit check -j`,
# a check's audit beside its re-verification) each took long enough to time out. The clock of a
# start waiting here has not begun: it starts at launch.
_STARTING = threading.Lock()


def free_port(host: str = "127.0.0.1") -> int:
    # The server binds the port itself (from its config), so it can only be chosen here and
    # handed over; a port taken meanwhile makes the start fail, and the caller may retry.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# The line Python's traceback ends with: the exception's type and message.
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)\b.*")


def startup_failure(stderr: str) -> str:
    """A failed start's reason on one line: the final exception, with a validation error's fields."""
    lines = [line.rstrip() for line in stderr.splitlines() if line.strip()]
    found = [i for i, line in enumerate(lines) if _EXCEPTION_LINE.match(line)]
    if not found:
        top = [line for line in lines if not line.startswith(" ")]
        return (top[-1] + _log_need(lines, top[-1])) if top else ""
    at = found[-1]
    # pydantic says which fields failed on the lines after "N validation error(s) for Model".
    detail = lines[at + 1 : at + 5] if "validation error" in lines[at] else []
    why = "; ".join([lines[at], *(d.strip() for d in detail if not d.strip().startswith("For further information"))])
    return why + _log_need(lines, why)


def _log_need(lines: list[str], why: str) -> str:
    """Words of the log that show what the server lacked (a DNS failure under a retry's RuntimeError)."""
    if need_shown(why) is not None:
        return ""
    shown = [line.strip() for line in lines if need_shown(line) is not None]
    if not shown:
        return ""
    line = shown[-1] if len(shown[-1]) <= 200 else shown[-1][:197] + "..."
    return f" (its log: {line})"


class UpstreamServer:
    """A NeMo Gym resources server in a child process, under the real nemo-gym runtime.

    Use as a context manager; ``url`` is set once ``GET /`` answers. ``config`` is merged over
    the configuration the server gets (``${...}`` values it needs, its own fields). The server,
    its Ray processes and everything else it starts die with the caller (gymkit.childproc).
    """

    def __init__(
        self,
        server_dir: Path,
        *,
        config: dict[str, Any] | None = None,
        environment: Environment | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        timeout: float = DEFAULT_TIMEOUT,
        log: Any = _log,
        programs: ProgramWatch | None = None,
    ) -> None:
        self.server_dir = Path(server_dir).resolve()
        self.config = config
        self.environment = environment
        self.host = host
        self.port = port
        self.timeout = timeout
        self.log = log
        self.programs = programs
        self.url = ""
        self.name = ""
        self._proc: ChildProcess | None = None
        self._runtime: Path | None = None

    def __enter__(self) -> UpstreamServer:
        # Built before the clock starts: a first build takes minutes and is not a slow start.
        env = self.environment or prepare_nemo_environment(self.server_dir, log=self.log)
        entry = server_entry(self.server_dir)
        self.name = entry.name
        port = self.port or free_port(self.host)
        root = nemo_checkout(self.server_dir) or self.server_dir.parent.parent
        config = single_server_config(
            entry, host=self.host, port=port, head_port=free_port(self.host), root=root, overrides=self.config
        )
        # Short and under /tmp: Ray's socket paths must fit in 107 bytes.
        self._runtime = Path(tempfile.mkdtemp(prefix="gymkit-ray-", dir="/tmp" if Path("/tmp").is_dir() else None))
        uv = find_uv()
        site = env.site_packages
        watched = self.programs.environment(site) if self.programs is not None and site is not None else {}
        variables = env.variables(
            **watched,
            # ng_run builds every environment with uv from PATH, so a server may call it too (bigcodebench does).
            on_path=(Path(uv).parent,) if uv else (),
            NEMO_GYM_CONFIG_DICT=yaml.safe_dump(config, sort_keys=False),
            NEMO_GYM_CONFIG_PATH=entry.name,
            # ng_run puts the server's folder on the path, so `import app`-style imports work.
            PYTHONPATH=str(self.server_dir),
            PYTHONUNBUFFERED="1",
            NO_COLOR="1",
            RAY_TMPDIR=str(self._runtime),
            RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0",
            RAY_USAGE_STATS_ENABLED="0",
        )
        argv = [str(env.python), entry.entrypoint]
        # Grace: the server shuts Ray down on SIGTERM, which takes a few seconds.
        self._proc = ChildProcess(
            argv, ready=_NEVER, timeout=self.timeout, env=variables, cwd=self.server_dir, grace=10
        )
        with _STARTING:
            try:
                self._proc.launch()
            except OSError as exc:
                self._stop()
                raise ServerLoadError(f"cannot run {env.python}: {exc.strerror}") from None
            try:
                ready = self._wait_ready(f"http://{self.host}:{port}")
            except BaseException:
                self._stop()  # __exit__ will not run: without this the server outlives an interrupted start
                raise
        if not ready:
            running = self._proc is not None and self._proc.poll() is None
            why = startup_failure(self._stop())
            if running:
                why = f"did not answer within {self.timeout:g} s" + (f" (its last line: {why})" if why else "")
            raise ServerLoadError(f"{self.server_dir.name} (nemo_gym) did not start: {why or 'it exited'}")
        self.url = f"http://{self.host}:{port}"
        return self

    def _wait_ready(self, url: str) -> bool:
        assert self._proc is not None
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{url}/", timeout=2):
                    return True
            except urllib.error.HTTPError:
                return True  # it answers: a server without a liveness route is still up
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        return False

    def _stop(self) -> str:
        proc, self._proc = self._proc, None
        stderr = proc.stop() if proc is not None else ""
        runtime, self._runtime = self._runtime, None
        if runtime is not None:
            if self.programs is not None:
                seen = self.programs.unschedulable
                seen.extend(r for r in unschedulable(runtime) if r not in seen)
            shutil.rmtree(runtime, ignore_errors=True)
        return stderr

    def exited(self, timeout: float = 0.0) -> bool:
        """True once the server process has ended, waiting up to ``timeout`` seconds for it to.

        As ``gymkit.runtime.serving.ServerProcess.exited``: a crashing server may still accept on its
        port for a moment, so a caller asks the process before it believes the port.
        """
        proc = self._proc
        return proc is None or proc.wait(timeout) is not None

    def __exit__(self, *exc: object) -> None:
        self._stop()
