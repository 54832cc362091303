"""An upstream server's environment: the real nemo-gym runtime and the server's own requirements, on Python 3.12+.

This is what NeMo Gym itself does before starting a server (``uv venv`` then ``uv pip
install -r requirements.txt`` from the server's folder), with three differences: the
environment lives under the gym's ``.gymkit-cache/envs/`` rather than in the server's folder;
servers whose requirements are the same share one (most of upstream's list only nemo-gym); and
it is rebuilt only when what it is built from changes.

A server's ``-e nemo-gym[dev] @ ../../`` line means "this checkout, editable": the path is
resolved from the server's folder, as NeMo Gym resolves it. Outside a checkout (a gym of servers
that import nemo_gym), nemo-gym comes from the package index instead: ``GYMKIT_NEMO_GYM`` names
the requirement (a version pin or a wheel file), ``nemo-gym`` by default.

An editable install is not run, though: building one (setuptools, and any backend that writes
its metadata next to the source) writes into the checkout, and the build is confined to the
environment and the installers' caches (gymkit.confine), so the checkout's own build code, a
pull request's, cannot touch the tree gymkit checks. The environment gets what an editable
install gives instead, without building anything: the dependencies the checkout's
``pyproject.toml`` declares (with the extras asked for), and a ``.pth`` file putting the
checkout on ``sys.path``, so nemo_gym is imported live from the tree and finds its repository
root as in an editable install. Console scripts (``ng_run``...) are not installed: one server
does not use them. A server with its own ``pyproject.toml`` gets its declared dependencies the
same way; its folder is on the path when it runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from gymkit.errors import UserError
from gymkit.nemo.detect import is_nemo_checkout, nemo_checkout
from gymkit.nemo.python import find_python, python_version
from gymkit.testing.environment import (
    CACHE_DIR,
    ENV_STAMP,
    Environment,
    _create,
    _requirement_texts,
    find_uv,
    install_cause,
)

__all__ = ["NemoRequirements", "nemo_requirements", "prepare_nemo_environment", "pytest_beside"]

# `-e nemo-gym[dev] @ ../../`, `nemo_gym @ file:///x`, `-e ../..`: a requirement naming a local nemo-gym.
_NAMED_PATH = re.compile(
    r"^(?P<e>-e\s+|--editable[=\s]+)?(?P<name>nemo[-_.]gym)(?P<extras>\[[^\]]*\])?\s*@\s*(?P<path>\S+)", re.IGNORECASE
)
_BARE_PATH = re.compile(r"^(?P<e>-e\s+|--editable[=\s]+)(?P<path>[./~]\S*)$")


_PTH = "gymkit-nemo-checkout.pth"
_NAME = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[(?P<extras>[^\]]*)\])?")


class NemoRequirements:
    """What to install for one server: installer arguments, and what they depend on (the fingerprint)."""

    def __init__(
        self, args: list[str], fingerprint: dict[str, object], rewritten: str | None, checkout: Path | None = None
    ) -> None:
        self.args = args
        self.fingerprint = fingerprint
        self.rewritten = rewritten  # requirements.txt with the nemo-gym line replaced, if it had one
        self.checkout = checkout  # the checkout put on sys.path, when a requirement named one


def _project(folder: Path) -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8")).get("project", {})
    return project


def _declared(folder: Path, extras: str) -> list[str]:
    """The requirements ``folder``'s pyproject.toml declares, with ``extras`` ("[dev]"), self-references expanded."""
    project = _project(folder)
    dynamic = {"dependencies", "optional-dependencies"} & set(project.get("dynamic", []))
    if dynamic:
        raise UserError(
            f"{folder / 'pyproject.toml'} declares its {' and '.join(sorted(dynamic))} as dynamic; gymkit reads"
            " them from pyproject.toml (it does not run the checkout's build), so list them there"
        )
    own = re.sub(r"[-_.]+", "-", str(project.get("name", ""))).lower()
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    wanted = [e.strip() for e in extras.strip("[]").split(",") if e.strip()]
    out: list[str] = []
    seen: set[str] = set()
    pending = [*project.get("dependencies", [])]
    while wanted:
        extra = wanted.pop()
        if extra not in seen:
            seen.add(extra)
            pending += optional.get(extra, [])
    for spec in pending:
        match = _NAME.match(spec)
        if match and re.sub(r"[-_.]+", "-", match.group("name")).lower() == own:
            # `all = ["nemo-gym[dev,sandbox]"]`: the project naming its own extras.
            out += [d for d in _declared(folder, f"[{match.group('extras') or ''}]") if d not in out]
        elif spec not in out:
            out.append(spec)
    return out


def _checkout_fingerprint(checkout: Path) -> dict[str, object]:
    project = _project(checkout)
    # Imported live from the tree: nemo_gym's code changes need no rebuild, only its dependency lists do.
    return {
        "nemo-gym": str(checkout),
        "install": "declared dependencies + .pth",
        "dependencies": project.get("dependencies", []),
        "optional": project.get("optional-dependencies", {}),
    }


