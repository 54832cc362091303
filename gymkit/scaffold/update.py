"""``gymkit update``: merge the template's changes since a server was made into it (copier update)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gymkit import __version__
from gymkit.errors import UserError
from gymkit.runtime.config import yaml_problem
from gymkit.scaffold._nemo import NEMO_PATHS, NEMO_SRC, nemo_history
from gymkit.scaffold._packaged import PACKAGED_SRC, packaged_history
from gymkit.scaffold._source import (
    ANSWERS_FILE,
    TEMPLATE_PATHS,
    TemplateError,
    copier_guard,
    git,
    git_top,
    is_template_repo,
    listing,
    read_answers_file,
    restore_source,
    template_dirty,
)

__all__ = ["UpdateResult", "update_server"]


@dataclass(frozen=True)
class UpdateResult:
    name: str
    path: Path
    status: str  # "updated", "up to date" or "conflict"
    from_commit: str
    to_commit: str
    conflicts: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _read_answers(server_dir: Path) -> dict[str, Any]:
    path = server_dir / ANSWERS_FILE
    if not path.is_file():
        raise UserError(
            f"{path}: not found; only servers made with gymkit new can be updated",
            hint="to adopt the template, create a server with gymkit new and move your code into it",
        )
    restore = f"gymkit new wrote it; restore it from git: git log -p -- {path}"
    try:
        answers = read_answers_file(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read: {exc}", hint=restore) from None
    except yaml.YAMLError as exc:
        raise UserError(yaml_problem(path, exc), hint=restore) from None
    if not answers.get("_src_path") or not answers.get("_commit"):
        raise UserError(f"{path}: _src_path or _commit is missing; cannot tell which template version made it")
    return answers


def _conflicts(server_dir: Path, top: Path) -> list[Path]:
    """Files left with conflict markers or .rej rejects by the merge, relative to the repository."""
    found = {top / p for p in git(top, "diff", "--name-only", "--diff-filter=U", "--", str(server_dir)).splitlines()}
    for path in server_dir.rglob("*"):
        if not path.is_file() or ".git" in path.parts:
            continue
        if path.suffix == ".rej":
            found.add(path)
            continue
        with contextlib.suppress(OSError, UnicodeDecodeError):
            if "<<<<<<< before updating" in path.read_text(encoding="utf-8"):
                found.add(path)
    return sorted(p.relative_to(top) for p in found)


def _check_clean(top: Path, server_dir: Path) -> None:
    unmerged = sorted({line.split("\t", 1)[1] for line in git(top, "ls-files", "--unmerged").splitlines()})
    if unmerged:
        # copier merges through the repository's index, which git cannot use while it holds conflicts.
        raise UserError(
            f"the repository has unresolved conflicts ({listing(unmerged)})",
            hint="resolve them and commit, then run gymkit update again",
        )
    if git(top, "status", "--porcelain", "--untracked-files=all", "--", str(server_dir)):
        raise UserError(
            f"{server_dir.relative_to(top)} has uncommitted changes",
            hint="commit them first, so the update's changes can be reviewed on their own",
        )


def update_server(server_dir: Path) -> UpdateResult:
    """Merge the template's changes since the server's recorded version into it (copier update).

    Needs the server inside a git repository with no uncommitted changes in its folder, so the
    merge can be reviewed (and undone) with git.
    """
    server_dir = server_dir.resolve()
    answers = _read_answers(server_dir)
    top = git_top(server_dir)
    if top is None:
        raise UserError(f"{server_dir} is not inside a git repository; gymkit update merges with git's help")
    _check_clean(top, server_dir)
    if answers["_src_path"] == PACKAGED_SRC:
        # Made from the template inside the gymkit package: merge from the history shipped with it.
        with packaged_history() as history:
            return _merge(server_dir, top, answers, history, cwd=history.parent)
    if answers["_src_path"] == NEMO_SRC:
        with nemo_history() as history:
            return _merge(server_dir, top, answers, history, cwd=history.parent, paths=NEMO_PATHS)
    source = Path(answers["_src_path"])
    template_root = (server_dir / source).resolve() if not source.is_absolute() else source
    if not (template_root / "copier.yml").is_file() or not is_template_repo(template_root):
        raise TemplateError(
            f"{server_dir / ANSWERS_FILE}: _src_path {answers['_src_path']} is not a git checkout with copier.yml"
        )
    # copier resolves the recorded relative _src_path against the working directory.
    return _merge(server_dir, top, answers, template_root, cwd=server_dir)


def _merge(
    server_dir: Path,
    top: Path,
    answers: dict[str, Any],
    template_root: Path,
    *,
    cwd: Path,
    paths: tuple[str, ...] = TEMPLATE_PATHS,
) -> UpdateResult:
    old = str(answers["_commit"])
    if not git(template_root, "rev-parse", "--verify", "--quiet", f"{old}^{{commit}}", check=False):
        if answers["_src_path"] in (PACKAGED_SRC, NEMO_SRC):
            raise TemplateError(
                f"template version {old} (from {ANSWERS_FILE}) is not in the template history of gymkit {__version__}",
                hint="install the gymkit that made the server, or a newer one (each holds every earlier version)",
            )
        raise TemplateError(
            f"template version {old} (from {ANSWERS_FILE}) is not in {template_root}",
            hint="fetch the template repository's history and tags (git fetch --tags)",
        )
    head = git(template_root, "rev-parse", "HEAD")
    new = git(template_root, "describe", "--tags", "--always", head)
    name = server_dir.name
    notes = []
    if template_dirty(template_root):
        notes.append("the template has uncommitted changes; update uses its last commit only")
    if not git(template_root, "diff", "--name-only", old, head, "--", *paths):
        return UpdateResult(name, server_dir, "up to date", old, new, notes=notes)

    from copier import run_update

    with copier_guard(notes), contextlib.chdir(cwd):
        run_update(
            server_dir,
            vcs_ref=head,
            defaults=True,
            overwrite=True,
            quiet=True,
            unsafe=False,
            conflict="inline",
            skip_answered=True,
        )
    restore_source(server_dir / ANSWERS_FILE, answers["_src_path"])
    conflicts = _conflicts(server_dir, top)
    return UpdateResult(name, server_dir, "conflict" if conflicts else "updated", old, new, conflicts, notes)
