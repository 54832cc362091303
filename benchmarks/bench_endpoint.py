"""Does gymkit keep a capacity-limited model endpoint busy?

A fake OpenAI-compatible endpoint serves at most ``--capacity`` calls at once, each taking a
fixed latency; calls beyond that queue (as vLLM's scheduler queues them). Every rollout is
seed_session, a model turn that calls a tool, the tool call, a final model turn, verify, so
a rollout is two model calls. For each latency the endpoint reports how busy its slots were
from its first call to its last answer (utilisation), the collector reports rollouts/s, and
a watcher on the output file reports the longest time between two finished rollouts.

    python benchmarks/bench_endpoint.py                          # gymkit's defaults
    python benchmarks/bench_endpoint.py --code /tmp/gk-before    # another checkout's gymkit
    python benchmarks/bench_endpoint.py --latencies 0.05 --capacity 100000 --concurrency 4096 --rollouts 16384

Targets (2-core machine): >= 90 % utilisation of a 64-slot, 200 ms endpoint over 2,000
rollouts with default settings; no gap over 1 s between finished rollouts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_rollouts import APP, CONFIG, TOOL, _start

LATENCIES = [0.0, 0.05, 0.2, 1.0, 2.0]


# -- the capacity-limited endpoint (its own process) --------------------------------------
def serve_model(capacity: int) -> None:
    import asyncio

    import orjson
    from aiohttp import web

    state = {"latency": 0.0, "busy": 0.0, "calls": 0, "first": None, "last": None}
    slots = asyncio.Semaphore(capacity)

    async def responses(request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        arrived = time.monotonic()
        if state["first"] is None:
            state["first"] = arrived
        async with slots:
            started = time.monotonic()
            if state["latency"]:
                await asyncio.sleep(state["latency"])
            done = time.monotonic()
            state["busy"] += done - started
        state["calls"] += 1
        state["last"] = done
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

    async def configure(request: web.Request) -> web.Response:
        state.update(latency=float(request.query["latency"]), busy=0.0, calls=0, first=None, last=None)
        return web.json_response({})

    async def stats(_: web.Request) -> web.Response:
        window = (state["last"] or 0.0) - (state["first"] or 0.0)
        return web.json_response({"busy": state["busy"], "calls": state["calls"], "window": window})

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/v1/responses", responses)
        app.router.add_get("/v1/models", models)
        app.router.add_post("/configure", configure)
        app.router.add_get("/stats", stats)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=16384)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(f"ready http://127.0.0.1:{port}/v1", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


# -- one collection (its own process, so --code decides which gymkit runs) -----------------
def collect(server_dir: Path, tasks: Path, model_url: str, server_url: str, concurrency: int) -> None:
    from gymkit.rollouts import EndpointConfig, collect_rollouts

    out = Path(tempfile.mkdtemp()) / "rollouts.jsonl"
    longest_gap = 0.0
    stop = threading.Event()

    def watch() -> None:
        nonlocal longest_gap
        last_size, last_change = -1, time.monotonic()
        while not stop.wait(0.02):
            size = out.stat().st_size if out.exists() else 0
            now = time.monotonic()
            if size != last_size:
                last_size, last_change = size, now
            elif size:
                longest_gap = max(longest_gap, now - last_change)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    kwargs = {"concurrency": concurrency} if concurrency else {}  # 0 = the collector's default
    summary = collect_rollouts(
        server_dir,
        tasks,
        out,
        endpoint=EndpointConfig((model_url,), model="bench", timeout=600.0),
        server_url=server_url,
        progress=False,
        **kwargs,
    )
    stop.set()
    watcher.join()
    for path in (out, out.with_name("rollouts_failures.jsonl"), out.with_name("rollouts.run.json")):
        path.unlink(missing_ok=True)
    out.parent.rmdir()
    result = {
        "rollouts": summary.written,
        "failed": summary.failed,
        "seconds": summary.elapsed,
        "rollouts_per_s": summary.written / summary.elapsed,
        "longest_gap_s": longest_gap,
    }
    print(json.dumps(result), flush=True)


def _get(url: str) -> dict:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


def _post(url: str) -> None:
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=30).close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latencies", type=float, nargs="+", default=LATENCIES, help="seconds per model call")
    parser.add_argument("--capacity", type=int, default=64, help="calls the endpoint serves at once")
    parser.add_argument("--rollouts", type=int, nargs="+", default=[2000], help="per latency (one value: for all)")
    parser.add_argument("--concurrency", type=int, default=0, help="pin gymkit's --concurrency (0: its default)")
    parser.add_argument("--code", type=Path, help="checkout whose gymkit runs the collection (default: this one)")
    parser.add_argument("--_serve-model", type=int, dest="serve_model", help=argparse.SUPPRESS)
    parser.add_argument("--_collect", nargs=5, dest="collect", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_model:
        return serve_model(args.serve_model)
    if args.collect:
        server_dir, tasks, model_url, server_url, concurrency = args.collect
        return collect(Path(server_dir), Path(tasks), model_url, server_url, int(concurrency))

    counts = args.rollouts if len(args.rollouts) == len(args.latencies) else args.rollouts[:1] * len(args.latencies)
    env = dict(os.environ)
    if args.code:
        env["PYTHONPATH"] = str(args.code.resolve())
    work = Path(tempfile.mkdtemp(prefix="gymkit-bench-endpoint-"))
    server_dir = work / "resources_servers" / "echo"
    (server_dir / "configs").mkdir(parents=True)
    (server_dir / "app.py").write_text(APP)
    (server_dir / "configs" / "echo.yaml").write_text(CONFIG)
    me = [sys.executable, os.path.abspath(__file__)]
    model, model_url = _start([*me, "--_serve-model", str(args.capacity)], r"ready (\S+)")
    admin = model_url.removesuffix("/v1")
    server, server_url = _start(
        [sys.executable, "-m", "gymkit", "serve", str(server_dir), "--port", "0"], r"gymkit: serving \S+ at (\S+)"
    )
    code = args.code or Path(__file__).resolve().parent.parent
    pinned = args.concurrency or "default"
    print(f"gymkit from {code}; endpoint: {args.capacity} calls at once; concurrency {pinned}")
    head = f"{'latency s':>9} {'rollouts':>8} {'seconds':>8} {'rollouts/s':>10} {'utilisation':>11} {'max gap s':>9}"
    print(f"{head} load")
    try:
        for latency, n in zip(args.latencies, counts, strict=True):
            tasks = work / f"tasks_{n}.jsonl"
            row = {"responses_create_params": {"input": "call echo", "tools": [TOOL]}}
            tasks.write_text((json.dumps(row) + "\n") * n)
            _post(f"{admin}/configure?latency={latency}")
            collect_args = [str(server_dir), str(tasks), model_url, server_url, str(args.concurrency)]
            done = subprocess.run(
                [*me, "--_collect", *collect_args], capture_output=True, text=True, check=True, env=env
            )
            r = json.loads(done.stdout.strip().splitlines()[-1])
            stats = _get(f"{admin}/stats")
            busy = stats["busy"] / (args.capacity * stats["window"]) if latency and stats["window"] else None
            shown = f"{busy:.0%}" if busy is not None else "-"
            failed = f" ({r['failed']} failed)" if r["failed"] else ""
            load = os.getloadavg()[0]
            print(
                f"{latency:>9g} {r['rollouts']:>8} {r['seconds']:>8.1f} {r['rollouts_per_s']:>10.1f} {shown:>11} "
                f"{r['longest_gap_s']:>9.2f} {load:.2f}{failed}",
                flush=True,
            )
    finally:
        for proc in (server, model):
            proc.terminate()
            proc.wait(timeout=10)
        for path in sorted(work.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        work.rmdir()


if __name__ == "__main__":
    main()
