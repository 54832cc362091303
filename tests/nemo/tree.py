"""A NeMo Gym checkout made from the nemo-gym wheel, which carries the whole tree (servers included).

The wheel has no pyproject.toml, so one is written from the wheel's own metadata (name,
version, Python, dependencies, extras, console scripts): enough for ``-e CHECKOUT`` to install
the real nemo-gym from the tree, as a fork's pyproject does. The tree is a git repository, as
a fork is.
"""

from __future__ import annotations

import email.parser
import hashlib
import json
import os
import re
import subprocess
import zipfile
from pathlib import Path

WHEEL_NAME = "nemo_gym-0.4.0-py3-none-any.whl"
TREES = ("nemo_gym", "resources_servers", "responses_api_agents", "responses_api_models")
# Bumped when make_checkout lays the tree out differently: a cached checkout of an older layout is not reused.
LAYOUT = 2


def wheel_sha256(wheel: Path) -> str:
    digest = hashlib.sha256()
    with wheel.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pyproject(metadata: str, entry_points: str) -> str:
    message = email.parser.Parser().parsestr(metadata)
    dependencies: list[str] = []
    extras: dict[str, list[str]] = {}
    for requirement in message.get_all("Requires-Dist") or []:
        spec, _, marker = requirement.partition(";")
        match = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
        if match:
            extras.setdefault(match.group(1), []).append(spec.strip())
        else:
            dependencies.append(spec.strip())
    scripts = {}
    section = ""
    for line in entry_points.splitlines():
        if line.startswith("["):
            section = line.strip("[] ")
        elif "=" in line and section == "console_scripts":
            name, _, target = line.partition("=")
            scripts[name.strip()] = target.strip()
    extras_toml = "\n".join(f"{name} = {json.dumps(specs)}" for name, specs in extras.items())
    scripts_toml = "\n".join(f"{json.dumps(name)} = {json.dumps(target)}" for name, target in scripts.items())
    packages = json.dumps([f"{tree}*" for tree in TREES])
    return f"""[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{message["Name"]}"
version = "{message["Version"]}"
requires-python = "{message["Requires-Python"]}"
dependencies = {json.dumps(dependencies)}

[project.optional-dependencies]
{extras_toml}

[project.scripts]
{scripts_toml}

[tool.setuptools.packages.find]
include = {packages}
"""


def make_checkout(wheel: Path, target: Path) -> Path:
    """Extract the wheel's tree into ``target`` (a fresh folder), write its pyproject.toml, commit it."""
    target.mkdir(parents=True)
    with zipfile.ZipFile(wheel) as archive:
        info = next(n.split("/")[0] for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(f"{info}/METADATA").decode()
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
        # Everything but the metadata: configs point into benchmarks/ and environments/ too.
        for name in archive.namelist():
            if name.split("/")[0] != info:
                archive.extract(name, target)
    (target / "pyproject.toml").write_text(_pyproject(metadata, entry_points), encoding="utf-8")
    (target / ".gitignore").write_text(".gymkit-cache/\n.venv/\n*.egg-info/\n__pycache__/\n", encoding="utf-8")
    _commit_tree(target, "nemo-gym tree")
    return target


def _commit_tree(target: Path, message: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", message]):
        subprocess.run(cmd, cwd=target, env=env, check=True, capture_output=True)


def checkout_from_git(git_dir: Path, tag: str, target: Path) -> list[str]:
    """The tree of ``tag`` in the repository ``git_dir`` (bare is fine) as a fresh repository at ``target``.

    A partial clone may lack some large blobs (upstream keeps PDFs and big samples); those files
    are left out and returned, rather than failing the whole tree.
    """
    listed = subprocess.run(
        ["git", "-C", str(git_dir), "ls-tree", "-r", "-z", tag], capture_output=True, check=True
    ).stdout.split(b"\0")
    left_out: list[str] = []
    with subprocess.Popen(
        ["git", "-C", str(git_dir), "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    ) as cat:
        assert cat.stdin is not None and cat.stdout is not None
        for row in filter(None, listed):
            meta, _, raw_path = row.partition(b"\t")
            mode, kind, sha = meta.decode().split()
            path = raw_path.decode()
            if kind != "blob":
                continue  # submodules: not part of the tree gymkit reads
            cat.stdin.write(f"{sha}\n".encode())
            cat.stdin.flush()
            header = cat.stdout.readline().split()
            if header[1] == b"missing":
                left_out.append(path)
                continue
            data = cat.stdout.read(int(header[2]))
            cat.stdout.read(1)
            file = target / path
            file.parent.mkdir(parents=True, exist_ok=True)
            if mode == "120000":
                file.symlink_to(data.decode())
            else:
                file.write_bytes(data)
                file.chmod(0o755 if mode == "100755" else 0o644)
        cat.stdin.close()
    _commit_tree(target, f"nemo-gym {tag}")
    return left_out
