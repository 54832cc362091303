"""gymkit's default collection and NeMo Gym's, side by side on the same fake endpoint.

Both collect the same rollouts (seed_session, a model turn calling ``echo``, the tool call, a
final turn, verify) of the same gymkit echo server against the capacity-limited endpoint of
``_endpoint.py``, at each latency, with their default settings:

- gymkit: ``collect_rollouts`` with its adaptive model-call limiter, the server under
  ``gymkit serve``;
- NeMo Gym 0.4.0: ``ng_run`` starts the server, upstream's simple_agent and its openai_model
  in front of the endpoint (each in its own venv, as ng_run builds them), and
  ``ng_collect_rollouts`` sends every row at once (no ``num_samples_in_parallel``).

Throughput is rollouts over the endpoint's window (its first call to its last answer), so
neither side's start-up counts; utilisation is the share of the endpoint's slot-seconds busy
in that window. The one-minute load average is printed with each row.

    python benchmarks/bench_vs_nemo.py
    python benchmarks/bench_vs_nemo.py --latencies 0.2 --rollouts 2000

NeMo Gym comes from the cached nemo-gym 0.4.0 wheel as the tests build it (tests/nemo/tree.py):
the checkout and its environment under ``~/.cache/gymkit-tests``; ng_run's venvs under
``--venvs`` (built by ng_run with uv the first time, reused after).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from gymkit.childproc import ChildProcess
from gymkit.nemo.environment import prepare_nemo_environment
from gymkit.nemo.launch import free_port
from gymkit.nemo.python import find_python
from gymkit.testing.environment import find_uv

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).parent))
from _endpoint import APP, TOOL, http, run_collection, start, start_endpoint, utilisation, write_tasks

from tests.nemo.tree import WHEEL_NAME, make_checkout, wheel_sha256

REPO = Path(__file__).resolve().parent.parent
LATENCIES = [0.0, 0.05, 0.2, 2.0]
CACHE = Path(os.environ.get("GYMKIT_TEST_CACHE") or Path.home() / ".cache" / "gymkit-tests")
_NG = "import sys; from nemo_gym.cli.legacy import main; sys.argv[0] = sys.argv.pop(1); main()"
CONFIG = """\
echo_resources_server:
  resources_servers:
    echo:
      entrypoint: app.py
      domain: other
      verified: false
echo_simple_agent:
  responses_api_agents:
    simple_agent:
      entrypoint: app.py
      resources_server:
        type: resources_servers
        name: echo_resources_server
      model_server:
        type: responses_api_models
        name: policy_model
