"""Which resource servers a branch changes, from git history (GitPython).

CI runs this on a pull request to build its job matrix; a contributor can run it locally
to see what CI will test. The comparison is against the merge base, as a pull request's
"Files changed" tab is, so commits that landed on the base branch since the branch was
cut don't count as the branch's changes.

It fails closed. A changed path is attributed to one server only when it is a regular file
inside that server's folder; it selects nothing only when it is prose no check reads (see
``is_inert``); anything else (a conftest.py or pytest/nox configuration outside a server,
shared requirements, gymkit/, templates/, a gym's own package, a path not thought of here)
selects every server. A symbolic link or submodule anywhere under resources_servers/ is
refused: the server's session would run whatever it points to, which the diff never shows.

A server also depends on what its requirements.txt pulls in: a changed file that some
server's requirements include (``-r``/``-c``, recursively) or install (``-e``, ``file:``, a
local wheel or folder) selects that server too, whichever server the file is in. The
includes are read at the head (or from the working tree). GYM205 asks every server to
reach nothing outside its folder; this keeps one that still does from going unchecked.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import git
from gitdb.exc import BadName, BadObject

from gymkit.errors import UserError
from gymkit.hashing import requirement_references
from gymkit.project import MAX_SERVER_NAME, SERVER_NAME_SHAPE, SERVERS_DIR

__all__ = ["INERT_SUFFIXES", "Changes", "changed_servers", "is_inert", "one_line"]

# Git's modes: what a tree entry is. Only regular files (and deletions) are taken at face value.
_REGULAR = frozenset({"100644", "100755"})
_DELETED = "000000"
_SYMLINK = "120000"
_SUBMODULE = "160000"

# Files outside the servers that no server's test session, checklist or environment reads.
# Kept to prose and pictures on purpose: LICENSE, say, is read by the licence check.
INERT_SUFFIXES: tuple[str, ...] = (".md", ".png", ".jpg", ".jpeg", ".gif", ".svg")
_INERT_FOLDERS = ("docs",)


@dataclass(frozen=True)
class Changes:
    """The outcome of comparing a branch with its base."""

    servers: list[str]
    """Servers to test: changed ones that still exist at the head, sorted."""
    files: list[str] = field(default_factory=list)
    """Every changed path (both sides of a rename), repository-relative, sorted."""
    global_files: list[str] = field(default_factory=list)
    """The changed paths that select every server: neither inside one server nor inert."""
    direct: list[str] = field(default_factory=list)
    """Servers whose own files changed (a subset of ``servers``)."""
    deleted: list[str] = field(default_factory=list)
    """Servers whose files changed and that are gone at the head: nothing left to test."""
    dependents: list[str] = field(default_factory=list)
    """Servers selected because their requirements pull in a changed file outside them."""

    @property
    def all_selected(self) -> bool:
        return bool(self.global_files)


def one_line(text: str) -> str:
    """``text`` with newlines and other unprintable characters escaped, for a log or error line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def is_inert(path: str, mode: str) -> bool:
    """Whether a changed ``path`` (new ``mode``) outside the servers can select no server."""
    if mode not in _REGULAR and mode != _DELETED:
        return False  # a link or submodule, even with a harmless name, points somewhere unseen
    parts = path.split("/")  # git writes "/" whatever the platform, and no empty parts
    if not path.endswith(INERT_SUFFIXES):
        return False
    top_level = len(parts) == 1
    in_docs = parts[0] in _INERT_FOLDERS
    servers_index = len(parts) == 2 and parts[0] == SERVERS_DIR  # resources_servers/README.md
    return top_level or in_docs or servers_index


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


def _server_of(path: str) -> str | None:
    """The server folder a path is inside, or None (a hidden or dunder folder is no server)."""
    parts = path.split("/", 2)
    # A file directly in resources_servers/ (a README, say) belongs to no server.
    if len(parts) >= 3 and parts[0] == SERVERS_DIR and not parts[1].startswith((".", "__")):
        return parts[1]
    return None


def _git_out(repo: git.Repo, command: str, *args: str) -> list[str]:
    # NUL-separated output parsed here: GitPython's own diff parsing splits a path that holds
    # a newline, so a file could hide the server it is in.
    out = repo.git.execute(["git", command, "-z", *args], stdout_as_string=False, strip_newline_in_stdout=False)
    assert isinstance(out, bytes)
    return out.decode("utf-8", "surrogateescape").split("\0")


def _git_paths(repo: git.Repo, command: str, *args: str) -> list[str]:
    return [p for p in _git_out(repo, command, *args) if p]


