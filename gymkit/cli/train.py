"""``gymkit train``: GRPO on a server's tasks with TRL, then the step-6 training report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["register", "train"]

_PANEL = "Rollouts & rewards"
_RUN = "Run size"
_GPU = "GPU"


def train(
    server: Annotated[str, typer.Argument(help="Server name under resources_servers/, or a path to its folder.")],
    smoke: Annotated[
        bool,
        typer.Option(help="A few CPU steps of the embedded model: checks the plumbing, is no evidence of learning."),
    ] = False,
    model: Annotated[
        str | None,
        typer.Option(help="Hugging Face causal LM (id or folder); 'embedded' is the embedded model's weights."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(help="Report folder (default: the server's reports/training/).", file_okay=False),
    ] = None,
    steps: Annotated[int | None, typer.Option(help="Optimizer steps.", min=1, rich_help_panel=_RUN)] = None,
    prompts_per_step: Annotated[
        int | None, typer.Option(help="Prompts per step and device.", min=1, rich_help_panel=_RUN)
    ] = None,
    num_generations: Annotated[
        int | None, typer.Option(help="Rollouts per prompt (the GRPO group).", min=2, rich_help_panel=_RUN)
    ] = None,
    grad_accum: Annotated[
        int | None, typer.Option(help="Gradient accumulation steps.", min=1, rich_help_panel=_RUN)
    ] = None,
    micro_batch: Annotated[
        int | None,
        typer.Option(
            help="Rollouts per forward/backward pass (default: all of a step's).", min=1, rich_help_panel=_RUN
        ),
    ] = None,
    max_completion_length: Annotated[
        int | None, typer.Option(help="Tokens per rollout, tool results included.", min=16, rich_help_panel=_RUN)
    ] = None,
    max_tool_calls: Annotated[
        int | None, typer.Option(help="Tool-calling rounds per rollout.", min=1, rich_help_panel=_RUN)
    ] = None,
    learning_rate: Annotated[float | None, typer.Option(help="AdamW learning rate.", rich_help_panel=_RUN)] = None,
    beta: Annotated[float | None, typer.Option(help="KL coefficient (0: no reference model).", min=0.0)] = None,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature.", min=0.0)] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of task sampling and of the trainer.")] = None,
    tasks: Annotated[int | None, typer.Option(help="Train on N tasks of train.jsonl (default: all).", min=1)] = None,
    eval_tasks: Annotated[
        int | None, typer.Option(help="Held-out tasks from validation.jsonl scored every --eval-every steps.", min=0)
    ] = None,
    eval_every: Annotated[int | None, typer.Option(help="Steps between held-out evaluations.", min=1)] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads for torch.", min=1)] = None,
    save_dir: Annotated[
        Path | None, typer.Option(help="Save checkpoints and the final model here (default: nothing saved).")
    ] = None,
    vllm: Annotated[bool, typer.Option(help="Generate with vLLM (TRL's use_vllm).", rich_help_panel=_GPU)] = False,
    vllm_mode: Annotated[
        str | None,
        typer.Option(help="colocate (same GPUs) or server (`trl vllm-serve`).", rich_help_panel=_GPU),
    ] = None,
    bf16: Annotated[
        bool | None, typer.Option(help="bfloat16 training [default: on with a GPU].", rich_help_panel=_GPU)
    ] = None,
) -> None:
    """GRPO on the server's training set with TRL's GRPOTrainer; writes reports/training/.

    The server runs on loopback: its tools are offered to the model and called over HTTP,
    /seed_session starts each rollout and /verify's reward is the GRPO reward. Every logged
    step goes to metrics.jsonl and the training report is made from it. On several GPUs run
    it under accelerate: `accelerate launch -m gymkit train NAME --model M` (docs/training.md).
    """
    from gymkit.errors import UserError
    from gymkit.project import resolve_server
    from gymkit.train.run import SMOKE, TrainSettings
    from gymkit.train.run import train as run_train

    if vllm_mode not in (None, "colocate", "server"):
        raise UserError(f"--vllm-mode {vllm_mode}: expected colocate or server")
    changes: dict[str, Any] = {
        "model": model,
        "steps": steps,
        "prompts_per_step": prompts_per_step,
        "num_generations": num_generations,
        "grad_accum": grad_accum,
        "micro_batch": micro_batch,
        "max_completion_length": max_completion_length,
        "max_tool_calls": max_tool_calls,
        "learning_rate": learning_rate,
        "beta": beta,
        "temperature": temperature,
        "seed": seed,
        "tasks": tasks,
        "eval_tasks": eval_tasks,
        "eval_every": eval_every,
        "threads": threads,
        "save_dir": save_dir,
        "use_vllm": vllm or None,
        "vllm_mode": vllm_mode,
        "bf16": bf16,
    }
    base = SMOKE if smoke else TrainSettings()
    if not smoke and model is None:
        raise UserError("name the model to train: --model HF_ID (or --smoke for the CPU smoke)")
    from dataclasses import replace

    settings = replace(base, **{k: v for k, v in changes.items() if v is not None})
    paths = resolve_server(server)
    folder = run_train(paths, settings, output, log=lambda line: typer.echo(line, err=True))
    import orjson

    report = orjson.loads((folder / "training.json").read_bytes())
    run = report.get("run", {})
    change = run.get("parameter_change", {})
    typer.echo(f"{report['kind']}: {report['verdict']}")
    typer.echo(
        f"{run.get('logged_steps')} steps in {run.get('wall_seconds')} s, peak memory {run.get('peak_rss_mib')} MiB; "
        f"{change.get('tensors_changed')}/{change.get('tensors')} parameter tensors changed"
    )
    if report["kind"] == "smoke":
        typer.secho("note: a smoke shows the plumbing works; it is no evidence that training improves", fg="yellow")
    typer.echo(f"wrote {folder / 'training.json'}, training.md and metrics.jsonl")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel=_PANEL)(train)
