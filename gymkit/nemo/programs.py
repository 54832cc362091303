"""Programs an upstream server runs that this machine does not have, seen as the server runs them.

Some verifiers run a program NeMo Gym's deployment provides: swerl_gen runs each patch's tests in
a ``singularity`` container. Started here without it, verify pays reward 0, and re-verification
sees a wrong reward that is this machine's, not the server's. A program named in the code is no
evidence the server ran it (dead code names anything), so the server's own Python says what it
started: a ``.pth`` file in the server's environment (which gymkit builds) loads an audit hook
(PEP 578) into every Python of that environment whose variables name a log, the server and the
Ray workers that run its tasks alike, whatever ``PYTHONPATH`` a Ray ``runtime_env`` gives them
(swerl_gen's sets its own). The hook only reads each ``subprocess.Popen`` and ``os.posix_spawn``
event and logs a program found neither on ``PATH`` nor at its path; the processes behave as they
would without it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["ProgramWatch"]

_LOG = "GYMKIT_MISSING_PROGRAMS"
_HOOK_FILE = "GYMKIT_PROGRAM_HOOK"
_PTH = "gymkit-program-watch.pth"
# site runs a .pth line that starts with `import`; unset, as in every run gymkit does not watch, it does nothing.
_PTH_LINE = (
    f"import os; _p = os.environ.get({_HOOK_FILE!r}); "
    "_p and exec(compile(open(_p, encoding='utf-8').read(), _p, 'exec'), {'__name__': 'gymkit_program_hook'})\n"
)
_MAX_PROGRAMS = 8

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

    def started(event, args):
        # (program, environment) of a process about to start. A command line under `sh -c` is the shell's
        # to resolve; os.exec is left out: os.execvp raises it for each PATH entry it tries.
        if event == "subprocess.Popen":  # Popen has made args a list and chosen the executable by now
            return args[0], args[3]
        if event == "os.posix_spawn":
            return args[0], args[2]
        return None, None

    def hook(event, args):
        try:
            name, env = started(event, args)
            if name is None:
                return
            name = os.fsdecode(name)
            if name in seen:
                return
            seen.add(name)
            path = (env if env is not None else os.environ).get("PATH", os.defpath)
            found = os.access(name, os.X_OK) if os.sep in name else shutil.which(name, path=os.fsdecode(path))
            if not found:
                with open(log, "a", encoding="utf-8") as out:
                    out.write(name.replace("\\n", " ") + "\\n")
        except BaseException:
            pass

    sys.addaudithook(hook)


_gymkit_watch()

'''


class ProgramWatch:
    """While entered, the environment a server's process gets so it logs the missing programs it starts."""

    def __init__(self) -> None:
        self.missing: list[str] = []  # in the order first started, at most _MAX_PROGRAMS
        self._dir: Path | None = None

    def environment(self, site_packages: Path) -> dict[str, str]:
        """Variables for the server's process, once the hook is in the environment at ``site_packages``."""
        pth = site_packages / _PTH
        try:
            if not pth.is_file() or pth.read_text(encoding="utf-8") != _PTH_LINE:
                staged = pth.with_name(f".{_PTH}.{os.getpid()}")
                staged.write_text(_PTH_LINE, encoding="utf-8")
                staged.replace(pth)  # whole: another server of this environment may be starting now
        except OSError:
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
            if name and name not in self.missing and len(self.missing) < _MAX_PROGRAMS:
                self.missing.append(name)
        shutil.rmtree(folder, ignore_errors=True)
