"""Rollout collection throughput: gymkit must never be the bottleneck.

Three processes: the fake OpenAI-compatible endpoint of ``_endpoint.py`` at zero latency and
no capacity limit, a gymkit resource server with one tool (under uvicorn), and the
collector. Every rollout is seed_session, a model turn that calls the tool, the tool call, a
final model turn, verify. Each concurrency level runs in a fresh collector process so its
peak RSS is its own.

    python benchmarks/bench_rollouts.py                      # 1, 64, 1024, 4096 in flight
    python benchmarks/bench_rollouts.py --levels 64 --rollouts 5000

Targets (2-core machine): >= 250 rollouts/s at 64 in flight; 4096 in flight without a stall
(no time without a finished rollout longer than --stall) and under 500 MB peak RSS in the
collector.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _endpoint import cpu_seconds, run_collection, start, start_endpoint, write_echo_server, write_tasks

DEFAULT_ROLLOUTS = {1: 300, 64: 4000, 1024: 8192, 4096: 16384}


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 64, 1024, 4096])
    parser.add_argument("--rollouts", type=int, help="rollouts per level (default: scaled to the level)")
    parser.add_argument("--stall", type=float, default=2.0, help="seconds without a finished rollout = a stall")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="gymkit-bench-"))
    server_dir = write_echo_server(work)
    model, model_url = start_endpoint(0)
    server, server_url = start(
        [sys.executable, "-m", "gymkit", "serve", str(server_dir), "--port", "0"], r"gymkit: serving \S+ at (\S+)"
    )
    print(
        f"{'in flight':>9} {'rollouts':>8} {'rollouts/s':>10} {'collector MB':>12} {'longest gap s':>13} "
        f"{'stall':>5} {'load':>5}  CPU s: collector / resource server / endpoint"
    )
    try:
        for level in args.levels:
            n = args.rollouts or DEFAULT_ROLLOUTS.get(level, max(1000, 4 * level))
            tasks = write_tasks(work, n)
            cpu_before = cpu_seconds(server.pid), cpu_seconds(model.pid)
            r = run_collection(server_dir, tasks, model_url, server_url, level)
            failed = f" ({r['failed']} failed)" if r["failed"] else ""
            server_cpu, model_cpu = cpu_seconds(server.pid) - cpu_before[0], cpu_seconds(model.pid) - cpu_before[1]
            cpu = f"{r['collector_cpu_s']:.1f} / {server_cpu:.1f} / {model_cpu:.1f}"
            stalled = "YES" if r["longest_gap_s"] > args.stall else "no"
            print(
                f"{level:>9} {r['rollouts']:>8} {r['rollouts_per_s']:>10.0f} {r['collector_peak_mb']:>12.0f} "
                f"{r['longest_gap_s']:>13.2f} {stalled:>5} {os.getloadavg()[0]:>5.2f}  {cpu}{failed}",
                flush=True,
            )
        server_mb, model_mb = _peak_mb(server.pid), _peak_mb(model.pid)
        print(f"peak RSS: resource server {server_mb:.0f} MB, scripted endpoint {model_mb:.0f} MB")
    finally:
        for proc in (server, model):
            proc.terminate()
            proc.wait(timeout=10)
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
