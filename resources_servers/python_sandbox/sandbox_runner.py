"""Running untrusted Python in a child process with hard limits, without blocking the server.

The child is a copy of ``sandbox_harness.py`` in a fresh temporary folder, in its own
process group; the server awaits it with asyncio, kills the whole group at the wall-clock
deadline, and reads two channels: the report pipe (layers, or a missing mechanism), which
the harness closes before any submitted code runs, and the results file, which the
submission can write as well and so is parsed as hostile input. The kernel does the
confining (``sandbox_confine.py``); see the README for what each layer guarantees.
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
import stat
import subprocess
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
MAX_REPORT_BYTES = 65_536
MAX_DETAIL_CHARS = 500
# Without a tmpfs (mountless mode) the server measures the run folder this often; the
# deepest folder tree it measures, so a walk holds a few descriptors and ends quickly.
DISK_POLL_SECONDS = 0.025
MAX_TREE_DEPTH = 32
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


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
    max_disk_bytes: int = 16_000_000  # the child's private tmpfs, or its watched run folder
    max_disk_files: int = 2048  # files and folders in it
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
    ``cpu_limit``, ``file_limit``, ``disk_limit`` (mountless mode: the run folder outgrew
    its bound), ``timeout`` (wall clock), or ``crashed`` (any other end,
    including a results line the harness would not have written). ``layers`` come from the
    report pipe only, never from anything the submission could have written.
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


@functools.cache
def mounts_allowed() -> bool:
    """Whether the sandbox child may mount (its tmpfs, its bind mounts); asked once, in a throwaway child.

    False when the server itself runs in a Landlock domain that limits files (gymkit's
    confinement of server code): the kernel then refuses mount(2) in every namespace, and
    the sandbox runs in its mountless mode instead of not at all.
    """
    folder = str(CONFINE.parent)
    code = f"import sys; sys.path.insert(0, {folder!r}); import sandbox_confine as c; print(c.mount_refused())"
    done = subprocess.run(
        [_interpreter(), "-I", "-S", "-B", "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        stdin=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )
    return done.stdout.strip() != "True"


def _disk_over(work: Path, max_bytes: int, max_files: int) -> str:
    """Why ``work`` is past its bounds (bytes allocated, files and folders, depth), or "".

    The submission may be changing the tree meanwhile: the walk holds one descriptor per
    level, never follows a link, and stops at the first bound passed, so its cost is
    bounded by the limits, not by what the submission made. What it cannot measure counts
    as past the bounds.
    """
    total = count = 0
    try:
        top = os.open(work, _DIR_FLAGS)
    except OSError as exc:
        return f"the run folder cannot be measured ({exc.strerror})"
    stack = [(top, os.scandir(top))]
    try:
        while stack:
            fd, entries = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                entries.close()
                os.close(fd)
                continue
            count += 1
            if count > max_files:
                return f"disk limit: more than {max_files} files and folders"
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed since it was listed
            total += info.st_blocks * 512
            if total > max_bytes:
                return f"disk limit: more than {max_bytes} bytes"
            if stat.S_ISDIR(info.st_mode):
                if len(stack) >= MAX_TREE_DEPTH:
                    return f"disk limit: folders nested deeper than {MAX_TREE_DEPTH}"
                try:
                    sub = os.open(entry.name, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    continue
                stack.append((sub, os.scandir(sub)))
    except OSError as exc:
        return f"disk limit: the run folder cannot be measured ({exc.strerror})"
    finally:
        for fd, entries in stack:
            entries.close()
            os.close(fd)
    return ""


def _open_dir(name: str, parent: int) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except PermissionError:
        # A folder made with mode 0: it is the server's own uid's (or root's), so it may open it up.
        os.chmod(name, 0o700, dir_fd=parent, follow_symlinks=False)
        return os.open(name, _DIR_FLAGS, dir_fd=parent)


def _remove_tree(folder: str) -> None:
    """Remove ``folder`` and everything in it, however deep, holding two descriptors at a time.

    shutil.rmtree recurses, one descriptor and one Python frame per level: a tree a few
    thousand folders deep (a submission makes one in milliseconds) would stay behind.
    Here each folder's subfolders are moved up into ``folder`` and emptied there in a later
    pass. Nothing runs in the tree by now: the child's process group is gone.
    """
    try:
        top = os.open(folder, _DIR_FLAGS)
    except FileNotFoundError:
        return
    moved = 0
    try:
        while True:
            with os.scandir(top) as found:
                names = [(e.name, e.is_dir(follow_symlinks=False)) for e in found]
            if not names:
                break
            for name, is_dir in names:
                if not is_dir:
                    os.unlink(name, dir_fd=top)
                    continue
                sub = _open_dir(name, top)
                try:
                    with os.scandir(sub) as found:
                        inner = [(e.name, e.is_dir(follow_symlinks=False)) for e in found]
                    for child, child_is_dir in inner:
                        if child_is_dir:
                            moved += 1
                            # The submission writes only below work/, never into folder itself.
                            os.rename(child, f".gymkit-rm-{moved}", src_dir_fd=sub, dst_dir_fd=top)
                        else:
                            os.unlink(child, dir_fd=sub)
                finally:
                    os.close(sub)
                os.rmdir(name, dir_fd=top)
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
    finally:
        os.close(top)
    with contextlib.suppress(OSError):
        os.rmdir(folder)


def _prepare(
    root: Path, code: str, entry_point: str, tests: list[list[Any]], limits: SandboxLimits, fds: dict[str, int]
) -> None:
    if os.geteuid() == 0:
        root.chmod(0o711)  # the child, uid 65534 by then, may pass through to work/, not list or read
    (root / "work").mkdir(mode=0o700)
    (root / "harness.pyc").write_bytes(_compiled(HARNESS))
    (root / "sandbox_confine.pyc").write_bytes(_compiled(CONFINE))
    # A lone surrogate in the answer becomes bytes that are not UTF-8: the harness's compile
    # rejects them as the submission's load_error, where encoding would fail in the server.
    (root / "solution.py").write_bytes(code.encode("utf-8", errors="surrogatepass"))
    # Arguments only, never expected values; no path that names the server's folder.
    job = {"entry_point": entry_point, "tests": tests, "limits": asdict(limits), "mounts": mounts_allowed(), **fds}
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


def _drain(fd: int) -> str:
    """What the report pipe holds now, without waiting for writers that may still be dying."""
    os.set_blocking(fd, False)
    chunks: list[bytes] = []
    size = 0
    while size < MAX_REPORT_BYTES:
        try:
            chunk = os.read(fd, MAX_REPORT_BYTES - size)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


@dataclass
class _Report:
    layers: list[str] | None = None
    unavailable: str | None = None


def _parse_report(text: str) -> _Report:
    """The harness's report pipe: written only before submitted code runs, so trusted, yet still parsed defensively."""
    report = _Report()
    for line in text.splitlines():
        try:
            payload = json.loads(line)
        except Exception:  # noqa: BLE001 - a cut line (the child killed mid-write) says nothing
            continue
        if not isinstance(payload, dict):
            continue
        layers = payload.get("layers")
        if isinstance(layers, list) and all(isinstance(x, str) for x in layers) and report.layers is None:
            report.layers = layers
        elif isinstance(payload.get("unavailable"), str):
            report.unavailable = payload["unavailable"][:MAX_DETAIL_CHARS]
    return report


