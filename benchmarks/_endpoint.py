"""What the rollout benchmarks share: the fake model endpoint, the echo server, one timed collection.

The endpoint is an OpenAI-compatible server (aiohttp) in its own process, so its CPU is
not the collector's: it serves at most ``capacity`` calls at once (0: no limit), each
taking the latency set with ``POST /configure?latency=S``; calls beyond that queue, as
vLLM's scheduler queues them. ``GET /stats`` reports how busy its slots were. It answers
the Responses API and Chat Completions with the same script: the first turn calls the
``echo`` tool, the turn after a tool result says "done".

    python benchmarks/_endpoint.py serve 64     # prints "ready URL"
"""

from __future__ import annotations

import asyncio
import gc
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

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

if __name__ == "__main__":
    server.run()  # how ng_run starts a server
"""
CONFIG = (
    "echo:\n  resources_servers:\n    echo:\n      entrypoint: app.py\n      domain: other\n      verified: false\n"
)
TOOL = {
    "type": "function",
    "name": "echo",
    "description": "Echo the text.",
    "parameters": {"type": "object", "properties": {"text": {"type": "string"}}},
    "strict": False,  # NeMo Gym's agent refuses a function tool without it (HTTP 422)
}
HERE = Path(__file__).resolve()


def write_echo_server(work: Path) -> Path:
    server_dir = work / "resources_servers" / "echo"
    (server_dir / "configs").mkdir(parents=True)
    (server_dir / "app.py").write_text(APP)
    (server_dir / "configs" / "echo.yaml").write_text(CONFIG)
    return server_dir


def write_tasks(work: Path, n: int) -> Path:
    tasks = work / f"tasks_{n}.jsonl"
    row = {"responses_create_params": {"input": [{"role": "user", "content": "call echo"}], "tools": [TOOL]}}
    tasks.write_text((json.dumps(row) + "\n") * n)
    return tasks


def start(cmd: list[str], pattern: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    """Start ``cmd`` and wait for the line matching ``pattern``; returns the process and the match."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout
    for line in proc.stdout:
        match = re.search(pattern, line)
        if match:
            threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep the pipe drained
            return proc, match.group(1)
    raise RuntimeError(f"{cmd} did not start")


def start_endpoint(capacity: int) -> tuple[subprocess.Popen[str], str]:
    """The endpoint in its own process; returns it and its base URL (ending in /v1)."""
    return start([sys.executable, str(HERE), "serve", str(capacity)], r"ready (\S+)")


def http(url: str, method: str = "GET") -> Any:
    import urllib.request

    request = urllib.request.Request(url, data=b"" if method == "POST" else None, method=method)
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read() or b"{}")


def utilisation(admin: str, capacity: int, latency: float) -> float | None:
    """Share of the endpoint's slot-seconds that served calls, from its first call to its last answer."""
    stats = http(f"{admin}/stats")
    if not latency or not stats["window"] or not capacity:
        return None
    return stats["busy"] / (capacity * stats["window"])


