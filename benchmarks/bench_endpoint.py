"""Does gymkit keep a capacity-limited model endpoint busy?

The fake endpoint (``_endpoint.py``, its own process) serves at most ``--capacity`` calls at
once, each taking a fixed latency; calls beyond that queue (as vLLM's scheduler queues
them). Every rollout is seed_session, a model turn that calls a tool, the tool call, a final
model turn, verify, so a rollout is two model calls. For each latency the endpoint reports
how busy its slots were from its first call to its last answer (utilisation), the collector
reports rollouts/s, and a watcher in the collector's process reports the longest time
between two finished rollouts and what the event loop's thread was doing meanwhile. CPU
seconds are per process: collector / resource server / endpoint. The load average is the
one-minute figure at the end of each row.

    python benchmarks/bench_endpoint.py                          # gymkit's defaults
    python benchmarks/bench_endpoint.py --code /tmp/gk-before    # another checkout's gymkit
    python benchmarks/bench_endpoint.py --latencies 0.05 --capacity 0 --concurrency 4096 --rollouts 16384

Targets (2-core machine): >= 90 % utilisation of a 64-slot, 200 ms endpoint over 2,000
rollouts with default settings; no gap over 1 s between finished rollouts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _endpoint import (
    cpu_seconds,
    http,
    run_collection,
    start,
    start_endpoint,
    utilisation,
    write_echo_server,
    write_tasks,
)

LATENCIES = [0.0, 0.05, 0.2, 1.0, 2.0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latencies", type=float, nargs="+", default=LATENCIES, help="seconds per model call")
    parser.add_argument("--capacity", type=int, default=64, help="calls the endpoint serves at once (0: no limit)")
    parser.add_argument("--rollouts", type=int, nargs="+", default=[2000], help="per latency (one value: for all)")
    parser.add_argument("--concurrency", type=int, default=0, help="pin gymkit's --concurrency (0: its default)")
    parser.add_argument("--code", type=Path, help="checkout whose gymkit runs the collection (default: this one)")
    parser.add_argument("--verbose", action="store_true", help="print where the event loop was in the longest gap")
    args = parser.parse_args()

    counts = args.rollouts if len(args.rollouts) == len(args.latencies) else args.rollouts[:1] * len(args.latencies)
    env = dict(os.environ)
    if args.code:
        env["PYTHONPATH"] = str(args.code.resolve())
    work = Path(tempfile.mkdtemp(prefix="gymkit-bench-endpoint-"))
    server_dir = write_echo_server(work)
    model, model_url = start_endpoint(args.capacity)
    admin = model_url.removesuffix("/v1")
    server, server_url = start(
        [sys.executable, "-m", "gymkit", "serve", str(server_dir), "--port", "0"], r"gymkit: serving \S+ at (\S+)"
    )
    code = args.code or Path(__file__).resolve().parent.parent
    pinned = args.concurrency or "default"
    print(f"gymkit from {code}; endpoint: {args.capacity or 'any number of'} calls at once; concurrency {pinned}")
    head = f"{'latency s':>9} {'rollouts':>8} {'seconds':>8} {'rollouts/s':>10} {'utilisation':>11} {'max gap s':>9}"
    print(f"{head} {'CPU s':>16} {'load':>5}  limit")
    try:
        for latency, n in zip(args.latencies, counts, strict=True):
            tasks = write_tasks(work, n)
            http(f"{admin}/configure?latency={latency}", "POST")
            before = cpu_seconds(server.pid), cpu_seconds(model.pid)
            r = run_collection(server_dir, tasks, model_url, server_url, args.concurrency, env)
            cpu = f"{r['collector_cpu_s']:.1f}/{cpu_seconds(server.pid) - before[0]:.1f}/"
            cpu += f"{cpu_seconds(model.pid) - before[1]:.1f}"
            busy = utilisation(admin, args.capacity, latency)
            shown = f"{busy:.0%}" if busy is not None else "-"
            failed = f" ({r['failed']} failed: {r['failure_classes']})" if r["failed"] else ""
            load = os.getloadavg()[0]
            print(
                f"{latency:>9g} {r['rollouts']:>8} {r['seconds']:>8.1f} {r['rollouts_per_s']:>10.1f} {shown:>11} "
                f"{r['longest_gap_s']:>9.2f} {cpu:>16} {load:>5.2f}  {r['limit']}{failed}",
                flush=True,
            )
            if args.verbose:
                idle = "-" if r["gap_idle"] is None else f"{r['gap_idle']:.0%}"
                where = r["gap_where"]
                print(f"    longest gap, after {r['gap_after']} rollouts: loop idle {idle} of it, else in {where}")
                print(f"    longest busy stretch of the loop {r['busiest_s']:.2f} s in {r['busiest_where']}")
                print(f"    longest garbage collection {r['gc_max_s']:.3f} s")
    finally:
        for proc in (server, model):
            proc.terminate()
            proc.wait(timeout=10)
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
