"""How long `gymkit view` takes to open a large collection, and how much memory it holds.

    python benchmarks/bench_view.py                   # 100,000 rollouts (6,250 prompts x 16)
    python benchmarks/bench_view.py --tasks 625       # 10,000

Writes synthetic rows shaped like a real weather-tool collection (reasoning, a tool call and
its output, a final answer, usage; tool errors, truncations and failed attempts mixed in) to a
temporary folder, starts `gymkit view FILE --no-browser --port 0` as a person would, and times
the command until the page's first four API calls have answered (meta, the first list page,
the groups and the figures; the index is still filling then), until every row is indexed, and
until the audit's flags are in. Then a text search, a filtered page and one rollout. The peak
resident memory is the process's VmHWM from /proc.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.view.synthetic import write_rollouts

_READY = re.compile(r"gymkit: serving view at (http://\S+)")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_seconds(pid: int) -> float:
    # utime + stime of the process: what it cost, whatever else the machine was doing meanwhile.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _timed(client: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    response = client.get(path)
    response.raise_for_status()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=6250)
    parser.add_argument("--samples", type=int, default=16)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_view_"))
    proc = None
    try:
        path = folder / "rollouts.jsonl"
        size = write_rollouts(path, args.tasks, args.samples, failures=args.tasks * args.samples // 200)
        rows = args.tasks * args.samples
        print(f"{rows:,} rollouts, {size / 1e6:,.0f} MB ({size / rows:,.0f} bytes a row)")
        started = time.perf_counter()
        cmd = [sys.executable, "-m", "gymkit", "view", str(path), "--no-browser", "--port", "0"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stderr is not None
        match = _READY.search(proc.stdout.readline())
        if not match:
            raise SystemExit(f"gymkit view did not start: {proc.stderr.read()}")
        url = match.group(1)
        with httpx.Client(base_url=url, timeout=120) as client:
            for first in ("api/meta", "api/rows?limit=50", "api/groups?limit=50", "api/figures"):
                client.get(first).raise_for_status()
            opened = time.perf_counter() - started
            shown = client.get("api/meta").json()["rows"]
            print(
                f"page up (command start to the first page's four API answers): {opened:.2f} s, {shown:,} rows in "
                f"(CPU {_cpu_seconds(proc.pid):.2f} s)"
            )
            while not (meta := client.get("api/meta").json())["done"]:
                time.sleep(0.05)
            print(
                f"every row indexed: {time.perf_counter() - started:.2f} s ({meta['rows']:,} rows; "
                f"CPU {_cpu_seconds(proc.pid):.2f} s)"
            )
            print(f"first page with every row: {_timed(client, 'api/rows?limit=50'):.3f} s")
            print(f"groups view, first time with every row: {_timed(client, 'api/groups?limit=50'):.3f} s")
            print(f"figures: {_timed(client, 'api/figures'):.3f} s")
            print(f"text search 'Oslo' over every row: {_timed(client, 'api/rows?q=Oslo'):.2f} s (then cached)")
            filtered = _timed(client, "api/rows?outcome=fail&flag=tool_error")
            print(f"filtered page (failed, tool errors): {filtered:.3f} s")
            print(f"page 1,000 of the list: {_timed(client, 'api/rows?offset=50000&limit=50'):.3f} s")
            print(f"one rollout: {_timed(client, f'api/row/{rows // 2}'):.3f} s")
            print(f"groups view again (cached): {_timed(client, 'api/groups?limit=50'):.3f} s")
            while client.get("api/meta").json()["audited"] < 1:
                time.sleep(0.2)
            print(f"audit flags on every passing row: {time.perf_counter() - started:.2f} s after start")
        print(f"peak RSS of the gymkit view process: {_peak_rss_mb(proc.pid):.0f} MB")
        print(f"load average while measured: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