def cpu_seconds(pid: int) -> float:
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the endpoint ----------------------------------------------------------------------------
def serve(capacity: int) -> None:
    import orjson
    from aiohttp import web

    state: dict[str, Any] = {"latency": 0.0, "busy": 0.0, "calls": 0, "first": None, "last": None}
    slots = asyncio.Semaphore(capacity) if capacity else None

    async def served() -> None:
        now = time.monotonic()
        if state["first"] is None:
            state["first"] = now
        if slots is not None:
            await slots.acquire()
        try:
            started = time.monotonic()
            if state["latency"]:
                await asyncio.sleep(state["latency"])
            state["busy"] += time.monotonic() - started
        finally:
            if slots is not None:
                slots.release()
        state["calls"] += 1
        state["last"] = time.monotonic()

    async def responses(request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        await served()
        items = body["input"] if isinstance(body["input"], list) else []
        if any(isinstance(i, dict) and i.get("type") == "function_call_output" for i in items):
            text = {"type": "output_text", "text": "done", "annotations": []}
            item = {"type": "message", "role": "assistant", "content": [text]}
            item["id"], item["status"] = "msg_" + uuid.uuid4().hex, "completed"
        else:
            item = {"type": "function_call", "call_id": uuid.uuid4().hex, "name": "echo", "arguments": '{"text":"x"}'}
            item["id"], item["status"] = "fc_" + uuid.uuid4().hex, "completed"
        out = {"id": "resp_" + uuid.uuid4().hex, "object": "response", "created_at": int(time.time())}
        out |= {"model": body.get("model", "bench"), "output": [item], "status": "completed"}
        out |= {"parallel_tool_calls": True, "tool_choice": "auto", "tools": body.get("tools", [])}
        out["usage"] = {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}
        out["usage"] |= {"input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}
        return web.Response(body=orjson.dumps(out), content_type="application/json")

    async def chat(request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        await served()
        if any(m.get("role") == "tool" for m in body["messages"]):
            message: dict[str, Any] = {"role": "assistant", "content": "done"}
            finish = "stop"
        else:
            call = {
                "id": uuid.uuid4().hex,
                "type": "function",
                "function": {"name": "echo", "arguments": '{"text":"x"}'},
            }
            message, finish = {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
        out = {"id": "chatcmpl-" + uuid.uuid4().hex, "object": "chat.completion", "created": int(time.time())}
        out |= {
            "model": body.get("model", "bench"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        }
        out["usage"] = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        return web.Response(body=orjson.dumps(out), content_type="application/json")

    async def models(_: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "bench", "object": "model"}]})

    async def configure(request: web.Request) -> web.Response:
        state.update(latency=float(request.query["latency"]), busy=0.0, calls=0, first=None, last=None)
        return web.json_response({})

    async def stats(_: web.Request) -> web.Response:
        window = (state["last"] or 0.0) - (state["first"] or 0.0)
        return web.json_response({"busy": state["busy"], "calls": state["calls"], "window": window})

    async def main() -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/responses", responses)
        app.router.add_post("/v1/chat/completions", chat)
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


# -- one collection, watched -------------------------------------------------------------------
class Watch:
    """A thread that watches the output grow and what the event loop's thread is doing meanwhile.

    ``longest_gap_s``: the longest time without a finished rollout, from the first to the last
    (the file's final sort after the last one is not a gap between rollouts), and
    ``gap_after``: how many had finished when it began. ``busiest_s``: the longest
    time the main thread never sat in the selector (a lower bound on the event loop's worst
    lag), with the gymkit or library frame it was in most. ``gap_idle``: the share of the
    longest gap's samples with the main thread idle in the selector (waiting on the network,
    not stalled). ``gc_max_s``: the longest garbage collection.
    """

    def __init__(self, out: Path, expected: int, every: float = 0.02) -> None:
        self.out, self.expected, self.every = out, expected, every
        self.gap_after = 0
        self.main = threading.get_ident()
        self.stop = threading.Event()
        self.longest_gap = self.busiest = self.gc_max = 0.0
        self.gap_where: Counter[str] = Counter()
        self.busy_where: Counter[str] = Counter()
        self._gc_started = 0.0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_max = max(self.gc_max, time.perf_counter() - self._gc_started)

    def _where(self) -> str:
        frame = sys._current_frames().get(self.main)
        if frame is None:
            return "?"
        if frame.f_code.co_name == "select" and "selectors" in frame.f_code.co_filename:
            return "idle"
        # The innermost frame of gymkit's own code, else the innermost at all.
        inner = f"{Path(frame.f_code.co_filename).name}:{frame.f_code.co_name}"
        while frame is not None and frame.f_code.co_name != "collect_rollouts":  # its asyncio.run is every stack's root
            if "/gymkit/" in frame.f_code.co_filename:
                return f"gymkit/{Path(frame.f_code.co_filename).name}:{frame.f_lineno} ({inner})"
            frame = frame.f_back
        return inner

    def _lines(self, handle: Any) -> int:
        """Newlines appended since the last call (the file only grows until the final sort)."""
        return handle.read().count(b"\n") if handle is not None else 0

    def _run(self) -> None:
        last_size, last_change, busy_since = -1, time.monotonic(), None
        gap: Counter[str] = Counter()
        busy: Counter[str] = Counter()
        handle, done = None, 0
        while not self.stop.wait(self.every):
            if handle is None and self.out.exists():
                handle = self.out.open("rb")
            done += self._lines(handle)
            if done >= self.expected:
                break  # every rollout is in: what follows is the final sort, not a gap
            size = self.out.stat().st_size if self.out.exists() else 0
            now = time.monotonic()
            where = self._where()
            if where == "idle":
                busy_since = None
                busy = Counter()
            else:
                busy_since = now if busy_since is None else busy_since
                busy[where] += 1
                if now - busy_since > self.busiest:
                    self.busiest, self.busy_where = now - busy_since, Counter(busy)
            if size != last_size:
                last_size, last_change = size, now
                gap = Counter()
            elif size:
                gap[where] += 1
                if now - last_change > self.longest_gap:
                    self.longest_gap, self.gap_where, self.gap_after = now - last_change, Counter(gap), done
        if handle is not None:
            handle.close()

    def __enter__(self) -> Watch:
        gc.callbacks.append(self._gc)
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()
        gc.callbacks.remove(self._gc)

    def report(self) -> dict[str, Any]:
        samples = sum(self.gap_where.values())
        return {
            "longest_gap_s": self.longest_gap,
            "gap_after": self.gap_after,
            "gap_idle": self.gap_where["idle"] / samples if samples else None,
            "gap_where": self.gap_where.most_common(3),
            "busiest_s": self.busiest,
            "busiest_where": self.busy_where.most_common(3),
            "gc_max_s": self.gc_max,
        }


def collect(server_dir: Path, tasks: Path, model_url: str, server_url: str, concurrency: int) -> None:
    """One gymkit collection in this process; prints one JSON line of figures."""
    import resource

    from gymkit.rollouts import EndpointConfig, collect_rollouts

    out = Path(tempfile.mkdtemp()) / "rollouts.jsonl"
    kwargs = {"concurrency": concurrency} if concurrency else {}  # 0 = the collector's default
    with Watch(out, expected=sum(1 for line in tasks.read_bytes().splitlines() if line.strip())) as watch:
        summary = collect_rollouts(
            server_dir,
            tasks,
            out,
            endpoint=EndpointConfig((model_url,), model="bench", timeout=600.0),
            server_url=server_url,
            progress=False,
            **kwargs,
        )
    for path in (out, out.with_name("rollouts_failures.jsonl"), out.with_name("rollouts.run.json")):
        path.unlink(missing_ok=True)
    out.parent.rmdir()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result = {
        "rollouts": summary.written,
        "failed": summary.failed,
        "failure_classes": summary.failure_classes,
        "mean_reward": summary.mean_reward,
        "seconds": summary.elapsed,
        "rollouts_per_s": summary.written / summary.elapsed,
        "collector_peak_mb": usage.ru_maxrss / 1024,
        "collector_cpu_s": usage.ru_utime + usage.ru_stime,
        "limit": summary.concurrency,
        **watch.report(),
    }
    print(json.dumps(result), flush=True)


def run_collection(
    server_dir: Path, tasks: Path, model_url: str, server_url: str, concurrency: int, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """``collect`` in a fresh process (its peak RSS and CPU are its own; ``env`` picks the gymkit)."""
    cmd = [sys.executable, str(HERE), "collect", str(server_dir), str(tasks), model_url, server_url, str(concurrency)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"collection failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    match sys.argv[1:]:
        case ["serve", capacity]:
            serve(int(capacity))
        case ["collect", server_dir, tasks, model_url, server_url, concurrency]:
            collect(Path(server_dir), Path(tasks), model_url, server_url, int(concurrency))
        case _:
            sys.exit(f"usage: {sys.argv[0]} serve CAPACITY | collect SERVER_DIR TASKS MODEL_URL SERVER_URL CONCURRENCY")
