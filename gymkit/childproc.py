"""Child processes that die with their parent: on SIGTERM, SIGINT, kill -9, from any thread.

Every child runs under a small supervisor, this module run as ``python -m gymkit.childproc``::

    parent --watch pipe--> supervisor --> child (its own process group) --> grandchildren

The parent holds the only write end of the watch pipe and never writes to it. The supervisor
blocks reading the other end: EOF means the parent closed it (a normal stop) or the parent is
gone, however it died, kill -9 included, because the kernel closes a dead process's files.
It then sends SIGTERM to the child's process group, SIGKILL after a grace period, and exits.

Why not only ``PR_SET_PDEATHSIG`` through ``preexec_fn``: ``preexec_fn`` is unsafe in a
threaded parent (``gymkit check`` starts servers from a thread pool; rollouts run uvicorn and
aiohttp threads), PDEATHSIG fires when the *thread* that forked exits rather than the process,
and it does not exist on macOS. The pipe has none of these limits. PDEATHSIG is still used where
it is safe, on Linux, as a second line: the supervisor is single-threaded, so it sets it on the
child (SIGKILL if the supervisor itself is killed -9), and on itself when the parent started it
from the main thread (whose exit is the process's).

Grandchildren that stay in the child's group die with the group. Those that left it (a sandbox
started with ``start_new_session``) are reparented to the supervisor, a Linux child subreaper,
once their own parent dies, and are killed then.

A child that runs a contributor's code is started with a ``confine=`` policy (gymkit.confine):
the supervisor builds the Landlock ruleset and applies it in its forked child just before exec,
so the command and its descendants are confined while the supervisor itself is not (the
command can neither signal nor ptrace it, and it can still stop the group and reap orphans).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, Literal, TypedDict

from gymkit import confine as _confine
from gymkit.confine import Confinement

__all__ = ["ChildProcess", "Confinement", "install_signal_handlers", "run"]

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36

# Live children by id: a plain dict, because the signal handlers below read it from the main
# thread at any bytecode, and copying a dict's values is atomic where iterating a WeakSet is not.
_LIVE: dict[int, ChildProcess] = {}


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return False
    return bool(libc.prctl(option, value, 0, 0, 0) == 0)


def _exited(pid: int) -> bool:
    """Has our child ``pid`` ended? It is not reaped, so its pid (and group id) stay reserved."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


