"""How long change detection takes on a large gym (target: under 1 s for 500 servers).

    python benchmarks/bench_changed.py                 # 500 servers, 200 commits on main
    python benchmarks/bench_changed.py --servers 2000 --runs 9

Builds a real repository in a temporary folder: `--servers` servers of 6 files each on
main, `--commits` further commits on main, then a PR branch that adds one server and edits
ten; a second branch changes gymkit/ (every server selected). Times
`gymkit.gitutil.changed_servers` in-process (the library call CI's `gymkit changed` makes).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from gymkit.gitutil import changed_servers

_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@gymkit.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@gymkit.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, env=_ENV, check=True, capture_output=True)


def _server(root: Path, name: str) -> None:
    folder = root / "resources_servers" / name
    for rel in ("app.py", "README.md", "requirements.txt", f"configs/{name}.yaml", "data/example.jsonl", "tests/t.py"):
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{name} {rel}\n")


def build(root: Path, servers: int, commits: int) -> None:
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    (root / "gymkit").mkdir()
    (root / "gymkit" / "VERSION").write_text("0\n")
    for i in range(servers):
        _server(root, f"server_{i:05d}")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "servers")
    for i in range(commits):
        (root / "resources_servers" / f"server_{i % servers:05d}" / "README.md").write_text(f"rev {i}\n")
        _git(root, "commit", "-q", "-am", f"rev {i}")
    _git(root, "checkout", "-q", "-b", "pr")
    _server(root, "new_server")
    for i in range(10):
        (root / "resources_servers" / f"server_{i * 7 % servers:05d}" / "app.py").write_text("edited\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "pr")
    _git(root, "checkout", "-q", "-b", "gymkit-change", "main")
    (root / "gymkit" / "VERSION").write_text("1\n")
    _git(root, "commit", "-q", "-am", "gymkit")


def timed(runs: int, fn: object) -> tuple[float, float, int]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times), max(times), len(result.servers)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=500)
    parser.add_argument("--commits", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "gym"
        start = time.perf_counter()
        build(root, args.servers, args.commits)
        print(f"built: {args.servers} servers, {args.commits} commits on main in {time.perf_counter() - start:.1f} s")
        for label, head in (("PR adding 1 and editing 10", "pr"), ("PR changing gymkit/", "gymkit-change")):
            median, worst, selected = timed(args.runs, lambda h=head: changed_servers(root, "main", h))
            print(f"{label:28s} selected {selected:5d}  median {median * 1000:7.1f} ms  max {worst * 1000:7.1f} ms")
        _git(root, "checkout", "-q", "pr")
        (root / "resources_servers" / "server_00003" / "README.md").write_text("uncommitted\n")
        median, worst, selected = timed(args.runs, lambda: changed_servers(root, "main"))
        label = "working tree (no --head)"
        print(f"{label:28s} selected {selected:5d}  median {median * 1000:7.1f} ms  max {worst * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
