"""Content hashes that let a report say what it was computed from, so a check can tell stale from fresh.

What the hashes cover, for a server folder (paths relative to it):

* **Not hashed at all** (:data:`NOT_CODE`): the top-level ``README.md``; ``.copier-answers.yml``
  (the template's answers, read by ``gymkit update`` only); what gymkit itself writes into the
  folder, ``reports/reward_profile/`` and ``reports/training/`` (a profile cannot hash itself);
  ``.gitignore`` files; and caches at any depth (``__pycache__``, ``*.pyc``, ``.pytest_cache``, ``.venv``, ``.nox``,
  ``.gymkit-cache``, ``.mypy_cache``, ``.ruff_cache``, and a nested ``.git``).
* **Tests and data** (:func:`is_test_or_data`), which ``gymkit test`` reads but a reward does not:
  the top-level ``tests/`` folder, ``*.jsonl`` files under the top-level ``data/`` folder (task
  rows and rollouts: a reward profile names the dataset it sampled by a hash of its own), and
  pytest's configuration at the top level (``conftest.py``, ``pytest.ini``, ``.pytest.ini``,
  ``tox.ini``). The test stamp (:mod:`gymkit.testing.stamp`) covers them; the code hash does not.
* **Code**: every other file, whatever its name or depth: a ``reports/grader.py`` the app
  imports, a ``lib/data/scorer.py``, a ``rubric.json``, a vendored wheel, a hidden file. Only the
  top-level ``data``, ``tests`` and ``reports`` folders are special; deeper folders of those
  names are code like any other. Files outside the folder that its ``requirements.txt`` pulls
  in (``-r``/``-c`` includes, ``-e`` or ``file:`` paths, local wheels) count as code too.

A config YAML under the top-level ``configs/`` counts by what it says, less comments and its
``gymkit:`` blocks (waivers with their reasons): those are about the checklist, and rewording a
waiver must not cost a new profile. Requirements count by what pip would install: in
``requirements.txt`` and the files it includes, each line as :mod:`packaging` reads it (names
folded as pip folds them, extras and version clauses sorted, markers and options in one
spelling), so comments, blank lines, line breaks and spacing count for nothing; in the server's
own ``pyproject.toml``, what the TOML says, with its dependency lists read the same way. The
order of requirements does count: pip and uv prefer the first-listed one when they backtrack,
so a reordering can install other versions. Every other file counts by its bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

__all__ = [
    "CACHE_NAMES",
    "EARLIER_SCHEME",
    "NOT_CODE",
    "code_digests",
    "file_sha256",
    "hashed_files",
    "is_test_or_data",
    "local_requirement_files",
    "requirement_references",
    "server_code_sha256",
]

# Folder or file names, at any depth, that tools write and nothing reads back as input (and
# a nested repository's .git, which is git's business).
CACHE_NAMES = frozenset(
    {"__pycache__", ".pytest_cache", ".venv", ".nox", ".gymkit-cache", ".mypy_cache", ".ruff_cache", ".git"}
)
# Paths (relative to the server, POSIX) that are no input of any stage: prose, the template's
# answers, and the reports gymkit writes. A trailing "/" names a folder and all it holds.
NOT_CODE: tuple[str, ...] = ("README.md", ".copier-answers.yml", "reports/reward_profile/", "reports/training/")
# What a check says of a report whose code hash only the earlier scheme of code_digests gives.
EARLIER_SCHEME = "made with gymkit's earlier code hash; still matches this code"
_PYTEST_CONFIGS = frozenset({"conftest.py", "pytest.ini", ".pytest.ini", "tox.ini"})


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_cache(rel: PurePosixPath) -> bool:
    return rel.suffix == ".pyc" or not CACHE_NAMES.isdisjoint(rel.parts)


def _not_code(rel: PurePosixPath) -> bool:
    if rel.name == ".gitignore":
        return True  # git's list of what not to commit, at any depth: no stage reads it
    text = rel.as_posix()
    return any(text == skip or (skip.endswith("/") and text.startswith(skip)) for skip in NOT_CODE)


def is_test_or_data(rel: str | PurePosixPath) -> bool:
    """Whether a server file (path relative to the server) is a test, test configuration or data row file."""
    rel = PurePosixPath(rel)
    top = rel.parts[0]
    if top == "tests" and len(rel.parts) > 1:
        return True
    if top == "data" and len(rel.parts) > 1 and rel.suffix == ".jsonl":
        return True
    return len(rel.parts) == 1 and rel.name in _PYTEST_CONFIGS


def _walk(folder: Path) -> list[Path]:
    # os.walk rather than rglob: cache folders (a .venv holds thousands of files) are pruned, not
    # read. Linked folders are followed, as an import follows them, each real folder once.
    found: list[Path] = []
    visited: set[str] = set()
    for top, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(top)
        if real in visited:
            dirs[:] = []
            continue
        visited.add(real)
        dirs[:] = sorted(d for d in dirs if d not in CACHE_NAMES)
        found.extend(Path(top, name) for name in files)
    return found


def hashed_files(server_dir: Path) -> list[PurePosixPath]:
    """Every file of the server that a hash covers (code, tests and data), relative, sorted."""
    out = []
    for path in _walk(server_dir):
        rel = PurePosixPath(path.relative_to(server_dir).as_posix())
        # A link is hashed by what it points to; a fifo or socket has no content to hash.
        if not _is_cache(rel) and not _not_code(rel) and path.is_file():
            out.append(rel)
    return sorted(out)


# --- what requirements.txt pulls in from the disk --------------------------------------------

_INCLUDE = re.compile(r"^(-r|-c|--requirement|--constraint)(?:\s*=\s*|\s*)(\S+)")
_EDITABLE = re.compile(r"^(-e|--editable)(?:\s*=\s*|\s+)(\S+)")
_FIND_LINKS = re.compile(r"^(-f|--find-links)(?:\s*=\s*|\s+)(\S+)")
_AT_URL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(?:\[[^\]]*\])?\s*@\s*(\S+)")
_ARCHIVE = (".whl", ".tar.gz", ".tgz", ".zip", ".tar.bz2", ".tar.xz")


def _logical_lines(text: str) -> list[str]:
    joined = re.sub(r"\\\r?\n", "", text)  # pip joins a line ending in a backslash with the next
    lines = []
    for line in joined.splitlines():
        # pip strips a comment only after whitespace: a URL fragment (#egg=) is not one.
        line = re.sub(r"(^|\s+)#.*$", "", line).strip()
        if line:
            lines.append(line)
    return lines


def _local_path(target: str) -> str | None:
    """The filesystem path a requirement target names, or None for an index name or a remote URL."""
    if target.startswith("file:"):
        parts = urlsplit(target)
        path = unquote(parts.path)
        if parts.netloc and parts.netloc != "localhost":
            return None  # file://host/share: not this machine's disk
        return path or None
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", target) or target.startswith("git+"):
        return None
    target = target.split(";", 1)[0].split("#", 1)[0].strip()
    if target.startswith((".", "/", "~")) or "/" in target or os.sep in target or target.endswith(_ARCHIVE):
        return target
    return None


def requirement_references(text: str) -> list[tuple[str, str]]:
    """(kind, path) of every local file or folder a requirements text names, in order.

    kind is ``include`` (``-r``/``-c``), ``editable`` (``-e``), ``find-links`` (``-f``) or
    ``path`` (``name @ file:...``, or a bare path or archive). Best effort: the syntax pip reads
    from requirement files, less options that name no file. Paths are as written; ``-r``/``-c``
    resolve against the including file's folder, the others against the folder pip runs in.
    """
    refs = []
    for line in _logical_lines(text):
        if match := _INCLUDE.match(line):
            refs.append(("include", match.group(2)))
            continue
        for kind, pattern in (("editable", _EDITABLE), ("find-links", _FIND_LINKS)):
            if match := pattern.match(line):
                if (path := _local_path(match.group(2))) is not None:
                    refs.append((kind, path))
                break
        else:
            if line.startswith("-"):
                continue  # --index-url, --hash and other options that name no local file
            target = match.group(1) if (match := _AT_URL.match(line)) else line.split()[0]
            if (path := _local_path(target)) is not None:
                refs.append(("path", path))
    return refs


def _resolve(base: Path, written: str) -> Path:
    return (base / os.path.expanduser(written)).resolve()


def _installed_files(server_dir: Path) -> dict[Path, bool]:
    """Resolved path -> whether it is a requirements text, of every file installing the server reads."""
    server_dir = server_dir.resolve()
    found: dict[Path, bool] = {}
    pending = [server_dir / "requirements.txt"]
    while pending:
        path = pending.pop().resolve()
        if found.get(path) or not path.is_file():
            continue
        found[path] = True
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for kind, written in requirement_references(text):
            if kind == "include":
                pending.append(_resolve(path.parent, written))
                continue
            target = _resolve(server_dir, written)
            if target.is_file():
                found.setdefault(target, False)
            elif target.is_dir():
                for file in _walk(target):
                    if file.suffix != ".pyc" and file.is_file():
                        found.setdefault(file.resolve(), False)
    return found


def local_requirement_files(server_dir: Path) -> list[Path]:
    """Every file on disk that installing the server's requirements.txt reads, besides the index.

    requirements.txt itself, the files it includes with ``-r``/``-c`` (recursively), and every
    file of the local wheels, archives and folders it installs (``-e ./pkg``, ``name @ file:...``,
    ``./vendor/x.whl``, ``-f ./wheels``), caches left out. Relative paths resolve as pip does
    when run in the server's folder. Resolved absolute paths, sorted; missing ones are left out
    (pip reports those itself).
    """
    return sorted(_installed_files(server_dir))


# --- requirements by their meaning ---------------------------------------------------------------

_OPTION = re.compile(r"^(--[A-Za-z0-9-]+|-[A-Za-z])=?(.*)$")
# pip's short options, spelled long so that -r x and --requirement=x read alike.
_LONG = {"-r": "--requirement", "-c": "--constraint", "-e": "--editable", "-f": "--find-links", "-i": "--index-url"}


def _canonical_options(text: str) -> str:
    words: list[str] = []
    for word in text.split():
        if match := _OPTION.match(word):
            words += [_LONG.get(match.group(1), match.group(1)), *filter(None, [match.group(2)])]
        else:
            words.append(word)
    return " ".join(words)


def _canonical_requirement(text: str) -> str:
    """A requirement as packaging reads it, or its text with spacing folded when packaging cannot."""
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        return " ".join(text.split())  # a line pip rejects, or a bare path or URL: its words decide
    # Spelled out here, not str(requirement): packaging's own spelling differs between releases.
    text = canonicalize_name(requirement.name)
    if requirement.extras:
        text += f"[{','.join(sorted(requirement.extras))}]"
    if requirement.url:
        text += f" @ {requirement.url}"
    else:
        text += ",".join(sorted(str(clause) for clause in requirement.specifier))
    return f"{text} ; {requirement.marker}" if requirement.marker else text


def _canonical_line(line: str) -> str:
    if line.startswith("-"):
        return _canonical_options(line)
    # As pip splits a line: the requirement runs up to the first word that is an option (--hash=...).
    words = line.split()
    first = next((i for i, word in enumerate(words) if word.startswith("-")), len(words))
    options = _canonical_options(" ".join(words[first:]))
    return " ".join(filter(None, [_canonical_requirement(" ".join(words[:first])), options]))


def _requirements_meaning(text: str) -> bytes:
    return "".join(_canonical_line(line) + "\n" for line in _logical_lines(text)).encode()


def _canonical_dependencies(node: Any) -> Any:
    if isinstance(node, list):
        return [_canonical_requirement(item) if isinstance(item, str) else item for item in node]
    if isinstance(node, dict):  # optional-dependencies, dependency-groups: name -> list
        return {key: _canonical_dependencies(value) for key, value in node.items()}
    return node


def _pyproject_meaning(data: bytes) -> bytes | None:
    try:
        parsed = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    project = parsed.get("project")
    if isinstance(project, dict):
        for key in ("dependencies", "optional-dependencies"):
            if key in project:
                project[key] = _canonical_dependencies(project[key])
    if "dependency-groups" in parsed:
        parsed["dependency-groups"] = _canonical_dependencies(parsed["dependency-groups"])
    return json.dumps(parsed, sort_keys=True, default=str).encode()


# --- the code hash ------------------------------------------------------------------------------


def _without_gymkit(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _without_gymkit(value) for key, value in node.items() if key != "gymkit"}
    if isinstance(node, list):
        return [_without_gymkit(value) for value in node]
    return node


def _config_meaning(data: bytes) -> bytes | None:
    try:
        config = yaml.safe_load(data)
    except yaml.YAMLError:
        return None  # a broken config fails its own check; its bytes still say when it changes
    return json.dumps(_without_gymkit(config), sort_keys=True, default=str).encode()


def _hashed_bytes(path: Path, rel: PurePosixPath | None, requirements: bool, earlier: bool = False) -> bytes:
    """What of a file's content a hash covers: configs and requirements by their meaning, the rest by bytes.

    ``rel`` is the path inside the server (None outside it); ``requirements`` says pip reads the
    file as a requirements text. ``earlier`` is the scheme before requirements counted by their
    meaning: they and ``pyproject.toml`` count by their bytes there.
    """
    data = path.read_bytes()
    meaning = None
    if requirements and not earlier:
        meaning = _requirements_meaning(data.decode("utf-8", errors="replace"))
    elif rel is not None and rel.parts == ("pyproject.toml",) and not earlier:
        meaning = _pyproject_meaning(data)
    elif rel is not None and len(rel.parts) == 2 and rel.parts[0] == "configs" and rel.suffix in (".yaml", ".yml"):
        meaning = _config_meaning(data)
    return data if meaning is None else meaning


def server_code_sha256(server_dir: Path) -> str:
    """One hash over the server's code (paths and content): what decides a reward (see the module docs).

    Configs and requirements count by what they say, less comments (and a config's ``gymkit:``
    blocks); other files by their bytes.
    """
    return _code_sha256(server_dir, earlier=False)


def code_digests(server_dir: Path) -> tuple[str, ...]:
    """The server's code hash as each scheme gymkit has written it computes it, the current one first.

    A report that records any of them describes the code as it is: the schemes differ in how
    they read the same files, not in which files they cover. Before the requirements
    change (commit 9584ff0) requirements files and ``pyproject.toml`` counted by their bytes,
    and reward profiles and test stamps made then still name that hash.
    """
    return server_code_sha256(server_dir), _code_sha256(server_dir, earlier=True)


def _code_sha256(server_dir: Path, *, earlier: bool) -> str:
    server_dir = server_dir.resolve()
    inside = {rel for rel in hashed_files(server_dir) if not is_test_or_data(rel)}
    installed = _installed_files(server_dir)
    outside = []
    for path in sorted(installed):
        if path.is_relative_to(server_dir):
            # What the environment installs is code wherever it sits (a tests/requirements.txt too).
            inside.add(PurePosixPath(path.relative_to(server_dir).as_posix()))
        else:
            outside.append(path)  # GYM205 flags these
    digest = hashlib.sha256()
    for rel in sorted(inside):
        digest.update(rel.as_posix().encode() + b"\0")
        pip_reads = installed.get((server_dir / rel).resolve(), False)
        digest.update(_hashed_bytes(server_dir / rel, rel, pip_reads, earlier) + b"\0")
    for path in outside:
        # Named by the path the server reaches it by.
        digest.update(f"outside:{os.path.relpath(path, server_dir)}".encode() + b"\0")
        digest.update(_hashed_bytes(path, None, installed[path], earlier) + b"\0")
    return digest.hexdigest()
