"""The template's source: finding it, its git version, a snapshot for copier, the answers file."""

from __future__ import annotations

import contextlib
import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from gymkit.errors import GymkitError
from gymkit.project import find_repo_root
from gymkit.scaffold._git import TemplateError, git, git_top, is_template_repo
from gymkit.scaffold._packaged import PACKAGED_SRC, packaged_template

__all__ = [
    "ANSWERS_FILE",
    "TEMPLATE_PATHS",
    "TemplateError",
    "copier_guard",
    "find_template_root",
    "git",
    "git_top",
    "is_template_repo",
    "listing",
    "read_answers_file",
    "record_source",
    "restore_source",
    "snapshot",
    "template_dirty",
    "write_answers_file",
]

ANSWERS_FILE = ".copier-answers.yml"
TEMPLATE_PATHS = ("copier.yml", "templates/resource_server")
_ANSWERS_HEADER = "# Answers to the questions of `gymkit new`; `gymkit update` reads them. Do not edit by hand.\n"


# -- the template ------------------------------------------------------------------------
def find_template_root(start: Path | None = None) -> Path:
    """The template's folder: the checkout gymkit runs from, a gymkit repository it runs in, else the packaged one.

    A checkout's template is versioned by its git, so servers made from it record a path in
    the repository; the packaged template is versioned by the history shipped with it.
    """
    candidates = [Path(__file__).resolve().parents[2]]
    with contextlib.suppress(GymkitError):
        candidates.append(find_repo_root(start))
    for folder in candidates:
        if (folder / "copier.yml").is_file() and (folder / TEMPLATE_PATHS[1]).is_dir():
            return folder
    packaged = packaged_template()
    if packaged is not None:
        return packaged
    raise TemplateError(
        "no template: gymkit's package has none and there is no copier.yml at the repository root",
        hint="reinstall gymkit from its wheel, or pass --template PATH (a folder with copier.yml)",
    )


def template_dirty(root: Path) -> list[str]:
    out = git(root, "status", "--porcelain", "--untracked-files=all", "--", *TEMPLATE_PATHS, strip=False)
    return [line[3:] for line in out.splitlines() if line.strip()]


def snapshot(root: Path, dest: Path) -> None:
    """Copy the template's files (tracked or new, not ignored) so copier renders them without cloning."""
    if is_template_repo(root):
        listed = git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *TEMPLATE_PATHS)
        files = [f for f in listed.split("\0") if f]
    else:
        files = [str(p.relative_to(root)) for base in TEMPLATE_PATHS for p in _walk(root / base)]
    for rel in files:
        source = root / rel
        if source.is_file():  # tracked but deleted in the working copy: leave it out
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / rel)


def _walk(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
    elif path.is_dir():
        yield from (p for p in sorted(path.rglob("*")) if p.is_file() and "__pycache__" not in p.parts)


# -- copier, with its warnings and errors made ours -----------------------------------------
@contextlib.contextmanager
def copier_guard(notes: list[str]) -> Iterator[None]:
    """Copier's own warnings become notes for the caller; anything else is re-issued unchanged."""
    from copier.errors import CopierError, CopierWarning
    from plumbum import ProcessExecutionError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except (CopierError, ValueError) as exc:  # copier reports an answer its validator refuses as ValueError
            raise TemplateError(f"copier: {exc}") from None
        except ProcessExecutionError as exc:  # a git command copier ran
            problem = next((line for line in str(exc.stderr).splitlines() if line.strip()), f"exit {exc.retcode}")
            raise TemplateError(f"copier: {' '.join(map(str, exc.argv))} failed: {problem.strip()}") from None
    for item in caught:
        if issubclass(item.category, CopierWarning):
            notes.append(str(item.message))
        else:
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno, source=item.source)


def listing(items: list[str], limit: int = 3) -> str:
    return ", ".join(items[:limit]) + (", ..." if len(items) > limit else "")


def read_answers_file(path: Path) -> dict[str, Any]:
    answers = yaml.safe_load(path.read_text(encoding="utf-8"))
    return answers if isinstance(answers, dict) else {}


def write_answers_file(path: Path, answers: dict[str, Any]) -> None:
    # The same layout copier's to_nice_yaml gives, so a later update does not reformat it.
    body = yaml.safe_dump(answers, sort_keys=True, allow_unicode=True, default_flow_style=False, indent=4)
    path.write_text(_ANSWERS_HEADER + body, encoding="utf-8")


def record_source(
    answers_path: Path, template_root: Path, target: Path, commit: str | None, *, src: str | None = None
) -> None:
    """Point the answers file at the real template (copier saw only a snapshot) and its version.

    Inside the same repository the path is relative to the server, so the answers file means
    the same thing in every clone of the repository; the template packaged with gymkit is
    recorded as ``gymkit`` (see gymkit.scaffold._packaged); ``src``, when given, is recorded as it is.
    """
    answers = read_answers_file(answers_path)
    answers.pop("_commit", None)
    if src is not None:
        answers["_src_path"] = src
    elif template_root == packaged_template():
        answers["_src_path"] = PACKAGED_SRC  # the installed gymkit's, wherever it is installed
    elif template_root in target.parents:
        answers["_src_path"] = os.path.relpath(template_root, target)
    else:
        answers["_src_path"] = str(template_root)
    if commit:
        answers["_commit"] = commit
    write_answers_file(answers_path, answers)


def restore_source(answers_path: Path, src_path: str) -> None:
    """Keep ``_src_path`` as it was recorded when copier rewrites the answers file."""
    answers = read_answers_file(answers_path)
    if answers.get("_src_path") != src_path:
        answers["_src_path"] = src_path
        write_answers_file(answers_path, answers)
