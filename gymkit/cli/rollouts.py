"""``gymkit rollouts``: collect rollouts of a server's tasks with a model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from gymkit.errors import UserError
from gymkit.project import resolve_server
from gymkit.rollouts import CollectionSummary, Sampling, collect_rollouts, endpoint_from_settings
from gymkit.rollouts.config import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_STEPS,
    DEFAULT_MODEL_TIMEOUT,
    DEFAULT_RETRY_MAX_TIME,
    DEFAULT_ROLLOUT_TIMEOUT,
    DEFAULT_SERVER_TIMEOUT,
    EMBEDDED_MODEL_TIMEOUT,
    Bounds,
    check_bound,
)

__all__ = ["CONCURRENCY_HELP", "BoundOptions", "print_summary", "register", "rollouts"]

CONCURRENCY_HELP = (
    "Pin N rollouts (and so at most N model calls) in flight. Default: found by itself: model calls in "
    "flight rise while latency holds and back off on 429s, timeouts and rising latency; the embedded "
    "model gets one call per slot."
)

_MODEL = "Model endpoint (default: the embedded model)"
_SAMPLING = "Sampling"
_BOUNDS = "Bounds (docs/security.md)"

# Shared with `gymkit profile`, which collects the same way.
MaxSteps = Annotated[
    int | None,
    typer.Option(
        help=f"Model turns per rollout at most. Default: the server config's max_steps, else {DEFAULT_MAX_STEPS}.",
        min=1,
        rich_help_panel=_BOUNDS,
    ),
]
ModelTimeout = Annotated[
    float | None,
    typer.Option(
        help=f"Seconds per model call attempt [default: {DEFAULT_MODEL_TIMEOUT:g}; "
        f"embedded model {EMBEDDED_MODEL_TIMEOUT:g}].",
        rich_help_panel=_BOUNDS,
    ),
]
MaxRetries = Annotated[
    int | None,
    typer.Option(help=f"Retries of a failed model call [default: {DEFAULT_MAX_RETRIES}].", rich_help_panel=_BOUNDS),
]
RetryMaxTime = Annotated[
    float | None,
    typer.Option(
        help=f"Seconds one model call may spend retrying [default: {DEFAULT_RETRY_MAX_TIME:g}].",
        rich_help_panel=_BOUNDS,
    ),
]
MaxResponseBytes = Annotated[
    int | None,
    typer.Option(
        help=f"Bytes read of one model or server answer [default: {DEFAULT_MAX_RESPONSE_BYTES}].",
        rich_help_panel=_BOUNDS,
    ),
]
RolloutTimeout = Annotated[
    float,
    typer.Option(help="Seconds one rollout may take, verify included.", rich_help_panel=_BOUNDS),
]
ServerTimeout = Annotated[
    float,
    typer.Option(help="Seconds for each seed_session, tool call and verify.", rich_help_panel=_BOUNDS),
]


class BoundOptions:
    """The bound flags as collect_rollouts takes them; None = not given, so a config file's value holds."""

    def __init__(
        self,
        *,
        max_steps: int | None,
        model_timeout: float | None,
        max_retries: int | None,
        retry_max_time: float | None,
        max_response_bytes: int | None,
        rollout_timeout: float,
        server_timeout: float,
    ) -> None:
        flags = {
            "--max-steps": ("max_steps", max_steps),
            "--model-timeout": ("timeout", model_timeout),
            "--max-retries": ("max_retries", max_retries),
            "--retry-max-time": ("retry_max_time", retry_max_time),
            "--max-response-bytes": ("max_response_bytes", max_response_bytes),
            "--rollout-timeout": ("rollout_timeout", rollout_timeout),
            "--server-timeout": ("server_timeout", server_timeout),
        }
        for flag, (name, value) in flags.items():
            if value is not None:
                check_bound(name, value, flag)
        self.bounds = Bounds(max_steps=max_steps, rollout_timeout=rollout_timeout, server_timeout=server_timeout)
        given = {
            "timeout": model_timeout,
            "max_retries": max_retries,
            "retry_max_time": retry_max_time,
            "max_response_bytes": max_response_bytes,
        }
        self.model_limits: dict[str, Any] = {k: v for k, v in given.items() if v is not None}


