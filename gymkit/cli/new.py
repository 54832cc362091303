"""``gymkit new``: scaffold a resource server from the template."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from gymkit.runtime.config import DatasetLicense, Domain

__all__ = ["new", "register"]


def new(
    name: Annotated[str, typer.Argument(help="Server name: a snake_case identifier, e.g. my_task.")],
    domain: Annotated[
        Domain | None, typer.Option(metavar="DOMAIN", help="Domain of the tasks (default: math).")
    ] = None,
    description: Annotated[str | None, typer.Option(help="One line on what the model must do.")] = None,
    code_license: Annotated[
        str | None, typer.Option("--code-license", help="SPDX identifier of the code's licence (default: Apache-2.0).")
    ] = None,
    data_license: Annotated[
        DatasetLicense | None,
        typer.Option(
            "--data-license", metavar="LICENCE", help="Licence of train/validation data, e.g. MIT (default: TBD)."
        ),
    ] = None,
    tools: Annotated[
        bool | None, typer.Option("--tools/--no-tools", help="Include an example tool (default: yes).")
    ] = None,
    defaults: Annotated[
        bool, typer.Option("--defaults", help="Never ask; use defaults for what is not given.")
    ] = False,
    template: Annotated[
        Path | None, typer.Option(help="Folder with copier.yml (default: the gymkit checkout).", file_okay=False)
    ] = None,
) -> None:
    """Create [bold]resources_servers/NAME[/] from the template: app, config, data, tests, README.

    Asks for missing answers in a terminal; otherwise (or with --defaults) uses defaults.
    """
    from gymkit.scaffold import new_server

    given = (domain, description, code_license, data_license, tools)
    interactive = not defaults and any(v is None for v in given) and sys.stdin.isatty() and sys.stdout.isatty()
    result = new_server(
        name,
        template=template,
        domain=domain.value if domain else None,
        description=description,
        code_license=code_license,
        data_license=data_license.value if data_license else None,
        tools=tools,
        interactive=interactive,
    )
    for note in result.notes:
        typer.secho(f"note: {note}", fg="yellow", err=True)
    where = _display(result.path)
    typer.echo(f"created {where} (template {result.commit or 'unversioned'})")
    typer.echo(f"next: edit {where}/app.py and data/example.jsonl, then run: {_test_command(result.path, name)}")


def _test_command(server_dir: Path, name: str) -> str:
    """The session the gym runs: NeMo Gym's ng_test in its checkout, the noxfile's test-server if it has
    gymkit's, else gymkit test (the same run)."""
    from gymkit.nemo.detect import nemo_checkout

    if nemo_checkout(server_dir) is not None:
        return f"ng_test +entrypoint=resources_servers/{name}"
    noxfile = server_dir.parent.parent / "noxfile.py"
    try:
        declares = 'name="test-server"' in noxfile.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        declares = False
    return f'nox -s "test-server({name})"' if declares else f"gymkit test {name}"


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Scaffold")(new)
