"""A server's own virtualenv: gymkit and the server's requirements.txt, rebuilt when either changes."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymkit
from gymkit import childproc
from gymkit.confine import Confinement, installer_caches
from gymkit.errors import UserError
from gymkit.hashing import file_sha256, local_requirement_files

__all__ = [
    "CACHE_DIR",
    "ENV_STAMP",
    "Environment",
    "GymkitSource",
    "environment_key",
    "find_uv",
    "gymkit_source",
    "prepare_environment",
]

CACHE_DIR = ".gymkit-cache"
ENV_STAMP = "gymkit-environment.json"
_INCLUDE = re.compile(r"^\s*(?:-r|-c|--requirement|--constraint)(?:\s*=\s*|\s+)(\S+)")


@dataclass(frozen=True)
class GymkitSource:
    """Where the server's environment gets gymkit from: a checkout (editable) or a wheel file."""

    install: tuple[str, ...]
    fingerprint: dict[str, Any]
    description: str


def _is_checkout(folder: Path) -> bool:
    try:
        project = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return False
    return bool(project.get("project", {}).get("name") == "gymkit")


def _checkout(folder: Path) -> GymkitSource:
    project = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    fingerprint = {
        "gymkit": str(folder),
        "dependencies": project.get("dependencies", []),
        "scripts": project.get("scripts", {}),
    }
    # Editable: gymkit's code changes need no rebuild, only its dependency list does.
    return GymkitSource(("-e", str(folder)), fingerprint, f"editable from {folder}")


def gymkit_source(gym_root: Path) -> GymkitSource:
    """GYMKIT_SOURCE, else the gym when it is a gymkit checkout, else the running gymkit's checkout or wheel."""
    named = os.environ.get("GYMKIT_SOURCE")
    if named:
        folder = Path(named).resolve()
        if not (folder / "pyproject.toml").is_file():
            raise UserError(f"no gymkit checkout at {folder} (no pyproject.toml); set GYMKIT_SOURCE to one")
        return _checkout(folder)
    running = Path(gymkit.__file__).resolve().parent.parent
    for folder in (gym_root.resolve(), running):
        if _is_checkout(folder):
            return _checkout(folder)
    # Installed from a wheel: install that same build, rebuilt from its files (see gymkit.testing.wheel).
    # Not --system-site-packages or a .pth into this installation: the server would then see
    # every package installed next to gymkit, and pass here where CI, without them, fails.
    from importlib import metadata

    from gymkit.testing.wheel import installed_record_sha256, repack_installed_gymkit

    wheel = repack_installed_gymkit(gym_root / CACHE_DIR / "wheels")
    dist = metadata.distribution("gymkit")
    fingerprint = {
        "gymkit": f"gymkit {dist.version} (installed build {installed_record_sha256()})",
        "dependencies": dist.requires or [],
    }
    return GymkitSource((str(wheel),), fingerprint, f"gymkit {dist.version} rebuilt from its installation ({wheel})")


def _requirement_texts(path: Path, seen: dict[str, str | None]) -> dict[str, str | None]:
    """The text of ``path`` and of every file it pulls in with -r/-c, by resolved path."""
    key = str(path.resolve())
    if key in seen:
        return seen
    seen[key] = path.read_text(encoding="utf-8") if path.is_file() else None
    for line in (seen[key] or "").splitlines():
        match = _INCLUDE.match(line)
        if match:
            _requirement_texts(path.parent / match.group(1), seen)
    return seen


