"""Runs one submission inside the sandbox child process. Standard library only.

Started by ``sandbox_runner.py`` as ``python -I -S -B sandbox_harness.py JOB.json`` in a fresh
temporary folder. Before any submitted code runs it: sets the resource limits, leaves the
network namespace (when the kernel allows it), drops root to ``nobody`` (when started as
root, so that RLIMIT_NPROC holds), and installs an audit hook that ends the process at the
first forbidden action. Then it imports the submission and calls the entry point once per
test, printing one marked JSON line per result. The expected values never enter this
process: the server compares them, so printing fake result lines cannot earn a reward.
"""

from __future__ import annotations

import json
import os
import resource
import sys

MARK = "@@gymkit-sandbox@@ "
VIOLATION_EXIT = 97
NOBODY = 65534
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MAX_WRITE_OPENS = 100

# Modules a solution may need, imported while the interpreter can still read its own
# standard library: after dropping root, a stdlib under /root may be unreadable.
PRELOAD = [
    "abc",
    "array",
    "bisect",
    "collections",
    "collections.abc",
    "copy",
    "dataclasses",
    "datetime",
    "decimal",
    "enum",
    "fractions",
    "functools",
    "heapq",
    "itertools",
    "math",
    "numbers",
    "operator",
    "random",
    "re",
    "statistics",
    "string",
    "textwrap",
    "typing",
    "unicodedata",
]

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


def _die(reason: str) -> None:
    # Straight to the file descriptor and out: no Python-level object the submission
    # could have replaced (sys.stderr, print) is trusted here.
    os.write(2, f"{MARK}violation {reason}\n".encode(errors="replace"))
    os._exit(VIOLATION_EXIT)


def _make_hook(root: str):
    inside = root.rstrip(os.sep) + os.sep
    write_opens = [0]
    realpath, fspath, fsdecode = os.path.realpath, os.fspath, os.fsdecode

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
        if event in _BLOCKED_EXACT or event.startswith(_BLOCKED_PREFIXES):
            _die(event)
        elif event == "import":
            name = args[0] if args else ""
            if isinstance(name, str) and name.split(".")[0] in _BLOCKED_IMPORTS:
                _die(f"import {name}")
        elif event == "open":
            path, mode, flags = (*args, None, None, 0)[:3]
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool((flags or 0) & _WRITE_FLAGS)
            if writes:
                if outside(path):
                    _die(f"open for writing outside the sandbox: {path!r}")
                write_opens[0] += 1
                if write_opens[0] > MAX_WRITE_OPENS:
                    _die("too many files opened for writing")
        elif event in _PATH_EVENTS:
            for arg in args:
                if isinstance(arg, str | bytes | os.PathLike) and outside(arg):
                    _die(f"{event} outside the sandbox: {arg!r}")

    return hook


def _set_limits(limits: dict) -> None:
    cpu = int(limits["cpu_seconds"])
    # Soft limit sends SIGXCPU (fatal by default); the hard limit one second later is SIGKILL.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    memory = int(limits["memory_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    size = int(limits["max_file_bytes"])
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    files = int(limits["max_open_files"])
    resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _leave_network(as_root: bool) -> str | None:
    """Move into a fresh network namespace with no interfaces up; the layer's name, or None."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        flags = CLONE_NEWNET if as_root else CLONE_NEWUSER | CLONE_NEWNET
        ok = libc.unshare(flags) == 0
    except Exception:  # noqa: BLE001 - no ctypes, no libc: fall back to the audit hook
        ok = False
    for name in [m for m in sys.modules if m == "ctypes" or m.startswith(("ctypes.", "_ctypes"))]:
        del sys.modules[name]  # so `import ctypes` in a submission is a fresh, audited import
    return "network_namespace" if ok else None


def _drop_root(folder: str) -> str | None:
    if os.geteuid() != 0:
        return None
    for name in PRELOAD:
        __import__(name)
    os.chown(folder, NOBODY, NOBODY)
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)
    return "unprivileged_user"


def _emit(payload: dict) -> None:
    os.write(1, (MARK + json.dumps(payload) + "\n").encode())


def main(job_path: str) -> None:
    with open(job_path, encoding="utf-8") as fh:
        job = json.load(fh)
    folder = os.path.realpath(job["folder"])
    os.chdir(folder)
    limits = job["limits"]
    as_root = os.geteuid() == 0
    layers = ["rlimits"]
    _set_limits(limits)
    if limits.get("isolate_network", True):
        net = _leave_network(as_root)
        if net:
            layers.append(net)
    if limits.get("drop_root", True):
        user = _drop_root(folder)
        if user:
            layers.append(user)
    # No new processes or threads: with an unprivileged uid the kernel enforces it.
    procs = int(limits.get("max_processes", 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (procs, procs))
    if limits.get("audit_hook", True):
        sys.addaudithook(_make_hook(folder))
        layers.append("audit_hook")
    _emit({"layers": layers})

    namespace: dict = {"__name__": "solution"}
    try:
        with open(os.path.join(folder, "solution.py"), encoding="utf-8") as fh:
            source = fh.read()
        exec(compile(source, "solution.py", "exec"), namespace)
        func = namespace[job["entry_point"]]
    except BaseException as exc:  # noqa: BLE001 - whatever the submission raises is its failure
        _emit({"load_error": f"{type(exc).__name__}: {exc}"[:500]})
        _emit({"done": True})
        return
    for index, args in enumerate(job["tests"]):
        try:
            value = func(*args)
            _emit({"index": index, "value": value})
        except BaseException as exc:  # noqa: BLE001
            _emit({"index": index, "error": f"{type(exc).__name__}: {exc}"[:300]})
    _emit({"done": True})


if __name__ == "__main__":
    main(sys.argv[1])
