"""Running untrusted Python in a child process with hard limits, without blocking the server.

The child is a copy of ``sandbox_harness.py`` in a fresh temporary folder, in its own
process group; the server awaits it with asyncio, kills the whole group at the wall-clock
deadline, and reads the results the harness printed. The kernel does the confining
(``sandbox_confine.py``); see the README for what each layer guarantees.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import importlib.util
import json
import marshal
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["HARNESS", "SandboxLimits", "SandboxRun", "SandboxUnavailableError", "probe", "run_sandboxed"]

HARNESS = Path(__file__).with_name("sandbox_harness.py")
CONFINE = Path(__file__).with_name("sandbox_confine.py")
MARK = "@@gymkit-sandbox@@ "
VIOLATION_EXIT = 97
UNAVAILABLE_EXIT = 96
OUTPUT_LIMIT_EXIT = 95
MAX_READ_BYTES = 2_000_000


class SandboxUnavailableError(RuntimeError):
    """The kernel lacks a mechanism the sandbox requires; the message names it and the fix."""


@dataclass(frozen=True)
class SandboxLimits:
    cpu_seconds: int = 2
    wall_seconds: float = 6.0
    memory_mb: int = 512
    max_file_bytes: int = 1_000_000
    max_open_files: int = 64
    max_processes: int = 0
    max_disk_bytes: int = 16_000_000  # the child's private tmpfs
    # Switches for the tests that prove each layer holds on its own; servers keep them on.
    isolate_network: bool = True
    drop_root: bool = True
    audit_hook: bool = True
    landlock: bool = True
    seccomp: bool = True


@dataclass
class SandboxRun:
    """What happened to one submission.

    ``status``: ``finished`` (the harness ran every test), ``load_error`` (the code did not
    import or define the entry point), ``violation`` (the audit hook stopped it),
    ``cpu_limit``, ``file_limit``, ``timeout`` (wall clock), or ``crashed``.
    """

    status: str
    values: dict[int, Any] = field(default_factory=dict)
    errors: dict[int, str] = field(default_factory=dict)
    detail: str = ""
    layers: list[str] = field(default_factory=list)
    elapsed_seconds: float = 0.0
    returncode: int | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["values"] = {str(k): v for k, v in self.values.items()}
        data["errors"] = {str(k): v for k, v in self.errors.items()}
        return data


def _child_env(work: str) -> dict[str, str]:
    # A minimal environment: nothing of the server's (tokens, proxies) leaks to the child.
    return {"PATH": "/usr/bin:/bin", "HOME": work, "TMPDIR": work, "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}


def _interpreter() -> str:
    # The base interpreter, not the virtualenv's: its path does not name the project, and
    # with -I -S the child uses the standard library only anyway.
    base = getattr(sys, "_base_executable", "") or sys.executable
    return base if os.access(base, os.X_OK) else sys.executable


@functools.cache
def _compiled(path: Path) -> bytes:
    """``path`` as a .pyc: the child then spends no time compiling the harness on every run.

    No source sits next to it, so the import system loads it as is (header: magic number,
    flags 0, and the unchecked source mtime and size).
    """
    code = compile(path.read_bytes(), path.name, "exec", dont_inherit=True)
    return importlib.util.MAGIC_NUMBER + bytes(12) + marshal.dumps(code)


def _prepare(root: Path, code: str, entry_point: str, tests: list[list[Any]], limits: SandboxLimits) -> None:
    if os.geteuid() == 0:
        root.chmod(0o711)  # the child, uid 65534 by then, may pass through to work/, not list or read
    (root / "work").mkdir(mode=0o700)
    (root / "harness.pyc").write_bytes(_compiled(HARNESS))
    (root / "sandbox_confine.pyc").write_bytes(_compiled(CONFINE))
    (root / "solution.py").write_text(code, encoding="utf-8")
    # Arguments only, never expected values; no path that names the server's folder.
    job = {"entry_point": entry_point, "tests": tests, "limits": asdict(limits)}
    (root / "job.json").write_text(json.dumps(job), encoding="utf-8")


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _read_capped(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            return fh.read(MAX_READ_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return ""


def _parse(run: SandboxRun, stdout: str, stderr: str) -> bool:
    """Fill ``run`` from the harness's marked lines; True when the harness reported done."""
    done = False
    for line in stdout.splitlines():
        if not line.startswith(MARK):
            continue
        try:
            payload = json.loads(line[len(MARK) :])
        except ValueError:
            continue
        if not isinstance(payload, dict):
            continue
        if "layers" in payload and not run.layers:
            run.layers = [str(x) for x in payload["layers"]]
        elif "load_error" in payload:
            run.detail = str(payload["load_error"])
            run.status = "load_error"
        elif isinstance(payload.get("index"), int):
            index = payload["index"]
            # First report wins: a line printed by the submission itself can only come
            # before the harness's own line for that test if it predicts the value.
            if index in run.values or index in run.errors:
                continue
            if "value" in payload:
                run.values[index] = payload["value"]
            else:
                run.errors[index] = str(payload.get("error", ""))
        elif payload.get("done") is True:
            done = True
    for line in stderr.splitlines():
        for kind in ("violation ", "unavailable "):
            if line.startswith(MARK + kind):
                run.detail = line[len(MARK + kind) :]
    return done