def _diff_modes(repo: git.Repo, *commits: str) -> dict[str, str]:
    """Changed path -> its mode after the change (000000: deleted), from ``git diff --raw``."""
    # Without rename detection a rename is a deletion and an addition: both paths are listed.
    fields = _git_out(repo, "diff", "--raw", "--no-ext-diff", "--no-renames", *commits, "--")
    if fields and fields[-1] == "":
        fields.pop()  # the terminator after the last path
    modes = {}
    # Records are ":old new old_sha new_sha status" then the path, each NUL-terminated. Output
    # of any other shape is refused, not skipped: a record read wrongly would drop a path.
    for meta, path in zip(fields[0::2], fields[1::2], strict=False):
        if not meta.startswith(":") or len(meta.split(" ")) != 5 or not path:
            raise UserError(f"git diff --raw printed a record gymkit cannot read: {one_line(meta)[:80]!r}")
        modes[path] = meta[1:].split(" ")[1]
    if len(fields) % 2:
        raise UserError("git diff --raw printed a record without a path")
    return modes


def _disk_mode(path: str) -> str:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return _DELETED
    if stat.S_ISLNK(st.st_mode):
        return _SYMLINK
    return "100755" if st.st_mode & 0o100 else "100644"


def _tree_entries(repo: git.Repo, commit: str) -> dict[str, str]:
    """Every entry under resources_servers/ at ``commit`` (folders too) -> its mode."""
    entries = {}
    # No trailing slash: with one, resources_servers itself being a link would list nothing.
    for line in _git_paths(repo, "ls-tree", "-r", "-t", "--full-tree", commit, "--", SERVERS_DIR):
        meta, _, path = line.partition("\t")
        entries[path] = meta.split(" ")[0]
    return entries


def _worktree_entries(repo: git.Repo, root: Path) -> dict[str, str]:
    """Files under resources_servers/ that git tracks or would add, still on disk -> mode.

    A folder that is a link on disk is listed as one; a deleted server's ignored leftovers
    (data/train.jsonl, __pycache__) are not listed, so they neither keep it alive nor are
    refused, and neither is a link inside an ignored .venv.
    """
    entries: dict[str, str] = {}
    linked: dict[str, bool] = {}
    top = str(root)

    def first_link(path: str) -> str | None:
        # The folders above a file, then the file: a folder swapped for a link leaves the
        # index listing files that are now reached through it.
        end = path.find("/")
        while True:
            prefix = path if end < 0 else path[:end]
            if prefix not in linked:
                linked[prefix] = os.path.islink(os.path.join(top, prefix))
            if linked[prefix]:
                return prefix
            if end < 0:
                return None
            end = path.find("/", end + 1)

    for line in _git_paths(repo, "ls-files", "--stage", "--", SERVERS_DIR):
        meta, _, path = line.partition("\t")
        mode = meta.split(" ")[0]
        if mode == _SUBMODULE:
            entries[path] = mode
        elif (link := first_link(path)) is not None:
            entries[link] = _SYMLINK
        elif (mode := _disk_mode(os.path.join(top, path))) != _DELETED:
            entries[path] = mode
    for path in _git_paths(repo, "ls-files", "--others", "--exclude-standard", "--", SERVERS_DIR):
        if path.endswith("/"):  # git lists a repository nested in the tree as its folder
            entries[path.rstrip("/")] = _SUBMODULE
        elif (link := first_link(path)) is not None:
            entries[link] = _SYMLINK
        else:
            entries[path] = _disk_mode(os.path.join(top, path))
    return entries


def _refuse_links(entries: dict[str, str]) -> None:
    links = sorted(p for p, mode in entries.items() if mode == _SYMLINK)
    modules = sorted(p for p, mode in entries.items() if mode == _SUBMODULE)
    if links:
        more = f" (and {len(links) - 1} more)" if links[1:] else ""
        raise UserError(
            f"{one_line(links[0])}: a symbolic link under {SERVERS_DIR}/{more}; a server's files must be real files",
            hint="replace the link by the files it points to (git rm the link, copy the files in, git add them)",
        )
    if modules:
        more = f" (and {len(modules) - 1} more)" if modules[1:] else ""
        raise UserError(
            f"{one_line(modules[0])}: a git submodule or nested repository under {SERVERS_DIR}/{more}",
            hint="commit the server's files into this repository itself",
        )


def _servers_in(entries: dict[str, str]) -> set[str]:
    # Git has no empty folders: a server exists when something is listed inside its folder.
    return {s for path in entries if (s := _server_of(path))}