"""


def _gym(work: Path) -> Path:
    """A gym folder with the echo server, installable by ng_run (gymkit from this checkout in its venv)."""
    server = work / "gym" / "resources_servers" / "echo"
    (server / "configs").mkdir(parents=True)
    (server / "app.py").write_text(APP)
    (server / "configs" / "echo.yaml").write_text(CONFIG)
    (server / "requirements.txt").write_text(f"-e {REPO}\n")
    # With a pyproject.toml two levels up ng_run installs requirements.txt as it is written.
    (work / "gym" / "pyproject.toml").write_text('[project]\nname = "bench"\nversion = "0"\n')
    return server


def _nemo_checkout() -> Path:
    wheel = CACHE / "wheels" / WHEEL_NAME
    if not wheel.is_file():
        sys.exit(f"{wheel} is missing: run the NeMo tests once (pytest -m nemo tests/nemo) or pip download it there")
    folder = CACHE / f"nemo-gym-{wheel_sha256(wheel)[:16]}" / "checkout"
    if not (folder / ".git").is_dir():
        make_checkout(wheel, folder)
    return folder


class Nemo:
    """ng_run over the echo server, simple_agent and openai_model; ng_collect_rollouts per latency."""

    def __init__(self, server: Path, model_url: str, venvs: Path, work: Path) -> None:
        checkout = _nemo_checkout()
        base_python = find_python()
        runtime = prepare_nemo_environment(checkout / "resources_servers" / "example_single_tool_call", log=print)
        # The venvs ng_run makes link to the python3.12 it finds here: kept with them, or they break.
        tools = venvs / ".bin"
        tools.mkdir(parents=True, exist_ok=True)
        uv = find_uv()
        if uv is None:
            sys.exit("uv is needed on PATH for ng_run (gymkit's dev extra installs it)")
        for name, target in (("uv", uv), ("python3.12", base_python)):
            (tools / name).unlink(missing_ok=True)
            (tools / name).symlink_to(target)
        self.env = runtime.variables(
            UV_PYTHON_DOWNLOADS="never",
            NO_COLOR="1",
            RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0",
            RAY_USAGE_STATS_ENABLED="0",
            RAY_agent_register_timeout_ms="300000",
            RAY_TMPDIR=tempfile.mkdtemp(prefix="gk-ray-", dir="/tmp"),  # Ray's socket paths must stay short
        )
        self.env["PATH"] = f"{tools}:{self.env['PATH']}"
        self.python, self.gym, self.logs = str(runtime.python), server.parents[1], work / "ng-logs"
        self.head = ["+head_server.host=127.0.0.1", f"+head_server.port={free_port()}"]
        model = checkout / "responses_api_models" / "openai_model" / "configs" / "openai_model.yaml"
        argv = [self.python, "-c", _NG, "ng_run", f"+config_paths=[{server / 'configs' / 'echo.yaml'},{model}]"]
        # Reused only once a start got every server up: a failed one can leave a venv half installed.
        self.complete = venvs / ".complete"
        skip = "true" if self.complete.exists() else "false"
        argv += [f"+uv_venv_dir={venvs}", f"+nemo_gym_log_dir={self.logs}", f"+skip_venv_if_present={skip}"]
        argv += [f"+policy_base_url={model_url}", "+policy_api_key=x", "+policy_model_name=bench", *self.head]
        self.argv = argv

    def __enter__(self) -> Nemo:
        # Ray gives its raylet 30 s to register, a fixed figure; a loaded machine misses it now and then.
        for attempt in range(3):
            ready = re.compile(r"All (\d+) / \1 servers ready")
            self.proc = ChildProcess(self.argv, ready=ready, timeout=1500, env=self.env, cwd=self.gym, grace=15)
            self.proc.launch()
            if self.proc.wait_ready() is not None:
                self.complete.touch()
                return self
            stderr = self.proc.stop()
            print(f"ng_run attempt {attempt + 1} failed: {stderr.strip().splitlines()[-1:]}", flush=True)
        sys.exit(f"ng_run did not get its servers up:\n{stderr[-3000:]}\n{self._logs()}")

    def __exit__(self, *_: object) -> None:
        self.proc.stop()
        shutil.rmtree(self.env["RAY_TMPDIR"], ignore_errors=True)

    def _logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in self.logs.glob("*.log"))

    def collect(self, tasks: Path, out: Path) -> tuple[int, float]:
        """(rollouts written, mean reward)."""
        argv = [self.python, "-c", _NG, "ng_collect_rollouts", "+agent_name=echo_simple_agent"]
        argv += [f"+input_jsonl_fpath={tasks}", f"+output_jsonl_fpath={out}", "+limit=null", *self.head]
        done = subprocess.run(argv, cwd=self.gym, env=self.env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"ng_collect_rollouts failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}\n{self._logs()}")
        rewards = [json.loads(line)["reward"] for line in out.read_text().splitlines() if line.strip()]
        return len(rewards), sum(rewards) / len(rewards) if rewards else float("nan")


def _row(who: str, latency: float, n: int, reward: float, admin: str, capacity: int) -> str:
    stats = http(f"{admin}/stats")
    rate = n / stats["window"] if stats["window"] else float("nan")
    busy = utilisation(admin, capacity, latency)
    shown = f"{busy:.0%}" if busy is not None else "-"
    figures = f"{n:>8} {reward:>6.2f} {stats['window']:>8.1f} {rate:>10.1f} {shown:>11}"
    return f"{who:>8} {latency:>9g} {figures} {os.getloadavg()[0]:>5.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latencies", type=float, nargs="+", default=LATENCIES, help="seconds per model call")
    parser.add_argument("--capacity", type=int, default=64, help="calls the endpoint serves at once")
    parser.add_argument("--rollouts", type=int, default=500, help="rollouts per latency and side")
    parser.add_argument("--venvs", type=Path, default=CACHE / "bench-ng-venvs", help="ng_run's venvs (kept)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="gymkit-bench-vs-nemo-"))
    server_dir = _gym(work)
    # Task rows as NeMo Gym's examples are: the agent is named on the command line.
    tasks = write_tasks(work, args.rollouts)
    model, model_url = start_endpoint(args.capacity)
    admin = model_url.removesuffix("/v1")
    server, server_url = start(
        [sys.executable, "-m", "gymkit", "serve", str(server_dir), "--port", "0"], r"gymkit: serving \S+ at (\S+)"
    )
    print(f"endpoint: {args.capacity} calls at once; {args.rollouts} rollouts per row; tool {TOOL['name']}")
    print(f"{'who':>8} {'latency s':>9} {'rollouts':>8} {'reward':>6} {'window s':>8} {'rollouts/s':>10} ", end="")
    print(f"{'utilisation':>11} {'load':>5}")
    try:
        with Nemo(server_dir, model_url, args.venvs, work) as nemo:
            for latency in args.latencies:
                http(f"{admin}/configure?latency={latency}", "POST")
                r = run_collection(server_dir, tasks, model_url, server_url, 0)
                print(_row("gymkit", latency, r["rollouts"], r["mean_reward"], admin, args.capacity), flush=True)
                http(f"{admin}/configure?latency={latency}", "POST")
                out = work / f"nemo_{latency}.jsonl"
                n, reward = nemo.collect(tasks, out)
                print(_row("nemo-gym", latency, n, reward, admin, args.capacity), flush=True)
    finally:
        for proc in (server, model):
            proc.terminate()
            proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
