"""A git repository of a template's versions, made from the gymkit repository's own history.

copier merges a template change by rendering the version a server was made from next to the
current one, and needs both as commits of a git repository whose root is the template. This
writes one: a commit for each commit of the gymkit repository that changed the template's paths
(tagged ``gymkit-`` and ``git describe`` of that commit, which ``gymkit new`` records as
``_commit``), and one more for uncommitted template edits. Only the template's files are in it,
moved up by ``strip`` (a template kept in a subfolder gets its copier.yml at the root). Built
from a tree without git history (an sdist), the history is the one version being built.

Standard library only: the wheel build hook (hatch_build.py) loads this file by path, before
gymkit or its dependencies are installed.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

__all__ = ["build_history"]

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


def _place(source: Path, work: Path, rel: str, strip: str) -> None:
    target = work / rel.removeprefix(strip)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


def _copy_tree(root: Path, work: Path, files: list[str], strip: str) -> None:
    _clear(work)
    for rel in files:
        if (root / rel).is_file():
            _place(root / rel, work, rel, strip)


def _walk(root: Path, paths: tuple[str, ...]) -> list[str]:
    found = []
    for base in paths:
        path = root / base
        if path.is_file():
            found.append(base)
        elif path.is_dir():
            found += [str(p.relative_to(root)) for p in sorted(path.rglob("*")) if p.is_file()]
    return [rel for rel in found if "__pycache__" not in rel]


def _extract(archive: bytes, work: Path, strip: str) -> None:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.startswith(strip):
                handle = tar.extractfile(member)
                assert handle is not None
                target = work / member.name.removeprefix(strip)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(handle.read())
                target.chmod(member.mode & 0o777 or 0o644)


def build_history(
    root: Path, work: Path, bundle: Path | None, version: str, paths: tuple[str, ...], strip: str = ""
) -> Path:
    """Write the template history of ``paths`` in ``root`` into the new repository ``work`` (and ``bundle``)."""
    work.mkdir(parents=True)
    _git(work, "init", "-q", "-b", "main")
    try:
        top = Path(_text(root, "rev-parse", "--show-toplevel")).resolve()
    except (RuntimeError, OSError):
        top = None
    if top != root.resolve():
        _copy_tree(root, work, _walk(root, paths), strip)
        _commit(work, f"template of gymkit {version}", f"gymkit-{version}")
    else:
        commits = _text(root, "rev-list", "--reverse", "--topo-order", "HEAD", "--", *paths).split()
        for commit in commits:
            _clear(work)
            _extract(_git(root, "archive", "--format=tar", commit, "--", *paths), work, strip)
            dates = tuple(_text(root, "show", "-s", f"--format={f}", commit) for f in ("%aI", "%cI"))
            described = _text(root, "describe", "--tags", "--always", commit)
            # Prefixed: copier reads a tag such as 8e12345 (a short hash) as version 8, stage "e",
            # which is no PEP 440 stage, and then refuses to update at all.
            _commit(work, f"template at gymkit {described}", f"gymkit-{described}", (dates[0], dates[1]))
        listed = _text(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *paths)
        _copy_tree(root, work, [rel for rel in listed.split("\0") if rel], strip)
        if not commits or _text(work, "status", "--porcelain"):
            base = _text(root, "describe", "--tags", "--always", "HEAD")
            _git(work, "add", "-A")
            tree = _text(work, "write-tree")[:7]
            _commit(work, f"uncommitted template changes on gymkit {base}", f"gymkit-{base}-dirty.{tree}")
    if bundle is not None:
        _git(work, "bundle", "create", str(bundle), "--all")
    return work
