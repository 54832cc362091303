"""Embedded-model rollouts per minute: SmolLM2-135M under llama.cpp, the weather server's tasks.

Each setting runs in a fresh collector process (its own model child), one after another:

    python benchmarks/bench_embedded.py                               # gymkit's defaults
    python benchmarks/bench_embedded.py --settings 1x1x1 1x1x4 2x1x4  # PROCESSESxTHREADSxSLOTS
    python benchmarks/bench_embedded.py --code /tmp/gk-before         # another checkout's gymkit

A setting is passed as GYMKIT_EMBEDDED_PROCESSES / _THREADS / _SLOTS (slots per process; a
checkout that does not read them runs its own defaults; THREADSxSLOTS means one process).
--code runs another checkout with its own weather server (--server CHECKOUT/resources_servers/weather).
Target (2-core machine): >= 3x the rollouts per minute of the code before the embedded model
was batched. Runs of 20 rollouts or fewer are mostly start-up and tail: use --repeats 12.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def collect(server: str, repeats: int, limit: int) -> None:
    from gymkit.project import resolve_server
    from gymkit.rollouts import collect_rollouts

    paths = resolve_server(server)
    work = Path(tempfile.mkdtemp(prefix="gymkit-bench-embedded-"))
    out = work / "rollouts.jsonl"
    try:
        summary = collect_rollouts(paths.dir, paths.example, out, repeats=repeats, limit=limit, progress=False)
    finally:
        for path in work.iterdir():
            path.unlink()
        work.rmdir()
    done = summary.written + summary.failed
    result = {
        "rollouts": done,
        "failed": summary.failed,
        "seconds": summary.elapsed,
        "per_minute": 60 * done / summary.elapsed,
        "mean_reward": summary.mean_reward,
        "concurrency": getattr(summary, "concurrency", "8 rollouts"),
    }
    print(json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default=str(ROOT / "resources_servers" / "weather"))
    parser.add_argument("--repeats", type=int, default=4, help="rollouts per task (the example has 5 tasks)")
    parser.add_argument("--limit", type=int, default=5)
    parser.add_argument(
        "--settings", nargs="+", default=["default"], help="PROCESSESxTHREADSxSLOTS, THREADSxSLOTS or default"
    )
    parser.add_argument("--code", type=Path, help="checkout whose gymkit runs the collection")
    parser.add_argument("--_collect", action="store_true", dest="collect", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.collect:
        return collect(args.server, args.repeats, args.limit)
    print(f"gymkit from {args.code or ROOT}; {args.limit} tasks x {args.repeats}; {os.cpu_count()} cores")
    print(f"{'setting':>8} {'rollouts':>8} {'seconds':>8} {'per min':>8} {'reward':>6}  in flight; load")
    for setting in args.settings:
        env = dict(os.environ)
        if args.code:
            env["PYTHONPATH"] = str(args.code.resolve())
        if setting != "default":
            parts = setting.split("x")
            processes, threads, slots = parts if len(parts) == 3 else ["1", *parts]
            env.update(
                GYMKIT_EMBEDDED_PROCESSES=processes, GYMKIT_EMBEDDED_THREADS=threads, GYMKIT_EMBEDDED_SLOTS=slots
            )
        cmd = [sys.executable, os.path.abspath(__file__), "--_collect", "--server", os.path.abspath(args.server)]
        cmd += ["--repeats", str(args.repeats), "--limit", str(args.limit)]
        # In the checkout: `python -m` children (the model's supervisor) import from the working folder.
        cwd = args.code.resolve() if args.code else ROOT
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, cwd=cwd)
        if done.returncode:
            print(f"{setting:>8} failed: {done.stderr.strip().splitlines()[-1:]}", flush=True)
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        reward = f"{r['mean_reward']:.2f}" if r["mean_reward"] is not None else "-"
        load = os.getloadavg()[0]
        print(
            f"{setting:>8} {r['rollouts']:>8} {r['seconds']:>8.1f} {r['per_minute']:>8.1f} {reward:>6}  "
            f"{r['concurrency']}; {load:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
