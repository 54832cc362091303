"""How long `gymkit test` takes (what `nox -s test-server` runs): a fresh server cold and warm, and the whole gym.

    python benchmarks/bench_test_server.py [--warm-runs 3] [--skip-all]

Cold = the server's environment does not exist yet (uv's download cache is warm, as on
any machine that has built one environment before). Warm = the environment is reused.
The warm overhead is the session's wall time minus the time its log gives the server's own
pytest run. Targets on a 2-core machine: cold <= 30 s, warm overhead <= 3 s.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NAME = "bench_server"
COLD_TARGET = 30.0
WARM_OVERHEAD_TARGET = 3.0


@dataclass
class Run:
    seconds: float
    output: str
    cpu: float = 0.0  # user + system seconds of every process the run started

    def stage(self, pattern: str) -> float:
        """Seconds of the stage line matching ``pattern`` (e.g. ``1/3 tests: passed``)."""
        times = [float(m) for m in re.findall(rf"{re.escape(pattern)} in ([0-9.]+) s", self.output)]
        return sum(times)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def gymkit_test(root: Path, *names: str) -> Run:
    env = {**os.environ, "GYMKIT_SOURCE": str(REPO), "NO_COLOR": "1"}
    started, cpu = time.perf_counter(), children_cpu()
    proc = subprocess.run(
        [sys.executable, "-m", "gymkit", "test", *(names or ("--all",))],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    run = Run(time.perf_counter() - started, proc.stdout + proc.stderr, children_cpu() - cpu)
    if proc.returncode != 0:
        sys.exit(f"gymkit test {' '.join(names)} failed in {root}:\n{run.output[-3000:]}")
    return run


def scaffold(root: Path) -> None:
    """A gym tree like a fork: one server from `gymkit new`."""
    (root / "resources_servers").mkdir()
    gymkit = Path(sys.executable).with_name("gymkit")
    subprocess.run([gymkit, "new", NAME, "--defaults"], cwd=root, check=True, capture_output=True, text=True)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


def verdict(value: float, target: float) -> str:
    return f"target <= {target:g} s: {'met' if value <= target else 'MISSED'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm-runs", type=int, default=3, help="warm runs to take the median of")
    parser.add_argument("--skip-all", action="store_true", help="skip the run over every server of the gym")
    args = parser.parse_args()
    print(f"test-server benchmark; {load()}")

    with tempfile.TemporaryDirectory(prefix="gymkit-bench-") as tmp:
        root = Path(tmp)
        scaffold(root)
        cold = gymkit_test(root, NAME)
        built = float(m.group(1)) if (m := re.search(r"environment: built in ([0-9.]+) s", cold.output)) else 0.0
        tests = cold.stage(f"[{NAME}] 1/3 tests: passed")
        rest = cold.stage(f"[{NAME}] 2/3 smoke and 3/3 data: passed")
        print(f"\nfresh server ({NAME}, from `gymkit new --defaults`)")
        print(
            f"  cold: {cold.seconds:5.1f} s  (environment {built:.1f} s, server tests {tests:.1f} s, "
            f"smoke+data {rest:.1f} s)  {verdict(cold.seconds, COLD_TARGET)}"
        )
        warm = [gymkit_test(root, NAME) for _ in range(args.warm_runs)]
        median = statistics.median(run.seconds for run in warm)
        # The stage lines time the server's own pytest inside the session; the rest is the session's.
        own = statistics.median(run.stage(f"[{NAME}] 1/3 tests: passed") for run in warm)
        overhead = median - own
        print(f"  warm: {median:5.1f} s  median of {len(warm)} ({', '.join(f'{r.seconds:.1f}' for r in warm)})")
        print(f"  the server's own tests inside it: {own:.1f} s")
        print(f"  warm overhead beyond the server's tests: {overhead:.1f} s  {verdict(overhead, WARM_OVERHEAD_TARGET)}")

    if not args.skip_all:
        servers = sorted(p.parent.name for p in (REPO / "resources_servers").glob("*/app.py"))
        first = gymkit_test(REPO)
        again = gymkit_test(REPO)
        built = len(re.findall(r"environment: built in", first.output))
        tests = again.stage("1/3 tests: passed")
        print(f"\nall servers of the gym ({len(servers)}: {', '.join(servers)})")
        print(f"  first run: {first.seconds:5.1f} s  ({built} environments built)")
        print(f"  warm run:  {again.seconds:5.1f} s  (servers' own tests {tests:.1f} s of it)")
    print(f"\n{load()}")


if __name__ == "__main__":
    main()