def rollouts(
    server: Annotated[str, typer.Argument(help="Server name under resources_servers/, or a path to its folder.")],
    input: Annotated[
        Path | None, typer.Option("--input", "-i", help="Task rows (JSONL). Default: the server's data/example.jsonl.")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Rollouts file. Default: data/example_rollouts.jsonl next to the input."),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Use only the first N tasks.", min=1)] = None,
    repeats: Annotated[int, typer.Option("--repeats", "-k", help="Rollouts per task.", min=1)] = 1,
    concurrency: Annotated[int | None, typer.Option("--concurrency", "-c", help=CONCURRENCY_HELP, min=1)] = None,
    resume: Annotated[
        bool, typer.Option(help="Keep the rows already in the output and run only the missing (task, repeat) pairs.")
    ] = False,
    force: Annotated[
        bool, typer.Option(help="Replace an output file even when this run plans fewer rows than it has.")
    ] = False,
    server_url: Annotated[
        str | None, typer.Option(help="Use this running resource server instead of starting one.")
    ] = None,
    base_url: Annotated[
        list[str] | None,
        typer.Option(
            "--base-url",
            help="OpenAI-compatible base URL (repeat to spread load). Env: GYMKIT_BASE_URL(S).",
            rich_help_panel=_MODEL,
        ),
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(help="API key. Env: GYMKIT_API_KEY or OPENAI_API_KEY.", rich_help_panel=_MODEL)
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="Model name. Env: GYMKIT_MODEL. Default: the endpoint's first model.", rich_help_panel=_MODEL
        ),
    ] = None,
    api: Annotated[
        str | None, typer.Option(help="responses or chat (Chat Completions). Env: GYMKIT_API.", rich_help_panel=_MODEL)
    ] = None,
    endpoint_config: Annotated[
        Path | None,
        typer.Option(help="YAML file with base_url(s), api_key, model, api.", rich_help_panel=_MODEL, exists=False),
    ] = None,
    temperature: Annotated[
        float | None,
        typer.Option(
            help="Sampling temperature for every model call (0 = greedy). Default: the task's own, else the model's.",
            rich_help_panel=_SAMPLING,
            min=0.0,
        ),
    ] = None,
    top_p: Annotated[
        float | None,
        typer.Option(
            help="Nucleus sampling: sample from the smallest set of tokens whose probability adds up to this. "
            "Default: the task's own, else the model's.",
            rich_help_panel=_SAMPLING,
            min=0.0,
            max=1.0,
        ),
    ] = None,
    max_output_tokens: Annotated[
        int | None,
        typer.Option(
            help="Tokens one model call may generate. Default: the task's own, else the model's "
            "(the embedded model: 128).",
            rich_help_panel=_SAMPLING,
            min=1,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            help="Seed sent with every model call, for repeatable sampling where the server supports it. "
            "Needs --api chat.",
            rich_help_panel=_SAMPLING,
        ),
    ] = None,
    max_steps: MaxSteps = None,
    model_timeout: ModelTimeout = None,
    max_retries: MaxRetries = None,
    retry_max_time: RetryMaxTime = None,
    max_response_bytes: MaxResponseBytes = None,
    rollout_timeout: RolloutTimeout = DEFAULT_ROLLOUT_TIMEOUT,
    server_timeout: ServerTimeout = DEFAULT_SERVER_TIMEOUT,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Run a model on the server's tasks and write one verified rollout per (task, repeat).

    With no endpoint configured, an embedded local model (SmolLM2-135M) answers: no key, no
    network. Failed rollouts go to [bold]<output>_failures.jsonl[/] with the reason; what the run
    was started with goes to [bold]<output stem>.run.json[/], which --resume checks.
    """
    paths = resolve_server(server)
    input_path = input or paths.example
    if not input_path.is_file():
        raise UserError(f"{input_path}: no such task file", hint="pass --input FILE or add data/example.jsonl")
    output_path = output or (
        paths.example_rollouts
        if input_path.resolve() == paths.example.resolve()
        else input_path.with_name(f"{input_path.stem}_rollouts.jsonl")
    )
    limits = BoundOptions(
        max_steps=max_steps,
        model_timeout=model_timeout,
        max_retries=max_retries,
        retry_max_time=retry_max_time,
        max_response_bytes=max_response_bytes,
        rollout_timeout=rollout_timeout,
        server_timeout=server_timeout,
    )
    endpoint = endpoint_from_settings(
        base_urls=base_url,
        api_key=api_key,
        model=model,
        api=api,
        config_file=endpoint_config,
        **limits.model_limits,
    )
    summary = collect_rollouts(
        paths.dir,
        input_path,
        output_path,
        repeats=repeats,
        limit=limit,
        concurrency=concurrency,
        resume=resume,
        force=force,
        endpoint=endpoint,
        sampling=Sampling(temperature, top_p, max_output_tokens, seed),
        server_url=server_url,
        bounds=limits.bounds,
        model_limits=limits.model_limits,
        progress=not quiet,
    )
    print_summary(summary)
    if not summary.complete:
        typer.secho("run again with --resume to retry the missing rollouts", fg="yellow", err=True)
        raise typer.Exit(1)


def print_summary(summary: CollectionSummary) -> None:
    """The run's result line, then what went wrong: failures, tool errors, replicas taken out."""
    mean = f"{summary.mean_reward:.3f}" if summary.mean_reward is not None else "-"
    typer.echo(
        f"{summary.rows}/{summary.planned} rollouts in {summary.output_path} "
        f"(model {summary.model} at {summary.endpoint}; mean reward {mean}; "
        f"{summary.written} new, {summary.failed} failed, {summary.elapsed:.1f}s)"
    )
    if summary.model_calls:
        overloads = f", {summary.overloads} overloaded answers" if summary.overloads else ""
        typer.echo(f"model calls: {summary.model_calls}, in flight {summary.concurrency}{overloads}")
    if len(summary.replica_shares) > 1:
        shares = ", ".join(f"{url} {share:.0%}" for url, share in summary.replica_shares.items())
        typer.echo(f"calls served per replica: {shares}")
    for url, times in summary.replicas_taken_out.items():
        typer.secho(f"warning: replica {url} failed and was taken out {times} time(s)", fg="yellow", err=True)
    if summary.failed:
        classes = ", ".join(f"{k}: {v}" for k, v in sorted(summary.failure_classes.items()))
        typer.secho(f"{summary.failed} failed ({classes}); see {summary.failures_path}", fg="yellow", err=True)
    if summary.tool_errors:
        calls = sum(e["calls"] for e in summary.tool_errors)
        typer.secho(
            f"warning: {calls} tool call(s) failed; each went back to the model as its tool output",
            fg="yellow",
            err=True,
        )
        for error in summary.tool_errors[:10]:
            typer.secho(
                f"  {error['tool']}: {error['kind']} in {error['calls']} call(s), {error['rollouts']} of "
                f"{summary.written} rollout(s); first: {error['first'][:200]}",
                fg="yellow",
                err=True,
            )


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Run")(rollouts)
