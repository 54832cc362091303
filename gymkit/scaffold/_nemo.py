"""The NeMo Gym template: what ``gymkit new`` renders inside a NeMo Gym checkout, and its history.

A server made from it is written for NeMo Gym itself (it imports nemo_gym), so it could be
proposed upstream as it is. The template is ``templates/nemo_resource_server`` in a gymkit
checkout, or ``gymkit/_template_nemo`` in a wheel, next to ``history.bundle`` (hatch_build.py).
A server made from it records ``_src_path: gymkit-nemo``, the same in every clone and on every
machine; ``gymkit update`` merges from the history of the gymkit that runs it: the bundle, or,
from a checkout, one written from the checkout's git (gymkit.scaffold._history).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import gymkit
from gymkit.scaffold._history import build_history
from gymkit.scaffold._source import TemplateError, git

__all__ = ["NEMO_PATHS", "NEMO_SRC", "nemo_history", "nemo_template", "nemo_version"]

NEMO_SRC = "gymkit-nemo"
NEMO_PATHS = ("copier.yml", "server")  # in the history: the template folder's content at the root
_FOLDER = "templates/nemo_resource_server"
_PACKAGE = Path(gymkit.__file__).resolve().parent
_PACKAGED = _PACKAGE / "_template_nemo"


def _checkout() -> Path | None:
    folder = _PACKAGE.parent
    return folder if (folder / _FOLDER / "copier.yml").is_file() else None


def nemo_template() -> Path:
    """The folder with the NeMo Gym template's copier.yml: the checkout's, else the packaged one."""
    checkout = _checkout()
    if checkout is not None:
        return checkout / _FOLDER
    if (_PACKAGED / "copier.yml").is_file():
        return _PACKAGED
    raise TemplateError(
        "this gymkit has no NeMo Gym template", hint="reinstall gymkit from a wheel built from its git repository"
    )


@contextlib.contextmanager
def nemo_history() -> Iterator[Path]:
    """A git repository of the NeMo Gym template's versions, at ``<temp>/gymkit-nemo`` while the block runs.

    Named as recorded in ``_src_path``, so copier, run from its parent folder, resolves it.
    """
    with tempfile.TemporaryDirectory(prefix="gymkit-template-") as tmp:
        repo = Path(tmp) / NEMO_SRC
        bundle = _PACKAGED / "history.bundle"
        checkout = _checkout()
        if checkout is not None:
            try:
                build_history(checkout, repo, None, gymkit.__version__, (_FOLDER,), f"{_FOLDER}/")
            except RuntimeError as exc:
                raise TemplateError(f"cannot read the NeMo Gym template's history: {exc}") from None
        elif bundle.is_file():
            git(Path(tmp), "clone", "-q", str(bundle), NEMO_SRC)
        else:
            raise TemplateError(
                f"this gymkit ({gymkit.__version__}) has no NeMo Gym template history to update from",
                hint="install gymkit from a wheel built from its git repository, or run it from a checkout",
            )
        yield repo


def nemo_version() -> str:
    """The id of the NeMo Gym template's current version, as gymkit update will find it in the history."""
    with nemo_history() as repo:
        return git(repo, "describe", "--tags", "--always", "HEAD")