def _classify(run: SandboxRun, returncode: int | None, timed_out: bool, done: bool) -> None:
    run.returncode = returncode
    if timed_out:
        run.status, run.detail = "timeout", run.detail or "wall-clock limit reached"
    elif returncode == UNAVAILABLE_EXIT:
        raise SandboxUnavailableError(run.detail or "python_sandbox: a required sandbox mechanism is missing")
    elif returncode == VIOLATION_EXIT:
        run.status = "violation"
    elif returncode == OUTPUT_LIMIT_EXIT:
        run.status, run.detail = "file_limit", "output-size limit reached"
    elif returncode == -signal.SIGXCPU or returncode == -signal.SIGKILL:
        run.status, run.detail = "cpu_limit", run.detail or "CPU-time limit reached"
    elif returncode == -signal.SIGXFSZ:
        run.status, run.detail = "file_limit", run.detail or "file-size limit reached"
    elif run.status == "load_error":
        pass
    elif returncode == 0 and done:
        run.status = "finished"
    else:
        run.status, run.detail = "crashed", run.detail or f"exit status {returncode}"


async def run_sandboxed(
    code: str, entry_point: str, tests: list[list[Any]], limits: SandboxLimits | None = None
) -> SandboxRun:
    """Define ``code``, call ``entry_point(*args)`` for each ``args`` in ``tests``, in a sandbox."""
    limits = limits or SandboxLimits()
    folder = await asyncio.to_thread(tempfile.mkdtemp, prefix="gymkit-sandbox-")
    run = SandboxRun(status="crashed")
    start = time.monotonic()
    try:
        root = Path(folder)
        await asyncio.to_thread(_prepare, root, code, entry_point, tests, limits)
        # Output goes to files, not pipes: a submission that prints forever hits the
        # file-size limit instead of filling the server's memory.
        with (root / "stdout.txt").open("wb") as out, (root / "stderr.txt").open("wb") as err:
            proc = await asyncio.create_subprocess_exec(
                _interpreter(),
                "-I",
                "-S",
                "-B",
                "harness.pyc",
                "job.json",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=folder,
                env=_child_env(str(root / "work")),
                start_new_session=True,
            )
            timed_out = False
            try:
                await asyncio.wait_for(proc.wait(), timeout=limits.wall_seconds)
            except TimeoutError:
                timed_out = True
                _kill_group(proc.pid)
                await proc.wait()
            finally:
                _kill_group(proc.pid)  # anything the child left behind in its group
        done = _parse(run, _read_capped(root / "stdout.txt"), _read_capped(root / "stderr.txt"))
        _classify(run, proc.returncode, timed_out, done)
    finally:
        run.elapsed_seconds = round(time.monotonic() - start, 3)
        await asyncio.to_thread(shutil.rmtree, folder, True)
    return run


def probe(limits: SandboxLimits | None = None) -> SandboxRun:
    """Run a trivial submission under every layer; SandboxUnavailableError if it cannot be confined.

    Synchronous, for a server's start: a worker thread gets its own event loop, so this
    also works when the caller already runs one.
    """
    code = "def probe():\n    return 42\n"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        run = pool.submit(asyncio.run, run_sandboxed(code, "probe", [[]], limits)).result()
    if run.status != "finished" or run.values.get(0) != 42:
        raise SandboxUnavailableError(f"python_sandbox: the sandbox self-test failed ({run.status}: {run.detail})")
    return run
