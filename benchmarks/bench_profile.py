"""How fast `gymkit profile --rollouts` is, and how much memory it holds, at 8k and 1M rollouts.

    python benchmarks/bench_profile.py                 # 500 x 16 and 62,500 x 16 rollouts
    python benchmarks/bench_profile.py --sizes 8000    # only the small one

Each size is profiled in a fresh process (report, per-task rows and every plot written), so
its peak RSS is its own. Synthetic rows look like tool-using rollouts: two tools, some
invalid arguments and tool errors, rewards that depend on the prompt and on the calls made.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

SAMPLES = 16


def generate(path: Path, rollouts: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    prompts = rollouts // SAMPLES
    ease = [rng.random() for _ in range(prompts)]
    with path.open("wb") as out:
        for task in range(prompts):
            batch = []
            for sample in range(SAMPLES):
                n_calls = rng.choice((0, 1, 1, 2, 3))
                output = []
                for i in range(n_calls):
                    name = "search" if i % 2 == 0 else "lookup"
                    bad = rng.random() < 0.05
                    args = "{bad json" if bad else orjson.dumps({"query": f"item {task}"}).decode()
                    result = '{"error": "/search raised KeyError"}' if rng.random() < 0.03 else '{"hits": [1, 2]}'
                    output.append({"type": "function_call", "call_id": f"c{i}", "name": name, "arguments": args})
                    output.append({"type": "function_call_output", "call_id": f"c{i}", "output": result})
                output.append(
                    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "42"}]}
                )
                reward = 1.0 if rng.random() < ease[task] * (0.6 + 0.15 * n_calls) else 0.0
                batch.append(
                    {
                        "responses_create_params": {"input": [{"role": "user", "content": f"question {task}"}]},
                        "response": {
                            "model": "bench-model",
                            "output": output,
                            "usage": {"input_tokens": 100 + task % 50, "output_tokens": 20 + sample, "total_tokens": 0},
                        },
                        "reward": reward,
                        "_ng_task_index": task,
                        "_ng_rollout_index": sample,
                    }
                )
            out.write(b"".join(orjson.dumps(row) + b"\n" for row in batch))


def child(rollouts: Path, output: Path) -> None:
    from gymkit.profiling import profile_files, write_profile

    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = before.ru_utime + before.ru_stime
    started = time.perf_counter()
    profile = profile_files([rollouts])
    write_profile(profile, output)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # CPU time next to wall time: on a busy machine the wall clock says more about the neighbours.
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    peak_mb = usage.ru_maxrss / 1024
    print(
        json.dumps(
            {"seconds": seconds, "cpu": cpu, "peak_rss_mb": peak_mb, "num_prompts": profile.report["num_prompts"]}
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="8000,1000000", help="comma-separated rollout counts")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]))
        return
    baseline = subprocess.run(
        [sys.executable, "-c", "import resource, gymkit.profiling, gymkit.profiling.plots;"
         "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    print(f"baseline: importing gymkit.profiling and matplotlib holds {float(baseline.stdout):.0f} MB")
    print(f"{'rollouts':>10} {'prompts':>8} {'file MB':>8} {'profile s':>10} {'CPU s':>8} {'peak RSS MB':>12}")
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "rollouts.jsonl"
            generate(path, size)
            run = subprocess.run(
                [sys.executable, __file__, "--child", str(path), str(Path(tmp) / "report")],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            result = json.loads(run.stdout)
            megabytes = path.stat().st_size / 1e6
            print(
                f"{size:>10,} {result['num_prompts']:>8,} {megabytes:>8.0f} {result['seconds']:>10.2f} "
                f"{result['cpu']:>8.2f} {result['peak_rss_mb']:>12.0f}"
            )


if __name__ == "__main__":
    main()
