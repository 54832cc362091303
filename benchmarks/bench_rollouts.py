"""Rollout collection throughput: gymkit must never be the bottleneck.

Three processes: a scripted zero-latency OpenAI-compatible endpoint (aiohttp), a gymkit
resource server with one tool (under uvicorn), and the collector. Every rollout is
seed_session, a model turn that calls the tool, the tool call, a final model turn, verify.
Each concurrency level runs in a fresh collector process so its peak RSS is its own.

    python benchmarks/bench_rollouts.py                      # 1, 64, 1024, 4096 in flight
    python benchmarks/bench_rollouts.py --levels 64 --rollouts 5000

Targets (2-core machine): >= 250 rollouts/s at 64 in flight; 4096 in flight without a stall
(no second without progress... see --stall) and under 500 MB peak RSS in the collector.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

APP = """
from pydantic import BaseModel
from gymkit import BaseResourcesServer, BaseVerifyRequest, BaseVerifyResponse, output_text


class EchoRequest(BaseModel):
    text: str


class EchoResponse(BaseModel):
    text: str


class EchoServer(BaseResourcesServer):
    async def echo(self, body: EchoRequest) -> EchoResponse:
        return EchoResponse(text=body.text)

    async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse:
        return BaseVerifyResponse(**body.model_dump(), reward=1.0 if output_text(body.response) == "done" else 0.0)


server = EchoServer()
"""
CONFIG = (
    "echo:\n  resources_servers:\n    echo:\n      entrypoint: app.py\n      domain: other\n      verified: false\n"
)

TOOL = {
    "type": "function",
    "name": "echo",
    "parameters": {"type": "object", "properties": {"text": {"type": "string"}}},
}
DEFAULT_ROLLOUTS = {1: 300, 64: 4000, 1024: 8192, 4096: 16384}


# -- the scripted endpoint (its own process) ---------------------------------------------
def serve_model() -> None:
    import asyncio

    import orjson
    from aiohttp import web

    async def responses(request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        called = any(item.get("type") == "function_call_output" for item in body["input"] if isinstance(item, dict))
        if called:
            item = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "done"}]}
        else:
            item = {"type": "function_call", "call_id": uuid.uuid4().hex, "name": "echo", "arguments": '{"text":"x"}'}
        out = {"id": "r", "object": "response", "model": "bench", "output": [item], "status": "completed"}
        out["usage"] = {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}
        return web.Response(body=orjson.dumps(out), content_type="application/json")

    async def models(_: web.Request) -> web.Response:
        return web.json_response({"data": [{"id": "bench"}]})

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/v1/responses", responses)
        app.router.add_get("/v1/models", models)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=8192)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(f"ready http://127.0.0.1:{port}/v1", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


# -- one collection (its own process) ------------------------------------------------------
def collect(server_dir: Path, tasks: Path, model_url: str, server_url: str, concurrency: int, stall: float) -> None:
    from gymkit.rollouts import EndpointConfig, collect_rollouts

    out = Path(tempfile.mkdtemp()) / "rollouts.jsonl"
    longest_gap = 0.0
    stop = threading.Event()

    def watch() -> None:
        # The output grows by one line per finished rollout; a stall is time without growth.
        nonlocal longest_gap
        last_size, last_change = -1, time.monotonic()
        while not stop.wait(0.05):
            size = out.stat().st_size if out.exists() else 0
            now = time.monotonic()
            if size != last_size:
                last_size, last_change = size, now
            elif size:
                longest_gap = max(longest_gap, now - last_change)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    summary = collect_rollouts(
        server_dir,
        tasks,
        out,
        concurrency=concurrency,
        endpoint=EndpointConfig((model_url,), model="bench"),
        server_url=server_url,
        progress=False,
    )
    stop.set()
    watcher.join()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_mb = usage.ru_maxrss / 1024
    result = {
        "rollouts": summary.written,
        "failed": summary.failed,
        "seconds": summary.elapsed,
        "rollouts_per_s": summary.written / summary.elapsed,
        "collector_peak_mb": peak_mb,
        "collector_cpu_s": usage.ru_utime + usage.ru_stime,
        "longest_gap_s": longest_gap,
        "stalled": longest_gap > stall,
    }
    print(json.dumps(result), flush=True)


# -- orchestration ---------------------------------------------------------------------------
def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start(cmd: list[str], pattern: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout
    for line in proc.stdout:
        match = re.search(pattern, line)
        if match:
            threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep the pipe drained
            return proc, match.group(1)
    raise RuntimeError(f"{cmd} did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 64, 1024, 4096])
    parser.add_argument("--rollouts", type=int, help="rollouts per level (default: scaled to the level)")
    parser.add_argument("--stall", type=float, default=2.0, help="seconds without a finished rollout = a stall")
    parser.add_argument("--_serve-model", action="store_true", dest="serve_model", help=argparse.SUPPRESS)
    parser.add_argument("--_collect", nargs=5, dest="collect", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_model:
        return serve_model()
    if args.collect:
        server_dir, tasks, model_url, server_url, concurrency = args.collect
        return collect(Path(server_dir), Path(tasks), model_url, server_url, int(concurrency), args.stall)

    work = Path(tempfile.mkdtemp(prefix="gymkit-bench-"))
    server_dir = work / "resources_servers" / "echo"
    (server_dir / "configs").mkdir(parents=True)
    (server_dir / "app.py").write_text(APP)
    (server_dir / "configs" / "echo.yaml").write_text(CONFIG)
    me = [sys.executable, os.path.abspath(__file__)]
    model, model_url = _start([*me, "--_serve-model"], r"ready (\S+)")
    server, server_url = _start(
        [sys.executable, "-m", "gymkit", "serve", str(server_dir), "--port", "0"], r"gymkit: serving \S+ at (\S+)"
    )
    print(
        f"{'in flight':>9} {'rollouts':>8} {'rollouts/s':>10} {'collector MB':>12} {'longest gap s':>13} "
        f"{'stall':>5}  CPU s: collector / resource server / endpoint"
    )
    try:
        for level in args.levels:
            n = args.rollouts or DEFAULT_ROLLOUTS.get(level, max(1000, 4 * level))
            tasks = work / f"tasks_{n}.jsonl"
            row = {"responses_create_params": {"input": "call echo", "tools": [TOOL]}}
            tasks.write_text((json.dumps(row) + "\n") * n)
            cpu_before = _cpu_s(server.pid), _cpu_s(model.pid)
            collect_args = [str(server_dir), str(tasks), model_url, server_url, str(level)]
            done = subprocess.run(
                [*me, "--_collect", *collect_args, "--stall", str(args.stall)],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(done.stdout.strip().splitlines()[-1])
            failed = f" ({r['failed']} failed)" if r["failed"] else ""
            server_cpu, model_cpu = _cpu_s(server.pid) - cpu_before[0], _cpu_s(model.pid) - cpu_before[1]
            cpu = f"{r['collector_cpu_s']:.1f} / {server_cpu:.1f} / {model_cpu:.1f}"
            print(
                f"{level:>9} {r['rollouts']:>8} {r['rollouts_per_s']:>10.0f} {r['collector_peak_mb']:>12.0f} "
                f"{r['longest_gap_s']:>13.2f} {'YES' if r['stalled'] else 'no':>5}  {cpu}{failed}",
                flush=True,
            )
        server_mb, model_mb = _peak_mb(server.pid), _peak_mb(model.pid)
        print(f"peak RSS: resource server {server_mb:.0f} MB, scripted endpoint {model_mb:.0f} MB")
    finally:
        for proc in (server, model):
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