def _is_nemo(spec: str) -> bool:
    match = _NAME.match(spec)
    return match is not None and re.sub(r"[-_.]+", "-", match.group("name")).lower() == "nemo-gym"


def _local_nemo(line: str, server_dir: Path) -> tuple[Path, str] | None:
    """The checkout a requirement line points at, and its extras; None for any other line."""
    text = line.split(" #", 1)[0].strip()
    match = _NAMED_PATH.match(text) or _BARE_PATH.match(text)
    if not match:
        return None
    raw = match.group("path").removeprefix("file://")
    if "://" in raw:
        return None  # from a URL: the installer fetches it as written
    folder = (server_dir / Path(raw).expanduser()).resolve()
    if "name" not in match.groupdict() and not is_nemo_checkout(folder):
        return None  # an editable path to some other local package
    return folder, match.groupdict().get("extras") or ""


def _uv_sources(folder: Path) -> dict[str, dict[str, Any]]:
    """``[tool.uv.sources]`` of the server's pyproject.toml, by normalised name: where uv takes a dependency from."""
    table = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8")).get("tool", {})
    sources = table.get("uv", {}).get("sources", {})
    return {re.sub(r"[-_.]+", "-", k).lower(): v for k, v in sources.items() if isinstance(v, dict)}


def _from_source(spec: str, sources: dict[str, dict[str, Any]], folder: Path) -> str:
    """``spec`` as uv installs it for the project: from its git, URL or path source, not the index.

    A name installed from the index instead of the project's git source can be another package
    entirely (code_fim's human-eval-infilling: PyPI's has no such module), or an attacker's.
    """
    match = _NAME.match(spec)
    source = sources.get(re.sub(r"[-_.]+", "-", match.group("name")).lower()) if match else None
    if match is None or source is None:
        return spec
    head = match.group(0).strip()
    if isinstance(source.get("git"), str):
        ref = next((source[k] for k in ("rev", "tag", "branch") if isinstance(source.get(k), str)), None)
        return f"{head} @ git+{source['git']}" + (f"@{ref}" if ref else "")
    if isinstance(source.get("url"), str):
        return f"{head} @ {source['url']}"
    if isinstance(source.get("path"), str):
        return f"{head} @ {(folder / source['path']).resolve().as_uri()}"
    return spec


def nemo_requirements(server_dir: Path) -> NemoRequirements:
    """The installer arguments for ``server_dir``'s environment; UserError for a server NeMo Gym could not set up."""
    requirements = server_dir / "requirements.txt"
    pyproject = server_dir / "pyproject.toml"
    if requirements.is_file() and pyproject.is_file():
        raise UserError(f"{server_dir.name} has both requirements.txt and pyproject.toml; NeMo Gym accepts one of them")
    checkout = nemo_checkout(server_dir)
    index_spec = os.environ.get("GYMKIT_NEMO_GYM", "nemo-gym")
    fingerprint: dict[str, object] = {}
    if pyproject.is_file():
        fingerprint["pyproject"] = pyproject.read_text(encoding="utf-8")
        lines: list[str] = []
        named = False
        sources = _uv_sources(server_dir)
        for spec in _declared(server_dir, ""):
            if not _is_nemo(spec):
                lines.append(_from_source(spec, sources, server_dir))
                continue
            named = True
            match = _NAME.match(spec)
            extras = f"[{match.group('extras')}]" if match and match.group("extras") else ""
            lines += _declared(checkout, extras) if checkout else [f"{index_spec}{extras}"]
        if not named:
            lines += _declared(checkout, "") if checkout else [index_spec]
        fingerprint.update(_checkout_fingerprint(checkout) if checkout else {"nemo-gym": index_spec})
        rewritten = "\n".join(lines) + "\n"
        fingerprint["requirements"] = rewritten
        return NemoRequirements([], fingerprint, rewritten, checkout)
    if not requirements.is_file():
        raise UserError(f"{server_dir.name} has no requirements.txt or pyproject.toml; NeMo Gym needs one to set it up")
    lines = requirements.read_text(encoding="utf-8").splitlines()
    out: list[str] = []
    named = False
    on_path: Path | None = None
    for line in lines:
        local = _local_nemo(line, server_dir)
        if local is None:
            out.append(line)
            continue
        named = True
        folder, extras = local
        if is_nemo_checkout(folder):
            out += _declared(folder, extras)
            on_path = folder
            fingerprint.update(_checkout_fingerprint(folder))
        else:
            # No checkout there (the server was copied out of one): NeMo Gym then installs nemo-gym from the index too.
            out.append(index_spec)
            fingerprint["nemo-gym"] = index_spec
    # By content, not path: servers listing the same requirements share one environment.
    included = list(_requirement_texts(requirements, {}).values())[1:]
    fingerprint["included"] = sorted(text or "" for text in included)
    if not named and not any(re.match(r"^\s*nemo[-_.]gym\b", line) for line in lines):
        out.insert(0, index_spec)  # the server imports nemo_gym, so its runtime is needed whatever the file says
        fingerprint["nemo-gym"] = index_spec
    rewritten = "\n".join(out) + "\n"
    fingerprint["requirements"] = rewritten
    return NemoRequirements([], fingerprint, rewritten, on_path)


