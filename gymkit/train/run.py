"""One GRPO run: the server under uvicorn, TRL's GRPOTrainer, then the step-6 report.

The server runs in a child process on loopback (gymkit.runtime.serving.ServerProcess), the trainer
samples prompts from its train.jsonl, offers its tools, calls them over HTTP and scores each
rollout with its /verify. Every logged step lands in ``metrics.jsonl`` in the report folder,
and the report (reports/training/training.json, curves, trend test) is made from that file
by gymkit.profiling.training, the code behind ``gymkit training-report``.
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from gymkit.errors import UserError
from gymkit.project import ServerPaths

__all__ = ["SMOKE", "TrainSettings", "check_extra", "metrics_record", "train"]

METRICS_FILE = "metrics.jsonl"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"  # torch's own index of CPU-only builds
INSTALL = f"pip install torch==2.13.0 --index-url {TORCH_CPU_INDEX} && pip install 'gymkit[train]'"
_EXTRA = ("torch", "trl", "transformers", "datasets", "accelerate")


@dataclass(frozen=True)
class TrainSettings:
    model: str = "embedded"
    kind: Literal["smoke", "training"] = "training"  # "smoke": shows the plumbing only; "training": evidence for step 6
    steps: int = 200
    prompts_per_step: int = 8
    num_generations: int = 8
    grad_accum: int = 1
    micro_batch: int | None = None  # rollouts per forward/backward pass; None: all of a step's at once
    max_completion_length: int = 1024
    max_tool_calls: int = 8
    learning_rate: float = 1e-6
    beta: float = 0.04
    temperature: float = 1.0
    seed: int = 0
    tasks: int | None = None
    eval_tasks: int = 0
    eval_every: int = 20
    use_vllm: bool = False
    vllm_mode: str = "colocate"
    bf16: bool | None = None  # None: on when a GPU is there
    gradient_checkpointing: bool = True  # TRL's default; it only trades time for memory
    threads: int | None = None
    save_dir: Path | None = None

    @property
    def batch_size(self) -> int:
        return self.prompts_per_step * self.num_generations

    def micro_steps(self) -> tuple[int, int]:
        """Rollouts per forward/backward pass, and passes per optimizer step (the generation batch stays whole)."""
        micro = self.micro_batch or self.batch_size
        if self.batch_size % micro:
            raise UserError(
                f"--micro-batch {micro} does not divide the {self.batch_size} rollouts of a step "
                f"({self.prompts_per_step} prompts x {self.num_generations})"
            )
        return micro, self.grad_accum * (self.batch_size // micro)


# Small enough for two shared cores: 3 steps (the fewest a report's trend test takes) of
# 2 prompts x 4 samples, short answers, at most two tool round trips, no reference model
# (beta 0: the KL term needs a second copy of the model and its forward pass), four
# rollouts per backward pass (a pass over all eight held several GB of logits), no
# activation checkpointing (135M fits). One torch thread: on two cores that the server and
# other work share, a second thread waits at every small matmul (measured 15x slower).
SMOKE = TrainSettings(
    kind="smoke",
    steps=3,
    prompts_per_step=2,
    num_generations=4,
    micro_batch=4,
    max_completion_length=128,
    gradient_checkpointing=False,
    max_tool_calls=2,
    learning_rate=1e-5,
    beta=0.0,
    temperature=0.7,
    tasks=64,
    threads=1,
)


def check_extra() -> None:
    import importlib.util

    missing = [name for name in _EXTRA if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(
            f"gymkit train needs the train extra ({', '.join(missing)} missing): {INSTALL}",
            hint="on a GPU machine the CUDA torch from `pip install 'gymkit[train]'` is the one to have",
        )


def _existing_kind(folder: Path) -> str | None:
    try:
        report = orjson.loads((folder / "training.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return str(report.get("kind") or "external")


def train(
    paths: ServerPaths,
    settings: TrainSettings,
    output: Path | None = None,
    log: Callable[[str], object] = print,
    server_writable: tuple[Path, ...] = (),
) -> Path:
    """Train; returns the report folder (training.json, curves, metrics.jsonl).

    ``server_writable``: folders the confined server may write to besides its temp folder.
    """
    check_extra()
    settings.micro_steps()  # a batch it cannot split is refused before the server starts
    folder = output or paths.training
    previous = _existing_kind(folder)
    if settings.kind == "smoke" and previous not in (None, "smoke"):
        raise UserError(
            f"{folder} holds a {previous} report; a smoke would replace that evidence",
            hint="pass --output DIR for the smoke's report",
        )
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # environment_factory is named in docs/training.md
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    import torch

    if settings.threads:
        torch.set_num_threads(settings.threads)
    from gymkit.train.data import read_tasks

    rows = read_tasks(paths.data / "train.jsonl", settings.tasks, settings.seed)
    eval_rows = []
    if settings.eval_tasks and (paths.data / "validation.jsonl").is_file():
        eval_rows = read_tasks(paths.data / "validation.jsonl", settings.eval_tasks, settings.seed)
    started = time.monotonic()
    from gymkit.runtime.serving import ServerProcess

    # Without --save-dir nothing is kept of the trainer's own output folder.
    with (
        ServerProcess(paths.dir, writable=server_writable) as server,
        tempfile.TemporaryDirectory(prefix="gymkit-train-") as scratch,
    ):
        outcome = _run(scratch, paths, settings, server.url, rows, eval_rows, folder, log)
    outcome["wall_seconds"] = round(time.monotonic() - started, 1)
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    outcome["cpu_seconds"] = round(own.ru_utime + own.ru_stime, 1)
    outcome["server_cpu_seconds"] = round(children.ru_utime + children.ru_stime, 1)
    # ru_maxrss is in KiB on Linux: the trainer process's peak (the server's is apart).
    outcome["peak_rss_mib"] = round(own.ru_maxrss / 1024)
    if outcome.pop("main_process"):
        _report(paths, settings, folder, outcome)
    return folder


def _run(
    scratch: str,
    paths: ServerPaths,
    settings: TrainSettings,
    url: str,
    rows: list[dict[str, Any]],
    eval_rows: list[dict[str, Any]],
    folder: Path,
    log: Callable[[str], object],
) -> dict[str, Any]:
    import torch
    from transformers import AutoTokenizer
    from trl import GRPOConfig

    from gymkit.train.data import to_dataset
    from gymkit.train.environment import (
        ServerRolloutError,
        close_environments,
        environment_class,
        tool_specs,
        verify_reward,
    )
    from gymkit.train.model import SMOKE_MODEL, smoke_checkpoint
    from gymkit.train.templates import TOOL_CALL_END, use_smoke_template
    from gymkit.train.trainer import MetricsFile, ParameterProbe, trainer_class

    model = str(smoke_checkpoint(log)) if settings.model == SMOKE_MODEL else settings.model
    tokenizer = AutoTokenizer.from_pretrained(model)
    generation_kwargs = None
    if settings.model == SMOKE_MODEL:
        use_smoke_template(tokenizer)
        generation_kwargs = {"stop_strings": [TOOL_CALL_END]}
    micro, accumulation = settings.micro_steps()
    gpu = torch.cuda.is_available()
    bf16 = gpu if settings.bf16 is None else settings.bf16
    config = GRPOConfig(
        output_dir=str(settings.save_dir or scratch),
        max_steps=settings.steps,
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=accumulation,
        num_generations=settings.num_generations,
        max_completion_length=settings.max_completion_length,
        max_tool_calling_iterations=settings.max_tool_calls,
        learning_rate=settings.learning_rate,
        beta=settings.beta,
        temperature=settings.temperature,
        generation_kwargs=generation_kwargs,
        seed=settings.seed,
        logging_steps=1,
        report_to="none",
        use_cpu=not gpu,
        bf16=bf16,
        gradient_checkpointing=settings.gradient_checkpointing,
        save_strategy="steps" if settings.save_dir else "no",
        save_steps=max(1, settings.steps // 4),
        eval_strategy="steps" if eval_rows else "no",
        eval_steps=settings.eval_every,
        per_device_eval_batch_size=settings.batch_size,
        use_vllm=settings.use_vllm,
        vllm_mode=settings.vllm_mode,
        disable_tqdm=True,
    )
    environment = environment_class(paths.name, url, tool_specs(rows + eval_rows))
    metrics = MetricsFile(folder / METRICS_FILE, metrics_record(settings))
    trainer = trainer_class()(
        model=model,
        reward_funcs=[verify_reward],
        args=config,
        train_dataset=to_dataset(rows),
        eval_dataset=to_dataset(eval_rows) if eval_rows else None,
        processing_class=tokenizer,
        environment_factory=environment,
        callbacks=[metrics.callback()],
    )
    trainer.gymkit_stats = environment.stats
    probe = ParameterProbe(trainer.model)
    log(f"training {model} on {paths.name}: {settings.steps} steps of {settings.prompts_per_step} prompts x "
        f"{settings.num_generations} rollouts against {url}")  # fmt: skip
    try:
        trainer.train()
    except ServerRolloutError as exc:
        raise UserError(f"{paths.name}: {exc}", hint=f"gymkit test {paths.name}") from None
    finally:
        close_environments(environment)
    if settings.save_dir:
        trainer.save_model(str(settings.save_dir))
    return {
        "main_process": trainer.accelerator.is_main_process,
        "model": settings.model if settings.model == SMOKE_MODEL else model,
        "parameters": sum(p.numel() for p in trainer.model.parameters()),
        "parameter_change": probe.changes(trainer.model),
        "processes": trainer.accelerator.num_processes,
        "device": str(trainer.accelerator.device),
        "logged_steps": metrics.rows,
    }


def _report(paths: ServerPaths, settings: TrainSettings, folder: Path, outcome: dict[str, Any]) -> None:
    from gymkit.profiling.training import read_metrics, training_from_file, write_training

    metrics = folder / METRICS_FILE
    names, _ = read_metrics(metrics)
    result = training_from_file(
        metrics,
        step_col="step",
        train_col="reward",
        test_col="eval_reward" if "eval_reward" in names else None,
        server_dir=paths.dir,
    )
    # kind, settings and the smoke's verdict come from the log's first line (metrics_record).
    result.report["run"] = result.report.get("run", {}) | {"trainer": _trainer_version(), **outcome}
    write_training(result, folder)


def metrics_record(settings: TrainSettings) -> dict[str, Any]:
    """The first line of metrics.jsonl: the run's kind and settings, which every report of the log carries."""
    from gymkit import __version__
    from gymkit.artifacts.training import RECORD_KEY, MetricsRecord

    written = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(settings).items()}
    record = MetricsRecord(kind=settings.kind, settings=written, gymkit_version=__version__)
    return {RECORD_KEY: record.model_dump()}


def _trainer_version() -> str:
    import importlib.metadata

    return f"trl {importlib.metadata.version('trl')}, transformers {importlib.metadata.version('transformers')}"
