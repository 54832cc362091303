"""Programs an upstream server runs that this machine does not have, seen as the server runs them.

Some verifiers run a program NeMo Gym's deployment provides: swerl_gen runs each patch's tests in
a ``singularity`` container. Started here without it, verify pays reward 0, and re-verification
sees a wrong reward that is this machine's, not the server's. A program named in the code is no
evidence the server ran it (dead code names anything), and a program it ran is none that its own
code needs (``ctypes.util`` runs ``ld`` and ``platform`` runs ``file`` to probe, and carry on
without them): a program counts when the server tried to start it and its own code names it.

What it tried to start its own Python says: a ``.pth`` file in the server's environment (which
gymkit builds) loads an audit hook (PEP 578) into every Python of that environment whose
variables name a log, the server and the Ray workers that run its tasks alike, whatever
``PYTHONPATH`` a Ray ``runtime_env`` gives them (swerl_gen's sets its own). The hook only reads
each ``subprocess.Popen`` and ``os.posix_spawn`` event, and each call of asyncio's
``create_subprocess_exec`` (under uvloop, cvdp's ``apptainer``, no event fires), and logs a
program found neither on ``PATH`` nor at its path; the processes behave as they would without it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["ProgramWatch", "named_in_code"]

_LOG = "GYMKIT_MISSING_PROGRAMS"
_HOOK_FILE = "GYMKIT_PROGRAM_HOOK"
_PTH = "gymkit-program-watch.pth"
# site runs a .pth line that starts with `import`; unset, as in every run gymkit does not watch, it does nothing.
_PTH_LINE = (
    f"import os; _p = os.environ.get({_HOOK_FILE!r}); "
    "_p and os.path.isfile(_p) and exec(compile(open(_p, encoding='utf-8').read(), _p, 'exec'),"
    " {'__name__': 'gymkit_program_hook'})\n"
)

# Never raises: an audit hook that raises aborts the call it watches.
_HOOK = f'''\
"""gymkit's watch on the programs this process starts (gymkit.nemo.programs)."""
import os
import sys


def _gymkit_watch():
    log = os.environ.get("{_LOG}")
    if not log:
        return
    import shutil

    seen = set()

    events = ("subprocess.Popen", "os.posix_spawn")

    def started(event, args):
        # (program, working folder, environment) of a process about to start. A command line under
        # `sh -c` is the shell's to resolve; os.exec is left out: os.execvp raises it for each PATH
        # entry it tries.
        if event == "subprocess.Popen":  # Popen has made args a list and chosen the executable by now
            return args[0], args[2], args[3]
        return args[0], None, args[2]

    def note(name, cwd, env):
        name = os.fsdecode(name)
        if name in seen:
            return
        seen.add(name)
        if os.sep in name:  # a path: relative to the folder the process starts in
            found = os.access(os.path.join(os.fsdecode(cwd) if cwd else os.getcwd(), name), os.X_OK)
        else:
            path = (env if env is not None else os.environ).get("PATH", os.defpath)
            found = shutil.which(name, path=os.fsdecode(path)) is not None
        if not found:
            with open(log, "a", encoding="utf-8") as out:
                out.write(name.replace("\\n", " ") + "\\n")

    # uvloop (nemo-gym's uvicorn runs on it) starts an asyncio subprocess from C, where no audit
    # event fires: create_subprocess_exec is wrapped to note the program, then calls through.
    wrapped = {{}}  # module name: the function it now holds
    wrappers = {{}}  # id of an original: its one wrapper, whichever module held it

    def watching(original):
        import functools

        @functools.wraps(original)  # its name and module too, so it pickles by reference as before
        async def create_subprocess_exec(program, *args, **kwargs):
            try:
                # The file that runs is `executable` where given, as in Popen; `program` is argv[0].
                note(kwargs.get("executable") or program, kwargs.get("cwd"), kwargs.get("env"))
            except Exception:
                pass
            return await original(program, *args, **kwargs)

        return create_subprocess_exec

    def watch_asyncio():
        for module_name in ("asyncio.subprocess", "asyncio"):  # the package re-exports the submodule's
            module = sys.modules.get(module_name)
            current = getattr(module, "create_subprocess_exec", None)
            if current is None or module_name in wrapped:
                continue
            if current not in wrappers.values():
                current = wrappers.setdefault(id(current), watching(current))
                module.create_subprocess_exec = current
            wrapped[module_name] = current

    def hook(event, args):
        try:
            if len(wrapped) < 2 and "asyncio.subprocess" in sys.modules:
                watch_asyncio()
            if event not in events:
                return
            name, cwd, env = started(event, args)
            if name is not None:
                note(name, cwd, env)
        except Exception:  # not BaseException: a signal handler's KeyboardInterrupt or SystemExit must go on
            pass

    sys.addaudithook(hook)


