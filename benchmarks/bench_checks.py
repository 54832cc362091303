"""How long `gymkit check` takes: the folder of broken servers (target: under 60 s) and one good server.

    python benchmarks/bench_checks.py              # --jobs 4, verify timeout 2 s
    python benchmarks/bench_checks.py --jobs 1

Copies the test suite's fixture servers (tests/checks/servers) into a temporary gym and
times the real command, `gymkit check --all --format json`, in a child process, as CI
runs it. Prints wall time, the machine's load average, and findings per server.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.checks.conftest import BROKEN_CASES, build_server  # noqa: E402


def _run(gym: Path, jobs: int, timeout: float) -> tuple[float, dict[str, object]]:
    cmd = [
        sys.executable,
        "-m",
        "gymkit",
        "check",
        "--all",
        "-f",
        "json",
        "-j",
        str(jobs),
        "--verify-timeout",
        str(timeout),
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=gym, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if "Traceback" in proc.stderr:
        raise SystemExit(proc.stderr)
    return elapsed, json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--verify-timeout", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gymkit-bench-checks-") as tmp:
        broken, good = Path(tmp) / "broken", Path(tmp) / "good"
        for case in BROKEN_CASES:
            build_server(broken, case)
        build_server(good)
        load = os.getloadavg()[0]
        elapsed, report = _run(broken, args.jobs, args.verify_timeout)
        print(f"{len(BROKEN_CASES)} broken servers, --jobs {args.jobs}: {elapsed:.1f} s (load average {load:.1f})")
        for server in report["servers"]:  # type: ignore[union-attr]
            failed = sorted({f["code"] for f in server["findings"] if f["status"] == "fail"})
            print(f"  {server['name']:<26} fails {', '.join(failed)}")
        elapsed, report = _run(good, 1, args.verify_timeout)
        statuses = [f["status"] for f in report["servers"][0]["findings"]]  # type: ignore[index]
        print(f"good server, all 8 steps: {elapsed:.1f} s, {statuses.count('pass')}/{len(statuses)} checks pass")


if __name__ == "__main__":
    main()
