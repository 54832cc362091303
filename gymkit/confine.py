"""Kernel-enforced confinement of the processes that run a contributor's code (Linux Landlock).

A server's tests, its environment build, its smoke stage and ``gymkit serve`` run code from the
pull request. Without a limit that code can rewrite gymkit's own files in the checkout, forge
the test stamp ``gymkit check`` reads, or patch site-packages, and the checklist that runs next
in the same CI job believes it. The kernel enforces this module's rules, so nothing the code
does in Python (ctypes included) can lift them:

- writes, creations, removals, renames, links and truncations are allowed only beneath the
  folders a :class:`Confinement` names (the child's private temp folder, and for an
  environment build the environment and the installers' caches), plus ``/dev/null`` and
  ``/dev/shm`` (POSIX semaphores and shared memory: multiprocessing, torch, Ray; gymkit never
  reads it); reads and execution stay unrestricted, since the server needs its code and venv;
- with Landlock ABI >= 6 the code cannot signal a process outside its domain (gymkit, its
  supervisor) nor reach an abstract UNIX socket outside it; at every ABI a Landlock domain
  cannot ptrace (or read ``/proc/PID/mem`` of) a process outside it;
- ``PR_SET_NO_NEW_PRIVS``: a set-uid program (``sudo`` on a CI runner) gains nothing.

The ruleset is built by gymkit.childproc's supervisor (unconfined, so it can still kill the
group and reap orphans) and applied in its forked child right before exec; the command and
everything it starts inherit it. Nested domains are allowed, so a server may confine its own
children further. Landlock denies mount(2) inside any domain that restricts files.

The system-call numbers and rights are the kernel's UAPI (the same on x86_64 and aarch64). The
python_sandbox reference server has its own, stricter binding (``sandbox_confine.py``); the two
are kept apart on purpose, since a server's files are not gymkit's to import.
"""

from __future__ import annotations

import ctypes
import os
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from gymkit.errors import UserError

__all__ = [
    "MIN_ABI",
    "Confinement",
    "apply",
    "build_ruleset",
    "enabled",
    "installer_caches",
    "landlock_abi",
]

# ABI 3 (Linux 6.2) is the first that also governs truncate(); below it a confined process
# could still empty any file it can open for reading.
MIN_ABI = 3
_SIGNAL_ABI = 6

_CREATE, _ADD_RULE, _RESTRICT = 444, 445, 446
_VERSION = 1  # landlock_create_ruleset flag: return the ABI version
_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

_WRITE_FILE = 1 << 1
# Everything that changes the file system, ABI 1: write_file .. make_sym, less read_file/read_dir.
_CHANGE_V1 = ((1 << 13) - 1) & ~(1 << 0 | 1 << 2 | 1 << 3)
_REFER, _TRUNCATE = 1 << 13, 1 << 14
_SCOPE_ABSTRACT_UNIX, _SCOPE_SIGNAL = 1 << 0, 1 << 1

_libc: ctypes.CDLL | None = None
_warned = False