# A requirements file larger than this, or more included files than this per server, is
# not read further: no real one comes near, and a crafted one must not stall the job.
_MAX_REQUIREMENTS_BYTES = 1 << 20
_MAX_REQUIREMENT_FILES = 64


def _reader(repo: git.Repo, root: Path, head: str | None) -> Callable[[str], str | None]:
    """Text of a repository path at ``head`` (or in the working tree), None when it is no regular file."""
    if head is None:

        def from_disk(path: str) -> str | None:
            full = root / path
            try:
                if full.is_symlink() or not full.is_file() or full.stat().st_size > _MAX_REQUIREMENTS_BYTES:
                    return None
                return full.read_text(encoding="utf-8", errors="replace")
            except OSError:
                return None

        return from_disk
    tree = repo.commit(head).tree

    def from_tree(path: str) -> str | None:
        try:
            blob = tree / path
        except KeyError:
            return None
        if blob.type != "blob" or blob.mode not in (0o100644, 0o100755) or blob.size > _MAX_REQUIREMENTS_BYTES:
            return None
        data: bytes = blob.data_stream.read()
        return data.decode("utf-8", "replace")

    return from_tree


def _in_repo(start: str, written: str) -> str | None:
    """``written`` resolved against the repository folder ``start``; None when absolute or above the root."""
    if written.startswith(("/", "~")) or os.path.isabs(written):
        return None  # outside any diff (GYM205 refuses it)
    target = posixpath.normpath(posixpath.join(start, written))
    return None if target == ".." or target.startswith("../") else target


def _requirement_inputs(read: Callable[[str], str | None], server: str) -> tuple[set[str], tuple[str, ...]]:
    """(files, folder prefixes): what installing a server's requirements reads, as repository paths."""
    base = f"{SERVERS_DIR}/{server}"
    files: set[str] = set()
    folders: set[str] = set()
    pending = [f"{base}/requirements.txt"]
    while pending and len(files) < _MAX_REQUIREMENT_FILES:
        path = pending.pop()
        if path in files:
            continue
        files.add(path)
        text = read(path)
        for kind, written in requirement_references(text or ""):
            # -r and -c resolve against the including file; pip resolves the rest where it runs,
            # the server's folder (as NeMo Gym installs).
            target = _in_repo(posixpath.dirname(path) if kind == "include" else base, written)
            if target is None:
                continue
            if kind == "include":
                pending.append(target)
            else:
                files.add(target)
                folders.add("" if target == "." else target + "/")  # "": the whole repository
    return files, tuple(folders)


def _depends_on(read: Callable[[str], str | None], server: str, changed: Iterable[str]) -> bool:
    files, folders = _requirement_inputs(read, server)
    return any(f in files or f.startswith(folders) for f in changed)


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
    if head is None:
        modes = _diff_modes(repo, start)
        for untracked in _git_paths(repo, "ls-files", "--others", "--exclude-standard"):
            modes[untracked] = _disk_mode(str(root / untracked))
        entries = _worktree_entries(repo, root)
    else:
        modes = _diff_modes(repo, start, head_commit.hexsha)
        entries = _tree_entries(repo, head_commit.hexsha)
    # Every link at the head, not only the changed ones: the session follows them all.
    _refuse_links(entries)
    existing = _servers_in(entries)
    touched = {s for f in modes if (s := _server_of(f))}
    global_files = sorted(f for f, mode in modes.items() if not _server_of(f) and not is_inert(f, mode))
    # Only the changes outside a server can reach another server through its requirements;
    # with a global change every server is selected anyway.
    dependents: set[str] = set()
    if not global_files and modes:
        read = _reader(repo, root, None if head is None else head_commit.hexsha)
        others = {s: [f for f in modes if _server_of(f) != s] for s in existing - touched}
        dependents = {s for s, files in others.items() if files and _depends_on(read, s, files)}
    candidates = existing if global_files else (touched | dependents) & existing
    # Server names end up in CI job names, artifact names and nox session ids; anything else
    # in resources_servers/ is refused rather than passed on.
    bad = sorted(c for c in candidates if not SERVER_NAME_SHAPE.fullmatch(c) or len(c) > MAX_SERVER_NAME)
    if bad:
        raise UserError(
            f"{SERVERS_DIR}/{one_line(bad[0])}: not a valid server name"
            + (f" (and {len(bad) - 1} more)" if bad[1:] else ""),
            hint="server folders are lower_snake_case: a letter, then up to 63 letters, digits or underscores",
        )
    return Changes(
        servers=sorted(candidates),
        files=sorted(modes),
        global_files=global_files,
        direct=sorted(candidates & touched),
        deleted=sorted(touched - existing),
        dependents=sorted(candidates & dependents),
    )