def _gym_root(server_dir: Path) -> Path:
    checkout = nemo_checkout(server_dir)
    if checkout:
        return checkout
    # resources_servers/NAME: the gym is two levels up, as NeMo Gym lays servers out.
    return server_dir.resolve().parent.parent


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # Two servers with the same requirements may be started at once (a check's thread pool).
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _put_on_path(env: Environment, checkout: Path) -> None:
    """A .pth file in the environment's site-packages naming the checkout, as an editable install leaves one."""
    done = subprocess.run(
        [str(env.python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    site = Path(done.stdout.strip())
    if done.returncode != 0 or not site.is_dir():
        raise UserError(f"environment {env.location}: cannot find its site-packages ({done.stderr.strip()})")
    (site / _PTH).write_text(f"{checkout}\n", encoding="utf-8")


def prepare_nemo_environment(
    server_dir: Path, *, log: Callable[[str], None], root: Path | None = None, python: str | None = None
) -> Environment:
    """The environment for an upstream server, built or reused; UserError naming what failed to install."""
    server_dir = server_dir.resolve()
    root = root or _gym_root(server_dir)
    python = python or find_python()
    version = python_version(python)
    wanted = nemo_requirements(server_dir)
    key = hashlib.sha256(
        json.dumps({**wanted.fingerprint, "python": version, "interpreter": python}, sort_keys=True).encode()
    ).hexdigest()
    location = root / CACHE_DIR / "envs" / f"nemo-gym-{key[:16]}"
    shown = os.path.relpath(location, root)
    label = server_dir.name
    with _locked(location.with_suffix(".lock")):
        stamp = location / ENV_STAMP
        if stamp.is_file() and stamp.read_text(encoding="utf-8") == key:
            log(f"[{label}] environment: reused ({shown})")
            return Environment(location, "uv" if find_uv() else "venv")
        started = time.perf_counter()
        env = _create(location, python)
        args = list(wanted.args)
        if wanted.rewritten is not None:
            resolved = location / "requirements.txt"
            resolved.write_text(wanted.rewritten, encoding="utf-8")
            args += ["-r", str(resolved)]
        # From the server's folder: its other relative lines resolve there, as NeMo Gym runs them.
        if env.install(*args, cwd=server_dir) != 0:
            cause = install_cause(env.failure)
            raise UserError(f"[{label}] environment: installing nemo-gym and its requirements failed{cause}")
        if wanted.checkout is not None:
            _put_on_path(env, wanted.checkout)
        # Compile nemo_gym's imports once, here, rather than in every server start (confined like the install).
        env.compile_imports("nemo_gym.base_resources_server")
        stamp.write_text(key, encoding="utf-8")
        seconds = time.perf_counter() - started
        shown_version = ".".join(map(str, version or ()))
        log(f"[{label}] environment: built in {seconds:.1f} s ({env.backend}, Python {shown_version})")
        return env


# What upstream's `nemo-gym[dev]` extra brings for a server's tests.
_TEST_RUNNER = ("pytest", "pytest-asyncio")


def pytest_beside(env: Environment, *, log: Callable[[str], None]) -> Path:
    """A folder holding pytest for ``env``'s Python, installed beside the environment rather than into it.

    For a server whose requirements leave pytest out: ng_test then runs whichever pytest is on PATH,
    outside the server's venv, and its tests still run. The environment's packages stay what its
    requirements make them; this folder (inside the environment's, where its confined installer may
    write, and gone with it) goes last on sys.path when its tests are collected.
    """
    target = env.location / "gymkit-pytest"
    # The lock beside the environment, as its own is: inside, its confined build could have put a link.
    with _locked(env.location.with_name(f"{env.location.name}.pytest.lock")):
        stamp = target / ENV_STAMP
        if stamp.is_file() and not stamp.is_symlink():
            return target
        try:
            if target.is_symlink():
                target.unlink()
            elif target.exists():
                shutil.rmtree(target)
            if env.install("--target", str(target), *_TEST_RUNNER) != 0:
                raise UserError(f"installing pytest beside {env.location.name} failed{install_cause(env.failure)}")
            handle = os.open(stamp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(" ".join(_TEST_RUNNER))
        except OSError as exc:
            raise UserError(f"installing pytest beside {env.location.name} failed: {exc}") from None
        log(f"environment: pytest installed beside the packages of {env.location.name} (ng_test runs the one on PATH)")
        return target
