"""Runs one submission inside the sandbox child process. Standard library only.

``sandbox_runner.py`` copies this file and ``sandbox_confine.py`` into a fresh temporary
folder and starts ``python -I -S -B harness.py job.json`` there, so nothing in the child's
arguments, files or environment names the server's folder. Before any submitted code
runs, it reads the job, sets the resource limits, leaves the server's namespaces, forks
(the child is PID 1 of its own PID namespace), and in the child drops to an unprivileged
uid or capability set, applies Landlock and seccomp, and installs an audit hook. Then it
defines the submission and calls the entry point once per test.

Two channels lead back to the server, because the submission shares this process:

- the *report* pipe (``report_fd``) carries what only the harness may say: the layers
  applied, or that a mechanism is unavailable. It is written and closed before any
  submitted code runs (and the relay parent closes its copy at the fork), so nothing the
  submission does can reach it afterwards;
- the *results* file (``results_fd``) carries one JSON line per test and a last ``done``.
  The submission can write there too, so the server trusts it for nothing but values it
  could as well have returned, and reads it as hostile input.

The expected values never enter this process: the server compares them, so writing fake
result lines cannot earn a reward.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import stat
import sys
from typing import NoReturn

MARK = "@@gymkit-sandbox@@ "
VIOLATION_EXIT = 97
UNAVAILABLE_EXIT = 96
OUTPUT_LIMIT_EXIT = 95
MAX_WRITE_OPENS = 100
WORK = "work"
NOBODY = 65534
STDLIB = "stdlib"

_BLOCKED_EXACT = frozenset(
    {
        "os.fork",
        "os.forkpty",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.kill",
        "os.killpg",
        "os.startfile",
        "subprocess.Popen",
        "pty.spawn",
        "signal.pthread_kill",
        "resource.setrlimit",
        "resource.prlimit",
        "gc.get_objects",
        "gc.get_referrers",
        "gc.get_referents",
    }
)
_BLOCKED_PREFIXES = ("socket.", "ctypes.", "_winapi.", "winreg.")
_BLOCKED_IMPORTS = frozenset({"ctypes", "_ctypes", "_posixsubprocess", "_socket", "socket", "multiprocessing"})
_PATH_EVENTS = frozenset(
    {
        "os.remove",
        "os.rename",
        "os.rmdir",
        "os.mkdir",
        "os.symlink",
        "os.link",
        "os.chmod",
        "os.chown",
        "os.truncate",
        "os.utime",
        "os.setxattr",
        "os.removexattr",
        "os.chflags",
        "os.lchflags",
        "os.mkfifo",
        "os.mknod",
        "shutil.rmtree",
        "shutil.move",
        "shutil.copyfile",
        "shutil.copytree",
        "sqlite3.connect",
    }
)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _make_hook(root: str, write=os.write, exit_now=os._exit):
    """An audit hook that ends the process at the first forbidden action.

    An extra layer only: the kernel layers hold without it. Everything it calls is bound
    here, as defaults and closure cells, never looked up in a module the submission can
    reach (``sys.modules['__main__']._die = ...`` once switched an earlier hook off).
    """
    inside = root.rstrip(os.sep) + os.sep
    write_opens = [0]
    realpath, fspath, fsdecode = os.path.realpath, os.fspath, os.fsdecode
    blocked_exact, blocked_prefixes, blocked_imports = _BLOCKED_EXACT, _BLOCKED_PREFIXES, _BLOCKED_IMPORTS
    path_events, write_flags = _PATH_EVENTS, _WRITE_FLAGS

    def die(reason: str) -> None:
        write(2, f"{MARK}violation {reason}\n".encode(errors="replace"))
        exit_now(VIOLATION_EXIT)

    def outside(path: object) -> bool:
        if isinstance(path, int) or path is None:
            return False  # an already-open descriptor was checked when it was opened
        try:
            text = fsdecode(fspath(path))  # type: ignore[arg-type]
        except TypeError:
            return True
        if text == ":memory:":
            return False
        resolved = realpath(text)
        return resolved != root and not resolved.startswith(inside)

    def hook(event: str, args: tuple) -> None:
        if event in blocked_exact or event.startswith(blocked_prefixes):
            die(event)
        elif event == "import":
            name = args[0] if args else ""
            if isinstance(name, str) and name.split(".")[0] in blocked_imports:
                die(f"import {name}")
        elif event == "open":
            path, mode, flags = (*args, None, None, 0)[:3]
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool((flags or 0) & write_flags)
            if writes:
                if outside(path):
                    die(f"open for writing outside the sandbox: {path!r}")
                write_opens[0] += 1
                if write_opens[0] > MAX_WRITE_OPENS:
                    die("too many files opened for writing")
        elif event in path_events:
            for arg in args:
                if isinstance(arg, str | bytes | os.PathLike) and outside(arg):
                    die(f"{event} outside the sandbox: {arg!r}")

    return hook


def _set_limits(limits: dict) -> None:
    # Soft = hard: the child is PID 1 of its namespace, and the kernel does not deliver a
    # default-action SIGXCPU to a namespace's init; the hard limit's SIGKILL always lands.
    cpu = int(limits["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    memory = int(limits["memory_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    size = int(limits["max_file_bytes"])
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    files = int(limits["max_open_files"])
    resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _write_all(fd: int, data: bytes, write=os.write) -> bool:
    # A short write is RLIMIT_FSIZE cutting the line: the rest would only fail.
    try:
        return write(fd, data) == len(data)
    except OSError:
        return False


def _emit(fd: int, payload: dict, exit_now=os._exit) -> None:
    try:
        line = (json.dumps(payload) + "\n").encode()
    except BaseException:  # noqa: BLE001 - a set, a cycle, an int past 4300 digits: the submission's failure
        line = (json.dumps({"index": payload.get("index"), "error": "the value is not JSON"}) + "\n").encode()
    if not _write_all(fd, line):
        exit_now(OUTPUT_LIMIT_EXIT)  # the results file is full, nothing more can be reported


_REPORT_FD = [-1]  # the report pipe, until it is closed for good before the submission runs


def _report(payload: dict) -> None:
    _write_all(_REPORT_FD[0], (json.dumps(payload) + "\n").encode())


def _unavailable(reason: str) -> None:
    _report({"unavailable": reason})
    os.write(2, f"{MARK}unavailable {reason}\n".encode(errors="replace"))
    os._exit(UNAVAILABLE_EXIT)


def _describe(exc: BaseException, limit: int) -> str:
    # The exception is the submission's object: its __str__ (or its class's name) may raise
    # or return anything, and that must not take the harness down with it.
    try:
        text = f"{type(exc).__name__}: {exc}"
        return text[:limit] if isinstance(text, str) else "error"
    except BaseException:  # noqa: BLE001
        return "error (its message could not be shown)"


def _stdlib_dirs() -> list[str]:
    # With -I -S, sys.path is exactly the standard library (and its zip, usually absent).
    return [p for p in dict.fromkeys(os.path.realpath(p) for p in sys.path if p) if os.path.isdir(p)]


def _rebase_stdlib(dirs: list[str], target: str) -> tuple[list[str], str]:
    """``dirs`` and sys.path as seen once the standard library is bound at ``target``; and its real folder."""
    root = os.path.realpath(os.path.dirname(os.__file__))

    def moved(path: str) -> str:
        real = os.path.realpath(path)
        return target + real[len(root) :] if real == root or real.startswith(root + os.sep) else path

    sys.path[:] = [moved(p) for p in sys.path]
    sys.path_importer_cache.clear()
    return [moved(d) for d in dirs], root


def _passable(path: str, uid: int = NOBODY) -> bool:
    info = os.stat(path)
    if info.st_uid == uid:
        return bool(info.st_mode & stat.S_IXUSR)
    if info.st_gid == uid:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)


def _closed_ancestor(path: str) -> str | None:
    """The topmost folder above ``path`` that uid 65534 may not pass through, or None."""
    current = os.sep
    for part in [p for p in path.split(os.sep) if p][:-1]:
        current = os.path.join(current, part)
        if not _passable(current):
            return current
    return None


def _relay(pid: int, alive_fd: int, channels: tuple[int, ...]) -> None:
    """Wait for the confined child and end the same way, so the server reads its status.

    The relay never runs submitted code and is unreachable from it (another PID namespace,
    seccomp, Landlock); it drops its copies of the channels so the child's are the only ones.
    """
    for fd in channels:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    os.close(alive_fd)
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number not in (signal.SIGKILL, signal.SIGSTOP):  # these two have no handler to reset
            signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
        os._exit(128 + number)
    os._exit(os.waitstatus_to_exitcode(status))


def _confine(
    limits: dict, as_root: bool, work: str, stdlib: list[str], channels: tuple[int, ...], mounts: bool
) -> list[str]:
    """Everything up to the fork happens here; returns (in the child only) the layers applied.

    ``mounts`` False: the server runs inside another Landlock domain, which refuses mount(2).
    Then there is no tmpfs (the server watches the run folder's size instead) and no bind
    mount, so a root server's child keeps uid 0 inside a user namespace of its own without
    capabilities: uid 65534 could not reach a standard library under /root.
    """
    import sandbox_confine as confine  # loaded from this folder before sys.path is narrowed

    layers = ["rlimits"]
    try:
        machine = confine.require_platform()
        abi = confine.landlock_abi()
        confine.parent_death_signal(signal.SIGKILL)  # the server gone: nothing to report to
        layers += confine.enter_namespaces(
            as_root,
            work,
            int(limits["max_disk_bytes"]),
            network=limits.get("isolate_network", True),
            mounts=mounts,
            max_files=int(limits.get("max_disk_files", 2048)),
        )
        drop_root = as_root and mounts and limits.get("drop_root", True)
        if as_root and mounts:
            folder = os.path.dirname(work)
            # A folder above this run's that uid 65534 cannot pass through (a private TMPDIR,
            # mode 700) would hide work/ and the standard library from the child: this
            # namespace shows the run's folder in its place instead.
            closed = _closed_ancestor(folder)
            seen = closed or folder
            stdlib, real = _rebase_stdlib(stdlib, os.path.join(seen, STDLIB))
            confine.bind_stdlib(real, os.path.join(folder, STDLIB))
            if closed is not None:
                confine.bind_over(folder, closed)
                work = os.path.join(closed, WORK)
        confine.parent_death_signal(signal.SIGKILL)
        alive_r, alive_w = os.pipe()
        pid = os.fork()
        if pid:
            os.close(alive_r)
            _relay(pid, alive_w, channels)
        os.close(alive_w)
        os.chdir(work)
        ruleset = None
        if limits.get("landlock", True):
            ruleset, names = confine.landlock_ruleset(abi, stdlib, os.getcwd())
            layers += names
        if drop_root:
            confine.drop_to_nobody()
            layers.append("unprivileged_user")
        elif not as_root or not mounts:
            confine.drop_capabilities()
            layers.append("no_capabilities")
        # Set again: a uid change clears it. Then make sure the parent did not exit before:
        # its end of the pipe closes when it does.
        confine.parent_death_signal(signal.SIGKILL)
        if select.select([alive_r], [], [], 0)[0]:
            os._exit(1)
        os.close(alive_r)
        confine.no_new_privs()
        layers.append("no_new_privs")
        procs = int(limits.get("max_processes", 0))
        resource.setrlimit(resource.RLIMIT_NPROC, (procs, procs))
        if ruleset is not None:
            confine.landlock_restrict(ruleset)
        if limits.get("seccomp", True):
            # The kernel exempts host uid 0 from RLIMIT_NPROC, in any user namespace: the
            # filter refuses every clone instead when the child may start none.
            no_clone = procs == 0 and as_root and not drop_root
            confine.install_seccomp(machine, no_clone=no_clone)
            layers += ["seccomp"] + (["seccomp_no_clone"] if no_clone else [])
    except confine.Unavailable as exc:
        _unavailable(str(exc))
    return layers


def main(job_path: str) -> None:
    with open(job_path, encoding="utf-8") as fh:
        job = json.load(fh)
    with open("solution.py", "rb") as fh:
        source = fh.read()  # bytes: compile decodes them, so bad UTF-8 is the submission's SyntaxError
    limits = job["limits"]
    report_fd, results_fd = int(job["report_fd"]), int(job["results_fd"])
    _REPORT_FD[0] = report_fd
    as_root = os.geteuid() == 0
    _set_limits(limits)
    stdlib = _stdlib_dirs()
    here = os.path.dirname(os.path.realpath(__file__))
    sys.path.insert(0, here)
    mounts = job.get("mounts", True) is not False
    layers = _confine(limits, as_root, os.path.join(here, WORK), stdlib, (report_fd, results_fd), mounts)
    sys.path[:] = [p for p in sys.path if p != here]
    work = os.getcwd()
    if limits.get("audit_hook", True):
        # Forget ctypes so that `import ctypes` in a submission is a fresh, audited import.
        for name in [m for m in sys.modules if m.startswith(("ctypes", "_ctypes", "sandbox_confine"))]:
            del sys.modules[name]
        sys.addaudithook(_make_hook(work))
        layers.append("audit_hook")
    # The last word on the report pipe: once it is closed, no submitted code can add to it.
    _report({"layers": layers})
    os.close(report_fd)
    _REPORT_FD[0] = -1

    namespace: dict = {"__name__": "solution"}
    try:
        exec(compile(source, "solution.py", "exec"), namespace)
        func = namespace[job["entry_point"]]
    except BaseException as exc:  # noqa: BLE001 - whatever the submission raises is its failure
        _emit(results_fd, {"load_error": _describe(exc, 500)})
        _finish(results_fd)
    for index, args in enumerate(job["tests"]):
        try:
            value = func(*args)
        except BaseException as exc:  # noqa: BLE001
            _emit(results_fd, {"index": index, "error": _describe(exc, 300)})
        else:
            _emit(results_fd, {"index": index, "value": value})
    _finish(results_fd)


def _finish(results_fd: int) -> NoReturn:
    """Report done and exit at once: atexit handlers and finalizers are the submission's code."""
    _emit(results_fd, {"done": True})
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105 - contextlib would be one more import on every run
            stream.flush()
        except BaseException:  # noqa: BLE001 - a stream the submission replaced or closed
            pass
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1])