class _Malformed(ValueError):
    """A results line the harness would not have written."""


def _is_index(value: Any, total: int) -> bool:
    return type(value) is int and 0 <= value < total


def _parse_results(run: SandboxRun, text: str, total: int) -> bool:
    """Fill ``run`` from the results file; True when it ends with ``done``.

    The submission can write this file too, so each line must be exactly what the harness
    writes (one JSON object per test index, at most once each, ``done`` last); anything
    else raises _Malformed. Nothing here can raise otherwise: json's own errors, a
    RecursionError from deep nesting or an int past the digit limit are malformed lines.
    """
    lines = text.split("\n")
    if lines[-1] != "":
        raise _Malformed("the last results line is cut off")
    done = False
    for number, line in enumerate(lines[:-1], start=1):
        if done:
            raise _Malformed(f"line {number} comes after done")
        try:
            payload = json.loads(line)
        except Exception as exc:  # noqa: BLE001
            raise _Malformed(f"line {number} is not JSON ({type(exc).__name__})") from None
        if not isinstance(payload, dict):
            raise _Malformed(f"line {number} is not an object")
        keys = set(payload)
        if keys == {"done"} and payload["done"] is True:
            done = True
        elif keys == {"load_error"} and isinstance(payload["load_error"], str) and number == 1:
            run.status, run.detail = "load_error", payload["load_error"][:MAX_DETAIL_CHARS]
        elif keys in ({"index", "value"}, {"index", "error"}) and _is_index(payload["index"], total):
            index = payload["index"]
            if index in run.values or index in run.errors:
                raise _Malformed(f"line {number} reports test {index} again")
            if "value" in payload:
                run.values[index] = payload["value"]
            elif isinstance(payload["error"], str):
                run.errors[index] = payload["error"][:300]
            else:
                raise _Malformed(f"line {number} has an error that is not a string")
        else:
            raise _Malformed(f"line {number} is not a result line")
    return done


def _violation(stderr: str) -> str:
    # Written by the audit hook, inside the submission's process: a description, never evidence.
    detail = ""
    for line in stderr.splitlines():
        if line.startswith(MARK + "violation "):
            detail = line[len(MARK + "violation ") :][:MAX_DETAIL_CHARS]
    return detail


