"""How long `gymkit new NAME` takes end to end, and where the time goes (target: under 1 s).

    python benchmarks/bench_new.py              # 7 runs of each measurement
    python benchmarks/bench_new.py --runs 15

Each `gymkit new` is a fresh process with no terminal on stdin, rendering into an empty
temporary gym repository, exactly as a contributor or CI runs it. The breakdown times the
same work in pieces: the interpreter alone, importing the CLI, importing copier, and
rendering in a process that has already imported everything.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

RENDER = """
import sys, time
from pathlib import Path
import copier
from gymkit.scaffold import new_server
root = Path(sys.argv[1])
times = []
for i in range(int(sys.argv[2])):
    start = time.perf_counter()
    new_server(f"warm_{i}", root=root, template=Path(sys.argv[3]))
    times.append(time.perf_counter() - start)
print(" ".join(str(t) for t in times))
"""


CPU: dict[str, list[float]] = {}


def timed(cmd: list[str], cwd: Path, label: str = "") -> float:
    """Wall time of one run; its CPU time (user + system) is kept under ``label``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{result.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    CPU.setdefault(label, []).append(cpu)
    return elapsed


def summary(label: str, times: list[float], key: str = "") -> str:
    cpu = CPU.get(key) if key else None
    cpu_text = f"   cpu {statistics.median(cpu) * 1000:6.0f}" if cpu else ""
    return (
        f"{label:<38} median {statistics.median(times) * 1000:7.0f} ms"
        f"   min {min(times) * 1000:6.0f}   max {max(times) * 1000:6.0f}{cpu_text}   (n={len(times)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    python = sys.executable
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="gymkit-bench-new-") as tmp:
        root = Path(tmp)
        (root / "resources_servers").mkdir()
        timed([python, "-m", "gymkit", "new", "warmup", "--template", str(REPO)], root)  # page cache, .pyc files
        new = [python, "-m", "gymkit", "new"]
        end_to_end = [timed([*new, f"bench_{i}", "--template", str(REPO)], root, "new") for i in range(args.runs)]
        interpreter = [timed([python, "-c", "pass"], root, "python") for _ in range(args.runs)]
        cli_import = [timed([python, "-c", "import gymkit.cli.new"], root, "cli") for _ in range(args.runs)]
        copier_import = [timed([python, "-c", "import copier"], root, "copier") for _ in range(args.runs)]
        out = subprocess.run(
            [python, "-c", RENDER, str(root), str(args.runs), str(REPO)], capture_output=True, text=True, check=True
        ).stdout
        render = [float(t) for t in out.split()]
        shutil.rmtree(root / "resources_servers")
    print(f"load average before: {load[0]:.1f} (cpu = user + system time of the process, less load-sensitive)")
    print(summary("gymkit new NAME (end to end)", end_to_end, "new"))
    print(summary("  python -c pass", interpreter, "python"))
    print(summary("  import gymkit.cli.new", cli_import, "cli"))
    print(summary("  import copier", copier_import, "copier"))
    print(summary("  render, imports done (in-process)", render))
    verdict = "meets" if statistics.median(end_to_end) < 1.0 else "misses"
    print(f"target < 1000 ms: {verdict} it (median {statistics.median(end_to_end) * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
