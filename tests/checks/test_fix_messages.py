"""Every command option a check's fix text names exists: a fix that names a missing flag sends people nowhere."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer

from gymkit.checks import all_checks
from gymkit.cli import app

# nox sessions that pass their arguments on to a gymkit command.
_NOX_SESSIONS = {"profile-rewards": "profile", "rollouts": "rollouts"}


def _options(command: Any) -> set[str]:
    return {flag for param in command.params for flag in (*param.opts, *param.secondary_opts)}


@pytest.mark.parametrize("check", all_checks(), ids=lambda c: c.code())
def test_options_in_a_fix_belong_to_the_commands_it_names(check: type) -> None:
    group: Any = typer.main.get_command(app)
    fix = check.fix()
    named = re.findall(r"gymkit ([a-z][a-z-]*)", fix)
    named += [_NOX_SESSIONS[s] for s in re.findall(r"nox -s ([a-z-]+)", fix) if s in _NOX_SESSIONS]
    assert all(name in group.commands for name in named), (check.code(), named)
    # Options in code spans, except those of a plain pytest command line.
    spans = [s for s in re.findall(r"`([^`]*)`", fix) if "pytest" not in s]
    flags = {flag for span in spans for flag in re.findall(r"(?<![\w-])--[a-z][a-z-]*", span)}
    known = set().union(*(_options(group.commands[name]) for name in named)) if named else set()
    assert flags <= known, f"{check.code()} names {sorted(flags - known)}, not options of gymkit {named}"
