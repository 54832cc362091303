"""Every checklist command in a module named after it, and `gymkit --help` listing them where it always did."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from gymkit.cli import build_app

# The panels and the order of `gymkit --help` as released; splitting modules must not move a command.
PANELS = {
    "Test": ["audit", "test", "smoke", "validate-data"],
    "Checks": ["changed", "check", "pr-body", "check-pr-body", "reproduce", "report"],
    "Scaffold": ["new", "update"],
    "Run": ["rollouts", "serve"],
}
OWN_MODULES = ["check", "pr-body", "check-pr-body", "reproduce", "smoke", "validate-data", "new", "update"]


def _panels(help_text: str) -> dict[str, list[str]]:
    panels: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in help_text.splitlines():
        title = re.match(r"^╭─ (.+?) ─", line)
        if title:
            current = panels.setdefault(title.group(1), [])
        elif current is not None and (row := re.match(r"^│ ([a-z][a-z-]*)\s{2,}", line)):
            current.append(row.group(1))
    return panels


def test_gymkit_help_lists_the_same_commands_in_the_same_panels() -> None:
    result = CliRunner().invoke(build_app(), ["--help"], terminal_width=120)
    assert result.exit_code == 0, result.output
    panels = _panels(result.output)
    for panel, commands in PANELS.items():
        assert panels.get(panel) == commands, (panel, panels.get(panel))
    # Rollouts & rewards is another module's panel; its commands must still all be there.
    assert {"compare", "health", "profile", "training-report", "train", "view"} <= set(panels["Rollouts & rewards"])


@pytest.mark.parametrize("command", OWN_MODULES)
def test_each_command_lives_in_a_module_named_after_it(command: str) -> None:
    group = typer.main.get_group(build_app())
    callback = group.commands[command].callback
    assert callback is not None
    # typer wraps the function; the original keeps its module.
    module = getattr(callback, "__wrapped__", callback).__module__
    assert module == f"gymkit.cli.{command.replace('-', '_')}"


def test_a_command_loads_only_its_own_module() -> None:
    # `gymkit pr-body --help` must not import the checklist's runner (FastAPI, the servers, ...).
    code = "import sys; sys.argv = ['gymkit', 'pr-body', '--help']\nfrom gymkit.cli import main\ntry:\n    main()\n"
    code += "except SystemExit:\n    pass\nprint(sorted(m for m in sys.modules if m.startswith('gymkit.cli.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "['gymkit.cli._errors', 'gymkit.cli._shared', 'gymkit.cli.pr_body']"
