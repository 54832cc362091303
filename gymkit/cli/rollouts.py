"""``gymkit rollouts``: collect rollouts of a server's tasks with a model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gymkit.cli import _options as options
from gymkit.errors import UserError
from gymkit.project import resolve_server
from gymkit.rollouts import CollectionSummary, collect_rollouts
from gymkit.rollouts.config import DEFAULT_ROLLOUT_TIMEOUT, DEFAULT_SERVER_TIMEOUT

__all__ = ["print_summary", "register", "rollouts"]


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
    concurrency: options.Concurrency = None,
    resume: Annotated[
        bool, typer.Option(help="Keep the rows already in the output and run only the missing (task, repeat) pairs.")
    ] = False,
    force: Annotated[
        bool, typer.Option(help="Replace an output file even when this run plans fewer rows than it has.")
    ] = False,
    server_url: Annotated[
        str | None, typer.Option(help="Use this running resource server instead of starting one.")
    ] = None,
    base_url: options.BaseUrls = None,
    api_key: options.ApiKey = None,
    model: options.ModelName = None,
    api: options.ApiName = None,
    endpoint_config: options.EndpointFile = None,
    temperature: Annotated[
        float | None, options.temperature_option("Default: the task's own, else the model's.")
    ] = None,
    top_p: options.TopP = None,
    max_output_tokens: options.MaxOutputTokens = None,
    seed: options.Seed = None,
    max_steps: options.MaxSteps = None,
    model_timeout: options.ModelTimeout = None,
    max_retries: options.MaxRetries = None,
    retry_max_time: options.RetryMaxTime = None,
    max_response_bytes: options.MaxResponseBytes = None,
    rollout_timeout: options.RolloutTimeout = DEFAULT_ROLLOUT_TIMEOUT,
    server_timeout: options.ServerTimeout = DEFAULT_SERVER_TIMEOUT,
    quiet: options.Quiet = False,
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
    settings = options.model_settings(locals())
    summary = collect_rollouts(
        paths.dir,
        input_path,
        output_path,
        repeats=repeats,
        limit=limit,
        concurrency=concurrency,
        resume=resume,
        force=force,
        endpoint=settings.endpoint,
        sampling=settings.sampling,
        server_url=server_url,
        bounds=settings.bounds,
        model_limits=settings.model_limits,
        progress=not quiet,
        notice=options.long_run_notice("--limit N or --repeats K"),
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
