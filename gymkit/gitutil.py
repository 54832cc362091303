"""Which resource servers a branch changes, from git history (GitPython).

CI runs this on a pull request to build its job matrix; a contributor can run it locally
to see what CI will test. The comparison is against the merge base, as a pull request's
"Files changed" tab is, so commits that landed on the base branch since the branch was
cut don't count as the branch's changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import git
from gitdb.exc import BadName, BadObject

from gymkit.errors import UserError
from gymkit.project import MAX_SERVER_NAME, SERVER_NAME_SHAPE, SERVERS_DIR

__all__ = ["GLOBAL_PATHS", "Changes", "changed_servers"]

# A change to any of these can alter how every server is built, tested or checked.
GLOBAL_PATHS: tuple[str, ...] = ("gymkit/", "templates/", "copier.yml", "noxfile.py", "pyproject.toml")


@dataclass(frozen=True)
class Changes:
    """The outcome of comparing a branch with its base."""

    servers: list[str]
    """Servers to test: changed ones that still exist at the head, sorted."""
    files: list[str] = field(default_factory=list)
    """Every changed path (both sides of a rename), repository-relative, sorted."""
    global_files: list[str] = field(default_factory=list)
    """The changed paths that select every server (see ``GLOBAL_PATHS``)."""
    direct: list[str] = field(default_factory=list)
    """Servers whose own files changed (a subset of ``servers``)."""

    @property
    def all_selected(self) -> bool:
        return bool(self.global_files)


def _open_repo(path: Path) -> git.Repo:
    try:
        return git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise UserError(
            f"{path.resolve()} is not inside a git repository",
            hint="run gymkit changed from a clone of your gym repository",
        ) from None


def _commit(repo: git.Repo, ref: str, what: str) -> git.Commit:
    try:
        return repo.commit(ref)
    except (BadName, BadObject, ValueError, git.GitCommandError):
        raise UserError(
            f"unknown {what} ref {ref!r} in {repo.working_tree_dir}",
            hint="fetch it first (git fetch origin main), or pass a branch, tag or commit that exists",
        ) from None


def _is_global(path: str) -> bool:
    return any(path == g or (g.endswith("/") and path.startswith(g)) for g in GLOBAL_PATHS)


def _server_of(path: str) -> str | None:
    parts = PurePosixPath(path).parts
    # A file directly in resources_servers/ (a README, say) belongs to no server.
    if len(parts) >= 3 and parts[0] == SERVERS_DIR:
        return parts[1]
    return None


def _servers_in_tree(tree: git.Tree) -> set[str]:
    try:
        folder = tree / SERVERS_DIR
    except KeyError:
        return set()
    return {item.name for item in folder.trees}


def _git_paths(repo: git.Repo, command: str, *args: str) -> list[str]:
    # NUL-separated output parsed here: GitPython's own diff parsing splits a path that holds
    # a newline, so a file could hide the server it is in.
    out = repo.git.execute(["git", command, "-z", *args], stdout_as_string=False, strip_newline_in_stdout=False)
    assert isinstance(out, bytes)
    return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]


def _servers_on_disk(repo: git.Repo, root: Path) -> set[str]:
    # Files git tracks or would add, still on disk: a deleted server's ignored leftovers
    # (data/train.jsonl, __pycache__) do not keep it alive.
    listed = _git_paths(repo, "ls-files", "--cached", "--others", "--exclude-standard", "--", f"{SERVERS_DIR}/")
    return {s for p in listed if (s := _server_of(p)) and os.path.lexists(root / p)}


def _skip_cache_dirs(names: set[str]) -> set[str]:
    return {n for n in names if not n.startswith((".", "__"))}


def changed_servers(path: Path, base: str, head: str | None = None) -> Changes:
    """Servers changed between the merge base of ``base`` and ``head``, and ``head``.

    Without ``head`` the comparison is against the working tree (committed, staged,
    unstaged and untracked files), which is what a contributor wants before pushing.
    A server deleted by the change is not selected: there is nothing left to test.
    """
    repo = _open_repo(path)
    try:
        return _compare(repo, base, head)
    finally:
        repo.close()  # GitPython keeps `git cat-file` helpers running until closed


def _compare(repo: git.Repo, base: str, head: str | None) -> Changes:
    root = Path(repo.working_tree_dir or ".")
    base_commit = _commit(repo, base, "base")
    head_commit = _commit(repo, head or "HEAD", "head")
    merge_bases = repo.merge_base(base_commit, head_commit)
    if not merge_bases:
        shallow = Path(repo.git_dir, "shallow").exists()
        raise UserError(
            f"{base!r} and {head or 'HEAD'!r} share no history" + (" in this shallow clone" if shallow else ""),
            hint="fetch the full history (git fetch --unshallow; in Actions, checkout with fetch-depth: 0)"
            if shallow
            else "pass the branch the pull request targets as --base",
        )
    start = merge_bases[0].hexsha
    # Without rename detection a rename is a deletion and an addition: both paths are listed.
    diff = ["diff", "--no-ext-diff", "--no-renames", "--name-only"]
    if head is None:
        files = set(_git_paths(repo, *diff, start, "--"))
        files |= set(_git_paths(repo, "ls-files", "--others", "--exclude-standard"))
        existing = _servers_on_disk(repo, root)
    else:
        files = set(_git_paths(repo, *diff, start, head_commit.hexsha, "--"))
        existing = _servers_in_tree(head_commit.tree)
    global_files = sorted(f for f in files if _is_global(f))
    touched = {s for f in files if (s := _server_of(f))}
    candidates = _skip_cache_dirs(existing if global_files else touched & existing)
    # Server names end up in CI job names, artifact names and nox session ids; anything else
    # in resources_servers/ is refused rather than passed on.
    bad = sorted(c for c in candidates if not SERVER_NAME_SHAPE.fullmatch(c) or len(c) > MAX_SERVER_NAME)
    if bad:
        shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in bad[0])  # one line, even for "x\n"
        raise UserError(
            f"{SERVERS_DIR}/{shown}: not a valid server name" + (f" (and {len(bad) - 1} more)" if bad[1:] else ""),
            hint="server folders are lower_snake_case: a letter, then up to 63 letters, digits or underscores",
        )
    return Changes(
        servers=sorted(candidates),
        files=sorted(files),
        global_files=global_files,
        direct=sorted(candidates & touched),
    )