def _collect(
    run: SandboxRun,
    root: Path,
    report: _Report,
    total: int,
    returncode: int | None,
    timed_out: bool,
    disk: str,
    watched: SandboxLimits | None,
) -> None:
    """Everything read after the child ended: blocking file reads and parsing, run in a worker thread.

    ``watched``: the limits of a mountless run, whose folder is measured once more now that
    nothing writes to it, so a run that outgrew its bound between two polls never scores.
    """
    if watched is not None and not disk:
        disk = _disk_over(root / "work", watched.max_disk_bytes, watched.max_disk_files)
    malformed = ""
    done = False
    try:
        done = _parse_results(run, _read_capped(root / "results.txt"), total)
    except _Malformed as exc:
        malformed = f"malformed results: {exc}"
        run.values.clear()
        run.errors.clear()
        run.status, run.detail = "crashed", ""
    run.detail = run.detail or _violation(_read_capped(root / "stderr.txt"))
    run.layers = list(report.layers or []) + (["disk_watch"] if watched is not None and report.layers else [])
    _classify(run, returncode, timed_out, done, report=report, malformed=malformed, disk=disk)


def _classify(
    run: SandboxRun,
    returncode: int | None,
    timed_out: bool,
    done: bool,
    *,
    report: _Report | None = None,
    malformed: str = "",
    disk: str = "",
) -> None:
    run.returncode = returncode
    report = report or _Report()
    if report.unavailable is not None:
        # Only the report pipe says this; an exit status of 96 alone is the submission's.
        raise SandboxUnavailableError(report.unavailable or "python_sandbox: a required sandbox mechanism is missing")
    if disk:
        run.status, run.detail = "disk_limit", disk
    elif timed_out:
        run.status, run.detail = "timeout", run.detail or "wall-clock limit reached"
    elif returncode == VIOLATION_EXIT:
        run.status = "violation"
    elif returncode == OUTPUT_LIMIT_EXIT:
        run.status, run.detail = "file_limit", "output-size limit reached"
    elif returncode == -signal.SIGXCPU or returncode == -signal.SIGKILL:
        run.status, run.detail = "cpu_limit", run.detail or "CPU-time limit reached"
    elif returncode == -signal.SIGXFSZ:
        run.status, run.detail = "file_limit", run.detail or "file-size limit reached"
    elif malformed:
        run.status, run.detail = "crashed", malformed
    elif report.layers is None:
        # Every confined child reports its layers before the submission runs; none means
        # it never got that far, whatever the results file claims.
        run.status, run.detail = "crashed", f"no layer report (exit status {returncode})"
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
    report_r, report_w = os.pipe()  # both non-inheritable: only pass_fds hands the write end on
    try:
        root = Path(folder)
        # Output goes to files, not pipes: a submission that prints forever hits the
        # file-size limit instead of filling the server's memory.
        with (
            (root / "stdout.txt").open("wb") as out,
            (root / "stderr.txt").open("wb") as err,
            (root / "results.txt").open("wb") as results,
        ):
            fds = {"report_fd": report_w, "results_fd": results.fileno()}
            await asyncio.to_thread(_prepare, root, code, entry_point, tests, limits, fds)
            try:
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
                    pass_fds=(report_w, results.fileno()),
                )
            finally:
                # The server keeps no write end: the pipe ends when the child's copies do.
                os.close(report_w)
                report_w = -1
            watched = None if mounts_allowed() else limits
            try:
                timed_out, disk = await _await_child(proc, limits, root / "work" if watched else None)
            finally:
                _kill_group(proc.pid)  # anything the child left behind in its group
                if proc.returncode is None:
                    await proc.wait()
        report = _parse_report(_drain(report_r))
        await asyncio.to_thread(_collect, run, root, report, len(tests), proc.returncode, timed_out, disk, watched)
    finally:
        if report_w >= 0:
            os.close(report_w)
        os.close(report_r)
        run.elapsed_seconds = round(time.monotonic() - start, 3)
        await asyncio.to_thread(_remove_tree, folder)
    return run


async def _await_child(proc: asyncio.subprocess.Process, limits: SandboxLimits, work: Path | None) -> tuple[bool, str]:
    """Wait for the child until the wall-clock limit; (timed out, disk bound passed).

    ``work``: a mountless run's folder, measured every DISK_POLL_SECONDS while the child
    runs; past its bounds the group is killed at once. With a tmpfs the kernel bounds it.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limits.wall_seconds
    waiter = asyncio.ensure_future(proc.wait())
    try:
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                _kill_group(proc.pid)
                await waiter
                return True, ""
            step = remaining if work is None else min(remaining, DISK_POLL_SECONDS)
            finished, _ = await asyncio.wait({waiter}, timeout=step)
            if finished:
                return False, ""
            if work is not None:
                over = await asyncio.to_thread(_disk_over, work, limits.max_disk_bytes, limits.max_disk_files)
                if over:
                    _kill_group(proc.pid)
                    await waiter
                    return False, over
    finally:
        if not waiter.done():
            waiter.cancel()


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
