"""The template that ships inside the gymkit package, and the git history shipped with it.

A wheel holds ``gymkit/_template/`` (copier.yml and templates/resource_server) and
``history.bundle``: a git repository of every version of the template, each tagged with the
id ``gymkit new`` records as ``_commit`` (see hatch_build.py). A server made from it records
``_src_path: gymkit``, the same in every clone and on every machine; ``gymkit update``
clones the bundle of the gymkit that runs it and merges from the recorded tag to its newest.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import gymkit
from gymkit.scaffold._git import TemplateError, git, is_template_repo

__all__ = ["PACKAGED_SRC", "packaged_history", "packaged_template", "packaged_version"]

PACKAGED_SRC = "gymkit"
_ROOT = Path(gymkit.__file__).resolve().parent / "_template"
_BUNDLE = _ROOT / "history.bundle"


def packaged_template() -> Path | None:
    return _ROOT if (_ROOT / "copier.yml").is_file() else None


def _checkout() -> Path | None:
    """The gymkit checkout this gymkit runs from (an editable install): the same history, unbundled."""
    folder = Path(gymkit.__file__).resolve().parents[1]
    return folder if (folder / "copier.yml").is_file() and is_template_repo(folder) else None


@contextlib.contextmanager
def packaged_history() -> Iterator[Path]:
    """A git repository of the packaged template's versions, at ``<temp>/gymkit`` for as long as the block runs.

    Named ``gymkit`` so that, from its parent folder, copier resolves the recorded
    ``_src_path: gymkit`` to it.
    """
    with tempfile.TemporaryDirectory(prefix="gymkit-template-") as tmp:
        repo = Path(tmp) / PACKAGED_SRC
        if _BUNDLE.is_file():
            git(Path(tmp), "clone", "-q", str(_BUNDLE), PACKAGED_SRC)
        elif (checkout := _checkout()) is not None:
            repo.symlink_to(checkout, target_is_directory=True)
        else:
            raise TemplateError(
                f"this gymkit ({gymkit.__version__}) has no template history to update from",
                hint="install gymkit from a wheel built from its git repository, or run it from a checkout",
            )
        yield repo


def packaged_version() -> str | None:
    """The id of the packaged template's version, as gymkit update will find it in the history."""
    if not _BUNDLE.is_file():
        return None
    with packaged_history() as repo:
        return git(repo, "describe", "--tags", "--always", "HEAD")
