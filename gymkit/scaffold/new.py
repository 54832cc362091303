"""``gymkit new``: validate the name, render the template, and move the result into place."""

from __future__ import annotations

import keyword
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gymkit.errors import ServerNotFoundError, UserError
from gymkit.nemo.detect import nemo_checkout
from gymkit.project import SERVERS_DIR, find_repo_root
from gymkit.rules import MAX_SERVER_NAME, SERVER_NAME_SHAPE, SPDX_SHAPE, YAML_WORDS
from gymkit.runtime.config import DatasetLicense, Domain
from gymkit.scaffold._nemo import NEMO_SRC, nemo_template, nemo_version
from gymkit.scaffold._packaged import packaged_template, packaged_version
from gymkit.scaffold._source import (
    ANSWERS_FILE,
    TemplateError,
    copier_guard,
    find_template_root,
    git,
    git_top,
    is_template_repo,
    listing,
    record_source,
    snapshot,
    template_dirty,
)

__all__ = ["NewServer", "new_server", "validate_name"]

_SPDX = re.compile(SPDX_SHAPE)


@dataclass(frozen=True)
class NewServer:
    path: Path
    template: Path
    commit: str | None
    notes: list[str] = field(default_factory=list)


def validate_name(name: str, servers_dir: Path) -> None:
    """Refuse a name before anything is written: one line saying what is wrong and what to do."""
    if not name or "/" in name or "\\" in name or os.sep in name or name in (".", ".."):
        raise UserError(f"{name!r} is not a server name: no paths, just a name such as my_task")
    if not SERVER_NAME_SHAPE.fullmatch(name):
        suggestion = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")
        hint = f"for example: {suggestion}" if suggestion and SERVER_NAME_SHAPE.fullmatch(suggestion) else None
        raise UserError(
            f"{name!r} is not a snake_case identifier (lowercase letters, digits, _; starting with a letter)",
            hint=hint,
        )
    if len(name) > MAX_SERVER_NAME:
        raise UserError(f"{name[:20]}... is {len(name)} characters long; a server name has at most {MAX_SERVER_NAME}")
    if keyword.iskeyword(name):
        raise UserError(f"{name!r} is a Python keyword; choose another name", hint=f"for example: {name}_task")
    if name in YAML_WORDS:
        raise UserError(
            f"{name!r} means true, false or null in YAML; choose another name", hint=f"for example: {name}_task"
        )
    target = servers_dir / name
    if target.exists():
        raise UserError(
            f"{target} already exists; gymkit new never overwrites a server",
            hint=f"to bring it up to date with the template: gymkit update {name}",
        )


def _answers_data(
    name: str,
    domain: str | None,
    description: str | None,
    code_license: str | None,
    data_license: str | None,
    tools: bool | None,
) -> dict[str, Any]:
    if domain is not None and domain not in {d.value for d in Domain}:
        raise UserError(f"unknown domain {domain!r}", hint="choose one of: " + ", ".join(d.value for d in Domain))
    if data_license is not None and data_license not in {lic.value for lic in DatasetLicense}:
        raise UserError(
            f"unknown data licence {data_license!r}",
            hint="choose one of: " + "; ".join(lic.value for lic in DatasetLicense),
        )
    if code_license is not None and not _SPDX.match(code_license):
        raise UserError(f"{code_license!r} is not an SPDX licence identifier", hint="for example: Apache-2.0 or MIT")
    if description is not None and (not description.strip() or "\n" in description):
        raise UserError("the description must be one non-empty line")
    given = {
        "server_name": name,
        "domain": domain,
        "description": description,
        "code_license": code_license,
        "data_license": data_license,
        "tools": tools,
    }
    return {key: value for key, value in given.items() if value is not None}