def _lib() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
        _libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    return _libc


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 when Landlock is missing or disabled (or not Linux)."""
    if not sys.platform.startswith("linux"):
        return 0
    version = _lib().syscall(ctypes.c_long(_CREATE), None, ctypes.c_size_t(0), ctypes.c_uint32(_VERSION))
    return max(int(version), 0)


def _handled(abi: int) -> int:
    rights = _CHANGE_V1
    if abi >= 2:
        rights |= _REFER
    if abi >= 3:
        rights |= _TRUNCATE
    return rights


@dataclass(frozen=True)
class Confinement:
    """Where a confined child may write. ``tmp``: its private temp folder (TMPDIR), made by the caller
    when it reads files from there afterwards; None: gymkit.childproc makes and removes one."""

    writable: tuple[Path, ...] = ()
    tmp: Path | None = None

    def folders(self, tmp: Path) -> list[str]:
        # Absolute and resolved: the supervisor may start in another folder, and a rule names an inode.
        return [str(Path(p).resolve()) for p in (tmp, *self.writable)]


def _missing(abi: int) -> str | None:
    if not sys.platform.startswith("linux"):
        return f"Landlock (Linux only; this is {sys.platform})"
    if abi == 0:
        return "Landlock (not enabled in this kernel: needs Linux >= 6.2 with landlock in the lsm= boot parameter)"
    if abi < MIN_ABI:
        return f"Landlock ABI >= {MIN_ABI} (Linux >= 6.2; this kernel has ABI {abi})"
    return None


def enabled() -> bool:
    """Whether children running server code are confined here; raises UserError when CI cannot confine them.

    ``GYMKIT_CONFINE=0`` switches confinement off locally; under CI (``CI`` set) it is ignored,
    and a kernel without Landlock stops the run instead of testing a pull request unconfined.
    """
    global _warned
    ci = bool(os.environ.get("CI"))
    off = os.environ.get("GYMKIT_CONFINE", "").strip().lower() in ("0", "false", "no", "off")
    if off and ci and not _warned:
        _warned = True
        print("gymkit: warning: GYMKIT_CONFINE=0 is ignored under CI; server code runs confined", file=sys.stderr)
    if off and not ci:
        return False
    missing = _missing(landlock_abi())
    if missing is None:
        return True
    if ci:
        raise UserError(f"cannot confine the server's code: this machine lacks {missing}; CI never runs it unconfined")
    if not _warned:
        _warned = True
        print(f"gymkit: warning: server code runs unconfined: this machine lacks {missing}", file=sys.stderr)
    return False


def installer_caches(uv: str | None) -> list[Path]:
    """The folders pip and uv keep their caches in (made when missing: a rule needs a folder to name)."""
    home = Path.home()
    xdg = Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache")
    found = [Path(os.environ.get("PIP_CACHE_DIR") or xdg / "pip")]
    uv_cache = os.environ.get("UV_CACHE_DIR")
    if not uv_cache and uv:
        # uv's own answer: it knows its platform defaults and configuration files.
        done = subprocess.run([uv, "cache", "dir"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
        uv_cache = done.stdout.strip() if done.returncode == 0 else ""
    found.append(Path(uv_cache or xdg / "uv"))
    for folder in found:
        folder.mkdir(parents=True, exist_ok=True)
    return found


def _errno_error(what: str) -> OSError:
    code = ctypes.get_errno()
    return OSError(code, f"{what}: {os.strerror(code)}")


def _add(ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return  # nothing there to write to; the rule would add nothing
    try:
        attr = struct.pack("=Qi", rights, fd)  # struct landlock_path_beneath_attr is packed
        ok = _lib().syscall(ctypes.c_long(_ADD_RULE), ctypes.c_int(ruleset), ctypes.c_int(_PATH_BENEATH), attr, 0)
        if ok != 0:
            raise _errno_error(f"landlock_add_rule {path}")
    finally:
        os.close(fd)


def build_ruleset(folders: list[str]) -> int:
    """A Landlock ruleset allowing changes beneath ``folders`` only; its descriptor (for :func:`apply`)."""
    abi = landlock_abi()
    rights = _handled(abi)
    scoped = _SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL if abi >= _SIGNAL_ABI else 0
    # struct landlock_ruleset_attr grew with the ABI; pass the size this kernel knows.
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    attr = struct.pack("=QQQ", rights, 0, scoped)[:size]
    ruleset = int(_lib().syscall(ctypes.c_long(_CREATE), ctypes.c_char_p(attr), ctypes.c_size_t(size), 0))
    if ruleset < 0:
        raise _errno_error("landlock_create_ruleset")
    try:
        for folder in folders:
            _add(ruleset, folder, rights)
        _add(ruleset, "/dev/shm", rights)
        # A file, not a folder: only the rights that apply to files. /dev/tty is left out.
        _add(ruleset, os.devnull, _WRITE_FILE | (_TRUNCATE if abi >= 3 else 0))
    except BaseException:
        os.close(ruleset)
        raise
    return ruleset


def apply(ruleset: int) -> None:
    """Restrict the calling (single-threaded) process with ``ruleset``; in a forked child before exec."""
    lib = _lib()
    if lib.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise _errno_error("prctl(PR_SET_NO_NEW_PRIVS)")
    if lib.syscall(ctypes.c_long(_RESTRICT), ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
        raise _errno_error("landlock_restrict_self")