class ChildProcess:
    """One child command under a supervisor; stdout is read for a ready line, stderr goes to a file.

    ``start()`` returns the ready line's match, or None if the child ended or ``timeout``
    passed first; it raises ``OSError`` when the command cannot be run at all. ``stop()`` is
    idempotent and returns what the child wrote to stderr.

    ``output``: ``"ready"`` as above; ``"capture"`` puts stdout in the stderr file too, in order
    (``stop()`` returns both); ``"inherit"`` leaves both on the parent's own stdout and stderr.
    ``confine``: run the command under gymkit.confine's rules (where this machine can), with
    TMPDIR pointing at its private temp folder; raises UserError under CI when it cannot.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        ready: re.Pattern[str],
        timeout: float = 60.0,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        grace: float = 5.0,
        output: Literal["ready", "capture", "inherit"] = "ready",
        confine: Confinement | None = None,
    ) -> None:
        self.argv = list(argv)
        self.output = output
        self.confine = confine
        self.confined = False  # set by launch(): whether the rules were applied
        self.tmp: Path | None = None  # the private temp folder, when confine= was given
        self._own_tmp = False
        self.ready = ready
        self.timeout = timeout
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.grace = grace
        # The command's pid (also its process group id) and the supervisor's (also its session
        # id); kept after stop() so callers can check both are gone. 0 = not known.
        self.pid = 0
        self.supervisor_pid = 0
        self.returncode: int | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._watch = -1
        self._watch_lock = threading.Lock()
        self._stop_lock = threading.Lock()
        self._stderr: IO[str] | None = None
        self._reader: threading.Thread | None = None
        self._seen = threading.Event()
        self._match: re.Match[str] | None = None
        self._stderr_text = ""

    def start(self) -> re.Match[str] | None:
        self.launch()
        return self.wait_ready()

    def _policy(self) -> str:
        """The supervisor's rules argument ("-": none); points the child's temp folder at its own."""
        if self.confine is None:
            return "-"
        self.confined = _confine.enabled()
        if self.confine.tmp is not None:
            self.tmp = Path(self.confine.tmp)
        else:
            self.tmp, self._own_tmp = Path(tempfile.mkdtemp(prefix="gymkit-child-")), True
        env = dict(self.env if self.env is not None else os.environ)
        # The system temp folder is not writable when confined: tempfile, pytest's tmp_path and
        # a server's own sandboxes all follow TMPDIR.
        env.update(TMPDIR=str(self.tmp), TMP=str(self.tmp), TEMP=str(self.tmp))
        self.env = env
        # The supervisor removes a temp folder made here once the group is gone: it outlives a
        # parent killed -9, which could not.
        writable = self.confine.folders(self.tmp) if self.confined else []
        return json.dumps({"writable": writable, "remove": str(self.tmp) if self._own_tmp else ""})

    def launch(self) -> None:
        """Start the supervisor and the child; raises OSError if the command cannot run."""
        policy = self._policy()
        # stderr goes to a file, not a pipe: a server that logs a traceback per failing
        # request would otherwise fill the pipe and freeze.
        self._stderr = None if self.output == "inherit" else tempfile.TemporaryFile(mode="w+t")  # noqa: SIM115
        stdout: int | IO[str] | None = {"ready": subprocess.PIPE, "capture": self._stderr, "inherit": None}[self.output]
        watch_r, self._watch = os.pipe()
        report_r, report_w = os.pipe()
        pdeathsig = "1" if threading.current_thread() is threading.main_thread() else "0"
        cmd = [sys.executable, "-m", "gymkit.childproc", str(watch_r), str(report_w), str(self.grace), pdeathsig]
        try:
            self._proc = subprocess.Popen(
                [*cmd, policy, "--", *self.argv],
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=self._stderr,
                text=True,
                env=self.env,
                cwd=self.cwd,
                # Its own session: a Ctrl-C at the terminal reaches the parent, which decides.
                start_new_session=True,
                pass_fds=(watch_r, report_w),
            )
        except BaseException:
            for fd in (self._watch, report_r):
                os.close(fd)
            self._watch = -1
            if self._stderr is not None:
                self._stderr.close()
            self._remove_tmp()
            raise
        finally:
            os.close(watch_r)
            os.close(report_w)
        self.supervisor_pid = self._proc.pid
        _LIVE[id(self)] = self
        try:
            if self._proc.stdout is not None:
                self._reader = threading.Thread(
                    target=self._read_stdout, args=(self._proc.stdout,), daemon=True, name="childproc-stdout"
                )
                self._reader.start()
            else:
                self._seen.set()  # no ready line to wait for
            try:
                report = _read_all(report_r, self.timeout)
            finally:
                os.close(report_r)
        except BaseException:
            self.stop()  # interrupted while the child starts: it must not outlive us
            raise
        word, _, number = report.partition(" ")
        if word == "err":
            self.stop()
            code, _, why = number.partition(" ")
            raise OSError(int(code), why or os.strerror(int(code)), self.argv[0])
        if word == "ok":
            self.pid = int(number)

    def _read_stdout(self, stream: IO[str]) -> None:
        # Keep draining after the ready line so a chatty child never blocks on a full pipe.
        for line in stream:
            if self._match is None:
                self._match = self.ready.match(line.strip())
                if self._match:
                    self._seen.set()
        self._seen.set()

    def wait_ready(self) -> re.Match[str] | None:
        """The ready line's match; None once the child closed its stdout or ``timeout`` passed."""
        self._seen.wait(self.timeout)
        return self._match

    def poll(self) -> int | None:
        """None while the supervisor runs, which it does as long as the command runs; else its status."""
        if self._proc is not None:
            self.returncode = self._proc.poll()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        """The command's exit status once it ends (128+N for signal N); None if ``timeout`` passed first."""
        proc = self._proc
        if proc is None:
            return self.returncode
        try:
            self.returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def _remove_tmp(self) -> None:
        if self._own_tmp and self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self._own_tmp = False

    def _close_watch(self, *, blocking: bool = True) -> None:
        # A lock so two closers never close the same number twice (the second could close a
        # file opened meanwhile); a signal handler does not wait for it: whoever holds it closes.
        if not self._watch_lock.acquire(blocking):
            return
        try:
            fd, self._watch = self._watch, -1
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        finally:
            self._watch_lock.release()

    def stop(self) -> str:
        """Stop the child and everything it started; returns its stderr."""
        with self._stop_lock:  # a caller's __exit__ and the atexit hook may meet here
            return self._stop()

    def _stop(self) -> str:
        proc = self._proc
        if proc is None:
            return self._stderr_text
        self._close_watch()  # the supervisor's cue: TERM the group, KILL it after the grace period
        try:
            proc.wait(timeout=self.grace + 5)
        except subprocess.TimeoutExpired:
            # Not expected (the supervisor only waits out the grace period), but never leave a child.
            for pgid in (self.pid, proc.pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    if pgid:
                        os.killpg(pgid, signal.SIGKILL)
            proc.wait()
        _LIVE.pop(id(self), None)
        self.returncode = proc.returncode
        # Everyone holding the pipe is gone, so the reader sees EOF and ends; only then close it.
        if self._reader is not None:
            self._reader.join(timeout=5)
        if proc.stdout:
            proc.stdout.close()
        if self._stderr is not None:
            self._stderr.seek(0)
            self._stderr_text = self._stderr.read()
            self._stderr.close()
        self._remove_tmp()
        self._proc = None
        return self._stderr_text

    def __enter__(self) -> ChildProcess:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run(
    argv: Sequence[str],
    *,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    output: Literal["capture", "inherit"] = "capture",
    confine: Confinement | None = None,
    grace: float = 5.0,
) -> tuple[int | None, str]:
    """Run a command to its end under a supervisor: (exit status, or None past ``timeout``; its output).

    Like ``subprocess.run`` but the command and everything it started die with the caller, and
    with a timeout the whole group is stopped, not only the process the caller started.
    """
    child = ChildProcess(argv, ready=re.compile(r"(?!)"), env=env, cwd=cwd, grace=grace, output=output, confine=confine)
    try:
        child.launch()
        code = child.wait(timeout)
    finally:
        text = child.stop()
    return code, text


def _read_all(fd: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    data = b""
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([fd], [], [], left)
        if not readable:
            break
        chunk = os.read(fd, 256)
        if not chunk:
            break
        data += chunk
    return data.decode().strip()


def _close_inherited_watch_fds() -> None:
    # A fork without exec (multiprocessing's default) copies every open file: a copy of a
    # watch pipe's write end would keep the supervisor from seeing EOF when we die.
    for child in list(_LIVE.values()):
        fd, child._watch = child._watch, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
    _LIVE.clear()  # they are the parent's children, not this process's to stop at exit


os.register_at_fork(after_in_child=_close_inherited_watch_fds)


def _stop_all(wait: float) -> None:
    """From a signal handler: cue every supervisor, then wait up to ``wait`` s for them to end.

    Waits without reaping and without Popen's lock, which the interrupted code may hold.
    """
    children = list(_LIVE.values())
    for child in children:
        child._close_watch(blocking=False)
    deadline = time.monotonic() + wait
    for child in children:
        proc = child._proc
        while proc is not None and not _exited(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.01)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _stop_all(wait=max((c.grace for c in list(_LIVE.values())), default=0) + 1)
    # Then die of SIGTERM as before, so whoever sent it sees the usual status.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.raise_signal(signal.SIGTERM)


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    # A Ctrl-C aborts whatever uses the children, and worker threads (``gymkit check -j``)
    # cannot be interrupted: stopping the children ends their work, so the process can exit.
    _stop_all(wait=0)
    signal.default_int_handler(signum, frame)


@atexit.register
def _stop_at_exit() -> None:
    # Children a caller never stopped (no with-block, or an exception on the way out) go
    # before we do, not a moment after, when the supervisors see the pipe close.
    for child in list(_LIVE.values()):
        child.stop()


def install_signal_handlers() -> None:
    """Stop the children on SIGTERM and SIGINT; only replaces Python's default handlers.

    Safe to call more than once; a no-op outside the main thread, where signals cannot be set.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_sigint)


# --- the supervisor (python -m gymkit.childproc WATCH_FD REPORT_FD GRACE PDEATHSIG RULES -- ARGV) ---


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            # The command name (in parentheses) may hold spaces; ppid is the second field after it.
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry))
    return found


def _kill_orphans(subreaper: bool) -> None:
    """Kill what was reparented to us (grandchildren that left the group); bounded."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if subreaper:
            for pid in _children_of(os.getpid()):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            return  # no children left at all
        if not subreaper:
            return
        time.sleep(0.01)


class _Policy(TypedDict, total=False):
    """The supervisor's rules, as ChildProcess._policy writes them in JSON."""

    writable: list[str]
    remove: str


def _supervise(watch: int, report: int, grace: float, pdeathsig: bool, argv: list[str], policy: _Policy) -> int:
    try:
        return _run_command(watch, report, grace, pdeathsig, argv, policy.get("writable") or [])
    finally:
        if policy.get("remove"):
            shutil.rmtree(policy["remove"], ignore_errors=True)


def _run_command(watch: int, report: int, grace: float, pdeathsig: bool, argv: list[str], writable: list[str]) -> int:
    me = os.getpid()
    ruleset = -1
    if writable:
        # Built here, before the fork, so a failure is reported rather than lost in the child.
        try:
            ruleset = _confine.build_ruleset(writable)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.write(report, f"err {exc.errno or 1} cannot confine the command: {exc.strerror}\n".encode())
            return 127
    if pdeathsig:
        # SIGTERM, not SIGKILL: it lands in the loop below, which stops the child's group.
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    subreaper = _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    asked: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: asked.append(signum))
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # a handler, so the wakeup fd hears it

    def before_exec() -> None:
        # Safe here: the supervisor has one thread. Covers a supervisor killed -9.
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != me:
            os.kill(os.getpid(), signal.SIGKILL)
        if ruleset >= 0:
            _confine.apply(ruleset)  # last: from here on only the command's own code runs

    try:
        child = subprocess.Popen(argv, process_group=0, preexec_fn=before_exec)
    except (OSError, subprocess.SubprocessError) as exc:
        code = getattr(exc, "errno", None) or 1
        with contextlib.suppress(OSError):
            os.write(report, f"err {code} {getattr(exc, 'strerror', None) or exc}\n".encode())
        return 127
    if ruleset >= 0:
        os.close(ruleset)
    # A parent already gone makes this fail; the watch pipe's EOF below then stops the child.
    with contextlib.suppress(OSError):
        os.write(report, f"ok {child.pid}\n".encode())
    os.close(report)
    # Our stdout is the parent's ready-line pipe: only the child's copy may keep it open, so
    # the parent sees EOF when the child ends.
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)
    os.close(devnull)

    while not asked and not _exited(child.pid):
        readable, _, _ = select.select([watch, wake_r], [], [])
        if watch in readable and not os.read(watch, 64):
            break  # EOF: the parent stopped us or died
        with contextlib.suppress(BlockingIOError):
            os.read(wake_r, 512)

    # TERM the whole group even when the child ended by itself: grandchildren may remain.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while not _exited(child.pid) and time.monotonic() < deadline:
        select.select([wake_r], [], [], min(0.05, max(0.0, deadline - time.monotonic())))
        with contextlib.suppress(BlockingIOError):
            os.read(wake_r, 512)
    # The child is a zombie at worst (not reaped yet), so its group id cannot have been reused.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
    code = child.wait()
    _kill_orphans(subreaper)
    return 128 - code if code < 0 else code


def _main(args: list[str]) -> int:
    watch, report, grace, pdeathsig = int(args[0]), int(args[1]), float(args[2]), args[3] == "1"
    policy: _Policy = json.loads(args[4]) if args[4] != "-" else {}
    return _supervise(watch, report, grace, pdeathsig, args[args.index("--") + 1 :], policy)


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
else:
    install_signal_handlers()