_gymkit_watch()

'''


class ProgramWatch:
    """While entered, the environment a server's process gets so it logs the missing programs it starts."""

    def __init__(self) -> None:
        self.missing: list[str] = []  # in the order first started
        # Resource sets the server's own Ray could not place (gymkit.nemo.ray_logs), filled in as it stops.
        self.unschedulable: list[str] = []
        self._dir: Path | None = None

    def environment(self, site_packages: Path) -> dict[str, str]:
        """Variables for the server's process, once the hook is in the environment at ``site_packages``."""
        if not _install_pth(site_packages):
            return {}  # an environment gymkit may not write to goes unwatched, as before
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="gymkit-programs-"))
            (self._dir / "hook.py").write_text(_HOOK, encoding="utf-8")
        return {_HOOK_FILE: str(self._dir / "hook.py"), _LOG: str(self._dir / "missing.log")}

    def collect(self) -> None:
        """Read what the server's processes logged (call it once they have stopped) and remove the hook."""
        folder, self._dir = self._dir, None
        if folder is None:
            return
        try:
            lines = (folder / "missing.log").read_text(encoding="utf-8").splitlines()
        except OSError:
            lines = []
        for name in lines:
            if name and name not in self.missing:
                self.missing.append(name)
        shutil.rmtree(folder, ignore_errors=True)


def _holds_hook(pth: Path) -> bool:
    try:
        return pth.read_text(encoding="utf-8") == _PTH_LINE
    except OSError:
        return False


def _install_pth(site_packages: Path) -> bool:
    """Put the .pth in the environment, whole; True once it is there (another thread may have put it)."""
    pth = site_packages / _PTH
    if _holds_hook(pth):
        return True
    try:
        handle, staged = tempfile.mkstemp(dir=site_packages, prefix=".gymkit-pth-")
    except OSError:
        return False
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(_PTH_LINE)
        os.replace(staged, pth)  # each caller its own staged file: threads of one process start servers at once
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(staged)
    return _holds_hook(pth)


_SKIPPED = frozenset({".venv", ".gymkit-cache", "node_modules", "__pycache__", ".git", "data"})
_MAX_FILES = 2000
_MAX_BYTES = 1_000_000


def named_in_code(server_dir: Path, programs: list[str]) -> list[str]:
    """The programs a string literal in the server's own Python code names (as written, or by file name)."""
    wanted = {name: {name, os.path.basename(name)} for name in programs}
    found: set[str] = set()
    files = 0
    for folder, dirs, names in os.walk(server_dir):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED and not d.startswith("."))
        for file in sorted(n for n in names if n.endswith(".py")):
            files += 1
            if files > _MAX_FILES:
                return [p for p in programs if p in found]
            try:
                with open(os.path.join(folder, file), encoding="utf-8", errors="replace") as handle:
                    text = handle.read(_MAX_BYTES)
            except OSError:
                continue
            for name, spellings in wanted.items():
                if name not in found and any(f'"{s}"' in text or f"'{s}'" in text for s in spellings if s):
                    found.add(name)
    return [p for p in programs if p in found]