def environment_key(server_dir: Path, source: GymkitSource) -> str:
    """What a server's environment is built from; the environment is rebuilt when it changes."""
    parts = {
        **source.fingerprint,
        "python": sys.version,
        # Every file pip reads besides the index: included requirement files, and the local
        # wheels and folders the requirements install, whose content can change under one name.
        "requirements": {str(path): file_sha256(path) for path in local_requirement_files(server_dir)},
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def find_uv() -> str | None:
    """uv on PATH, or next to this Python (a venv's bin/), or from the ``uv`` package."""
    found = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if found:
        return found
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return None


@dataclass(frozen=True)
class Environment:
    location: Path
    backend: str  # "uv" or "venv"
    # Why the last install failed, in the installer's words; not part of the environment's identity.
    failure: str = field(default="", compare=False, hash=False)

    @property
    def bin(self) -> Path:
        return self.location / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    @property
    def site_packages(self) -> Path | None:
        found = [p for p in self.location.glob("lib/python3.*/site-packages") if p.parent.name[9:].isdigit()]
        return max(found, key=lambda p: int(p.parent.name[9:]), default=None)  # python3.12 after python3.9

    def variables(self, *, on_path: tuple[Path, ...] = (), **extra: str) -> dict[str, str]:
        """os.environ as a process in this environment sees it: its bin/ first (then ``on_path``), no caller's
        PYTHONPATH."""
        env = {**os.environ, "VIRTUAL_ENV": str(self.location)}
        env["PATH"] = os.pathsep.join([str(self.bin), *map(str, on_path), env.get("PATH", "")])
        # The caller's PYTHONPATH would let the server import what its environment lacks.
        env.pop("PYTHONPATH", None)
        # uv installs without bytecode, and many machines set PYTHONDONTWRITEBYTECODE, so every
        # process would compile fastapi & co. again (0.3 s of CPU each on an idle 2-core machine).
        # Cache it inside the environment instead; the source trees stay free of __pycache__.
        env.update(PYTHONDONTWRITEBYTECODE="", PYTHONPYCACHEPREFIX=str(self.location / "pycache"))
        env.update(extra)
        return env

    def build_confinement(self) -> Confinement:
        """Where an install may write: this environment and the installers' caches (plus its own temp folder).

        Installing runs the requirements' build code (setup.py, build backends), which is the
        contributor's; the checkout, gymkit and every other environment stay out of its reach.
        """
        return Confinement(writable=(self.location, *installer_caches(find_uv())))

    def install(self, *args: str, cwd: Path | None = None) -> int:
        """Install into this environment with its own installer; its exit status.

        The installer's output is shown whole when it fails, and of a success only its warnings (the
        caller says the rest in one line, not a package list per server); on failure ``failure``
        holds the line that says why, for the caller's one-line error (what a check reports). The
        return stays an exit status: noxfiles copied into gyms test it as one. ``cwd``: where
        relative paths in requirement files resolve (NeMo Gym installs from the server's folder).
        """
        if self.backend == "uv":
            cmd = [find_uv() or "uv", "pip", "install", "--python", str(self.python), *args]
        else:
            cmd = [str(self.python), "-m", "pip", "install", "--disable-pip-version-check", *args]
        code, text = childproc.run(cmd, cwd=cwd, output="capture", confine=self.build_confinement())
        status = code if code is not None else 1
        # Of a success, what the installer warned of though it went on (a misspelt extra, a resolver conflict).
        shown = text if status else "\n".join(line for line in text.splitlines() if _WARNED.match(line))
        if shown:
            print(shown, file=sys.stderr, flush=True)
        object.__setattr__(self, "failure", installer_reason(text) if status else "")  # frozen: a note, not state
        return status

    def compile_imports(self, modules: str) -> None:
        """Import ``modules`` once so their bytecode is cached in the environment for every later stage.

        Part of the build, and confined like it: an installed package may run code at start-up (a .pth).
        """
        code = f"import {modules}"
        childproc.run([str(self.python), "-c", code], env=self.variables(), confine=self.build_confinement())


# Lines of pip's and uv's output that warn, in an install that still succeeded.
_WARNED = re.compile(r"^\s*(?:warning:|WARNING:|ERROR:)")
# The lines of pip's and uv's output that say why an install failed; the last one is the deepest cause.
_REASON = re.compile(r"(?:^|\s)(?:fatal:|error:|ERROR:|╰─▶|Could not|No matching distribution)")


def installer_reason(output: str) -> str:
    """The installer's own words for why it failed, on one line; "" when it said nothing of the kind."""
    lines = output.splitlines()
    found = [i for i, line in enumerate(lines) if _REASON.search(line)]
    if not found:
        return ""
    # uv wraps its explanation, and chains its causes below it: the indented lines after the last error
    # continue it, and the last "cause:" is the deepest (a DNS failure under "Failed to download").
    first = lines[found[-1]]
    indent = len(first) - len(first.lstrip())
    words, causes = [first.strip()], []
    for line in lines[found[-1] + 1 :]:
        if not line.strip() or len(line) - len(line.lstrip()) <= indent:
            break
        text = line.strip()
        if text.startswith("cause:"):
            causes.append(text.removeprefix("cause:").strip())
        else:
            words.append(text)
    reason = re.sub(r"^[×╰─▶\s]+", "", " ".join(words))
    reason = reason if len(reason) <= 240 else reason[:237] + "..."
    return f"{reason}: {causes[-1]}" if causes else reason


def install_cause(reason: str) -> str:
    """What follows "installing X failed" in the one-line error."""
    why = f": {reason}" if reason else ""
    return f"{why} (the installer's whole output is above)"


def _create(location: Path, python: str | None = None) -> Environment:
    if location.exists():
        # Start clean: installing over the old environment would keep packages the server dropped.
        shutil.rmtree(location)
    location.parent.mkdir(parents=True, exist_ok=True)
    uv = find_uv()
    # By default the environment gets the Python running gymkit: known to suit gymkit, and found
    # offline. ``python``: another installed interpreter (NeMo Gym's servers need 3.12).
    python = python or sys.executable
    cmd = [uv, "venv", "--quiet", "--python", python, str(location)] if uv else [python, "-m", "venv", str(location)]
    done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip().splitlines()
        raise UserError(f"cannot create a virtualenv at {location}: {why[-1] if why else f'exit {done.returncode}'}")
    return Environment(location, "uv" if uv else "venv")


def prepare_environment(
    location: Path, server_dir: Path, source: GymkitSource, *, log: Callable[[str], None], label: str, root: Path
) -> Environment:
    """The environment at ``location`` with gymkit and the server's requirements, reused when they are unchanged.

    Raises UserError naming what failed to install; the installer's own output says why.
    """
    shown = os.path.relpath(location, root)
    stamp = location / ENV_STAMP
    key = environment_key(server_dir, source)
    built_from = stamp.read_text(encoding="utf-8") if stamp.is_file() else None
    if built_from == key:
        log(f"[{label}] environment: reused ({shown}); requirements unchanged")
        return Environment(location, "uv" if find_uv() else "venv")
    if built_from is not None:
        log(f"[{label}] environment: requirements changed, rebuilding")
    started = time.perf_counter()
    env = _create(location)
    requirements = server_dir / "requirements.txt"
    args = [*source.install]
    if requirements.is_file():
        args += ["-r", str(requirements)]
    if env.install(*args) != 0:
        what = os.path.relpath(requirements, root) if requirements.is_file() else "gymkit"
        raise UserError(f"[{label}] environment: installing {what} failed{install_cause(env.failure)}")
    # Compile what every stage imports once, here, rather than in two stages at the same time:
    # the later stages may not write the environment.
    env.compile_imports("gymkit.smoke, pytest, pytest_asyncio")
    stamp.write_text(key, encoding="utf-8")
    seconds = time.perf_counter() - started
    log(f"[{label}] environment: built in {seconds:.1f} s ({env.backend}; gymkit {source.description})")
    return env
