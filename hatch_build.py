"""Wheel build hook: the template's git history goes into the wheel, so ``gymkit update`` can merge.

copier merges a template change by rendering the version a server was made from next to the
current one, and needs both as commits of a git repository. A wheel has no repository, so
this hook writes one: a commit for each commit of this repository that changed the template
(tagged ``gymkit-`` and ``git describe`` of that commit, which ``gymkit new`` records as ``_commit``),
and one more for uncommitted template edits. Only the template's files are in it. Built from
a tree without git history (an sdist), the history is the one version being built.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

TEMPLATE_PATHS = ("copier.yml", "templates/resource_server")
BUNDLE = "gymkit/_template/history.bundle"
_GIT = ["git", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", "-c", "core.hooksPath=/dev/null"]


def _git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> bytes:
    done = subprocess.run([*_GIT, *args], cwd=cwd, capture_output=True, env={**os.environ, **(env or {})}, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} in {cwd}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def _text(cwd: Path, *args: str) -> str:
    return _git(cwd, *args).decode().strip()


def _clear(work: Path) -> None:
    for child in work.iterdir():
        if child.name != ".git":
            shutil.rmtree(child) if child.is_dir() else child.unlink()


def _commit(work: Path, message: str, tag: str, dates: tuple[str, str] | None = None) -> None:
    # A fixed author and the original dates keep each commit's id the same in every build.
    env = {"GIT_AUTHOR_NAME": "gymkit", "GIT_AUTHOR_EMAIL": "gymkit@localhost"}
    env |= {"GIT_COMMITTER_NAME": "gymkit", "GIT_COMMITTER_EMAIL": "gymkit@localhost"}
    if dates:
        env |= {"GIT_AUTHOR_DATE": dates[0], "GIT_COMMITTER_DATE": dates[1]}
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "--allow-empty", "-m", message, env=env)
    _git(work, "tag", tag)


def _copy_tree(root: Path, work: Path, files: list[str]) -> None:
    _clear(work)
    for rel in files:
        if (root / rel).is_file():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / rel, work / rel)


def _walk(root: Path) -> list[str]:
    found = []
    for base in TEMPLATE_PATHS:
        path = root / base
        if path.is_file():
            found.append(base)
        elif path.is_dir():
            found += [str(p.relative_to(root)) for p in sorted(path.rglob("*")) if p.is_file()]
    return [rel for rel in found if "__pycache__" not in rel]


def build_history(root: Path, work: Path, bundle: Path, version: str) -> None:
    work.mkdir(parents=True)
    _git(work, "init", "-q", "-b", "main")
    try:
        top = Path(_text(root, "rev-parse", "--show-toplevel")).resolve()
    except (RuntimeError, OSError):
        top = None
    if top != root.resolve():
        _copy_tree(root, work, _walk(root))
        _commit(work, f"template of gymkit {version}", f"gymkit-{version}")
    else:
        commits = _text(root, "rev-list", "--reverse", "--topo-order", "HEAD", "--", *TEMPLATE_PATHS).split()
        for commit in commits:
            _clear(work)
            archive = _git(root, "archive", "--format=tar", commit, "--", *TEMPLATE_PATHS)
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(work, filter="data")
            dates = tuple(_text(root, "show", "-s", f"--format={f}", commit) for f in ("%aI", "%cI"))
            described = _text(root, "describe", "--tags", "--always", commit)
            # Prefixed: copier reads a tag such as 8e12345 (a short hash) as version 8, stage "e",
            # which is no PEP 440 stage, and then refuses to update at all.
            _commit(work, f"template at gymkit {described}", f"gymkit-{described}", (dates[0], dates[1]))
        listed = _text(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *TEMPLATE_PATHS)
        _copy_tree(root, work, [rel for rel in listed.split("\0") if rel])
        if not commits or _text(work, "status", "--porcelain"):
            base = _text(root, "describe", "--tags", "--always", "HEAD")
            _git(work, "add", "-A")
            tree = _text(work, "write-tree")[:7]
            _commit(work, f"uncommitted template changes on gymkit {base}", f"gymkit-{base}-dirty.{tree}")
    _git(work, "bundle", "create", str(bundle), "--all")


class TemplateHistoryHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        # An editable install renders the template from the checkout and merges with its git.
        if self.target_name != "wheel" or version == "editable":
            return
        self._scratch = tempfile.mkdtemp(prefix="gymkit-template-history-")
        bundle = Path(self._scratch) / "history.bundle"
        build_history(Path(self.root), Path(self._scratch) / "repo", bundle, self.metadata.version)
        build_data["force_include"][str(bundle)] = BUNDLE

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        scratch = getattr(self, "_scratch", None)
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
