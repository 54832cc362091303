"""``gymkit rollouts``: collect rollouts of a server's tasks with a model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gymkit.errors import UserError
from gymkit.project import resolve_server
from gymkit.rollouts import Sampling, collect_rollouts, endpoint_from_settings

_MODEL = "Model endpoint (default: the embedded model)"
_SAMPLING = "Sampling"


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
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", help="Rollouts in flight.", min=1)] = 8,
    resume: Annotated[
        bool, typer.Option(help="Keep the rows already in the output and run only the missing (task, repeat) pairs.")
    ] = False,
    max_steps: Annotated[int | None, typer.Option(help="Stop a rollout after this many model turns.", min=1)] = None,
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
    temperature: Annotated[float | None, typer.Option(rich_help_panel=_SAMPLING, min=0.0)] = None,
    top_p: Annotated[float | None, typer.Option(rich_help_panel=_SAMPLING, min=0.0, max=1.0)] = None,
    max_output_tokens: Annotated[int | None, typer.Option(rich_help_panel=_SAMPLING, min=1)] = None,
    seed: Annotated[int | None, typer.Option(rich_help_panel=_SAMPLING)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Run a model on the server's tasks and write one verified rollout per (task, repeat).

    With no endpoint configured, an embedded local model (SmolLM2-135M) answers: no key, no
    network. Failed rollouts go to [bold]<output>_failures.jsonl[/] with the reason.
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
    endpoint = endpoint_from_settings(
        base_urls=base_url, api_key=api_key, model=model, api=api, config_file=endpoint_config
    )
    summary = collect_rollouts(
        paths.dir,
        input_path,
        output_path,
        repeats=repeats,
        limit=limit,
        concurrency=concurrency,
        resume=resume,
        endpoint=endpoint,
        sampling=Sampling(temperature, top_p, max_output_tokens, seed),
        server_url=server_url,
        max_steps=max_steps,
        progress=not quiet,
    )
    mean = f"{summary.mean_reward:.3f}" if summary.mean_reward is not None else "-"
    typer.echo(
        f"{summary.rows}/{summary.planned} rollouts in {summary.output_path} "
        f"(model {summary.model} at {summary.endpoint}; mean reward {mean}; "
        f"{summary.written} new, {summary.failed} failed, {summary.elapsed:.1f}s)"
    )
    if summary.failed:
        classes = ", ".join(f"{k}: {v}" for k, v in sorted(summary.failure_classes.items()))
        typer.secho(f"{summary.failed} failed ({classes}); see {summary.failures_path}", fg="yellow", err=True)
    if not summary.complete:
        typer.secho("run again with --resume to retry the missing rollouts", fg="yellow", err=True)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Run")(rollouts)