def new_server(
    name: str,
    *,
    root: Path | None = None,
    template: Path | None = None,
    domain: str | None = None,
    description: str | None = None,
    code_license: str | None = None,
    data_license: str | None = None,
    tools: bool | None = None,
    interactive: bool = False,
) -> NewServer:
    """Render the template into ``<root>/resources_servers/NAME``; nothing is written on failure.

    In a NeMo Gym checkout (and no ``template`` given) the template is the NeMo Gym one
    (gymkit.scaffold._nemo): the server imports nemo_gym and follows upstream's layout.

    With ``interactive`` copier asks for the answers not given; otherwise defaults fill them.
    """
    root = (root or _gym_root()).resolve()
    servers_dir = root / SERVERS_DIR
    validate_name(name, servers_dir)
    data = _answers_data(name, domain, description, code_license, data_license, tools)
    target = servers_dir / name
    notes: list[str]
    commit: str | None
    # Only a real checkout: the NeMo template's requirements.txt installs nemo-gym from ../../, which in
    # any other repository (even one whose servers import nemo_gym) is not nemo-gym.
    if template is None and nemo_checkout(root) is not None:
        template_root, notes = nemo_template(), []
        commit = nemo_version()
        _render(template_root, target, data, interactive, notes, src=NEMO_SRC, commit=commit)
        return NewServer(target, template_root, commit, notes)
    template_root = (template or find_template_root(root)).resolve()
    if not (template_root / "copier.yml").is_file():
        raise TemplateError(f"{template_root}: no copier.yml here")
    commit, notes = _template_version(template_root)
    with tempfile.TemporaryDirectory(prefix="gymkit-template-") as source:
        snapshot(template_root, Path(source))
        _render(Path(source), target, data, interactive, notes, template_root=template_root, commit=commit)
    return NewServer(target, template_root, commit, notes)


def _render(
    source: Path,
    target: Path,
    data: dict[str, Any],
    interactive: bool,
    notes: list[str],
    *,
    commit: str | None,
    template_root: Path | None = None,
    src: str | None = None,
) -> None:
    """Render ``source`` into ``target`` through a staging folder next to it; nothing is written on failure."""
    servers_dir, name = target.parent, target.name
    with copier_guard(notes):
        from copier import run_copy

        if interactive:
            # Ask first, writing nothing: a prompt left open or interrupted leaves no trace.
            asked = run_copy(str(source), target, data=data, pretend=True, quiet=True, unsafe=False)
            data = {**data, **asked.answers.user}
        # Render next to the target, then rename: a failed run leaves no half-made server.
        servers_dir.mkdir(exist_ok=True)  # a gym's first server: its repository has no resources_servers/ yet
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=servers_dir))
        try:
            rendered = staging / name
            run_copy(str(source), rendered, data=data, defaults=True, quiet=True, unsafe=False)
            record_source(rendered / ANSWERS_FILE, template_root or source, target, commit, src=src)
            try:
                rendered.rename(target)
            except OSError:
                raise UserError(f"{target} appeared while rendering; nothing was written") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _gym_root() -> Path:
    """The gym that holds resources_servers/, else the git repository the command runs in (its first server)."""
    try:
        return find_repo_root()
    except ServerNotFoundError:
        top = git_top(Path.cwd())
        if top is None:
            raise UserError(
                f"no {SERVERS_DIR}/ folder in {Path.cwd()} or above, and it is not in a git repository",
                hint="run gymkit new in your gym's git repository (git init makes one)",
            ) from None
        return top


def _template_version(template_root: Path) -> tuple[str | None, list[str]]:
    """The template's commit (as git describe names it) and anything the user should know about it."""
    if template_root == packaged_template():
        version = packaged_version()
        if version is None:
            return None, ["this gymkit has no template history, so gymkit update cannot update this server later"]
        return version, []
    if not is_template_repo(template_root):
        return None, [f"{template_root} is not a git checkout, so gymkit update cannot update this server later"]
    commit = git(template_root, "describe", "--tags", "--always", "HEAD")
    dirty = template_dirty(template_root)
    if not dirty:
        return commit, []
    return commit, [
        f"the template has uncommitted changes ({listing(dirty)}); they were used, "
        f"and {ANSWERS_FILE} records {commit} as the template version"
    ]
