"""``gymkit profile`` and ``gymkit training-report``: checklist steps 5 and 6."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from gymkit.cli.rollouts import (
    CONCURRENCY_HELP,
    BoundOptions,
    MaxResponseBytes,
    MaxRetries,
    MaxSteps,
    ModelTimeout,
    RetryMaxTime,
    RolloutTimeout,
    ServerTimeout,
    print_summary,
)
from gymkit.errors import UserError
from gymkit.rollouts.config import DEFAULT_ROLLOUT_TIMEOUT, DEFAULT_SERVER_TIMEOUT

__all__ = ["profile", "register", "training_report"]

_PANEL = "Rollouts & rewards"
_ENDPOINT = "Model endpoint (collection mode; default: the embedded model)"
_SAMPLING = "Sampling (collection mode)"


def profile(
    server: Annotated[
        str | None, typer.Argument(help="Server name under resources_servers/ (or its folder) to profile.")
    ] = None,
    rollouts: Annotated[
        list[Path] | None,
        typer.Option(
            "--rollouts",
            help="Profile this rollouts file instead of collecting (repeat for several models).",
            exists=True,
            dir_okay=False,
            metavar="FILE",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(help="Report folder (default: the server's reports/reward_profile/).", file_okay=False),
    ] = None,
    dataset: Annotated[
        Path | None,
        typer.Option(
            help="Task rows to sample prompts from (default: data/train.jsonl, else validation, else example).",
            exists=True,
            dir_okay=False,
            metavar="FILE",
        ),
    ] = None,
    num_prompts: Annotated[int, typer.Option(help="Prompts to sample (all when the dataset has fewer).", min=1)] = 500,
    samples: Annotated[int, typer.Option(help="Responses per prompt.", min=1)] = 16,
    seed: Annotated[int, typer.Option(help="Seed of the prompt subset: the same seed picks the same prompts.")] = 0,
    pass_threshold: Annotated[float, typer.Option(help="A rollout passes when its reward is >= this.")] = 1.0,
    base_url: Annotated[
        list[str] | None,
        typer.Option(help="OpenAI-compatible base URL (repeat to spread load).", rich_help_panel=_ENDPOINT),
    ] = None,
    model: Annotated[str | None, typer.Option(help="Model name at the endpoint.", rich_help_panel=_ENDPOINT)] = None,
    api_key: Annotated[
        str | None, typer.Option(help="API key. Env: GYMKIT_API_KEY or OPENAI_API_KEY.", rich_help_panel=_ENDPOINT)
    ] = None,
    api: Annotated[str | None, typer.Option(help="responses or chat.", rich_help_panel=_ENDPOINT)] = None,
    endpoint_config: Annotated[
        Path | None,
        typer.Option(help="YAML with base_url(s), api_key, model, api.", exists=True, rich_help_panel=_ENDPOINT),
    ] = None,
    temperature: Annotated[
        float,
        typer.Option(
            help="Sampling temperature; >0 so samples of a prompt differ.", min=0.0, rich_help_panel=_SAMPLING
        ),
    ] = 1.0,
    top_p: Annotated[float | None, typer.Option(help="Nucleus sampling.", rich_help_panel=_SAMPLING)] = None,
    max_output_tokens: Annotated[int | None, typer.Option(help="Per model call.", rich_help_panel=_SAMPLING)] = None,
    sampling_seed: Annotated[
        int | None, typer.Option(help="Seed sent to the model (--seed picks the prompts).", rich_help_panel=_SAMPLING)
    ] = None,
    concurrency: Annotated[int | None, typer.Option(help=CONCURRENCY_HELP, min=1)] = None,
    max_steps: MaxSteps = None,
    model_timeout: ModelTimeout = None,
    max_retries: MaxRetries = None,
    retry_max_time: RetryMaxTime = None,
    max_response_bytes: MaxResponseBytes = None,
    rollout_timeout: RolloutTimeout = DEFAULT_ROLLOUT_TIMEOUT,
    server_timeout: ServerTimeout = DEFAULT_SERVER_TIMEOUT,
    restart: Annotated[bool, typer.Option(help="Start the collection afresh instead of resuming it.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    plots: Annotated[bool, typer.Option(help="Draw the PNG plots (the JSON and Markdown are always written).")] = True,
) -> None:
    """Profile rewards: distribution, pass@k, GRPO signal, tool calls and their correlation with reward.

    [bold]gymkit profile NAME[/] draws --num-prompts prompts (seeded), collects --samples responses to
    each and profiles them; re-running resumes. [bold]gymkit profile --rollouts FILE --output DIR[/] profiles existing
    rollouts without calling a model.
    """
    from gymkit.profiling import write_profile
    from gymkit.profiling.report import profile_files
    from gymkit.project import resolve_server

    paths = resolve_server(server) if server else None
    if paths is None and (not rollouts or output is None):
        raise UserError("name a server, or pass --rollouts FILE and --output DIR", hint="gymkit profile --help")
    folder = output or paths.reward_profile  # type: ignore[union-attr]  # paths is set when output is not
    if rollouts:
        result = profile_files(
            list(rollouts), threshold=pass_threshold, dataset=dataset, server_dir=paths.dir if paths else None
        )
    else:
        from gymkit.profiling.collect import collect_and_profile, default_dataset
        from gymkit.rollouts import Sampling, endpoint_from_settings

        limits = BoundOptions(
            max_steps=max_steps,
            model_timeout=model_timeout,
            max_retries=max_retries,
            retry_max_time=retry_max_time,
            max_response_bytes=max_response_bytes,
            rollout_timeout=rollout_timeout,
            server_timeout=server_timeout,
        )

        result = collect_and_profile(
            paths,  # type: ignore[arg-type]  # no --rollouts means a server was named
            folder,
            dataset=dataset or default_dataset(paths),  # type: ignore[arg-type]
            num_prompts=num_prompts,
            samples=samples,
            seed=seed,
            threshold=pass_threshold,
            endpoint=endpoint_from_settings(
                base_urls=base_url,
                api_key=api_key,
                model=model,
                api=api,
                config_file=endpoint_config,
                **limits.model_limits,
            ),
            sampling=Sampling(
                temperature=temperature, top_p=top_p, max_output_tokens=max_output_tokens, seed=sampling_seed
            ),
            concurrency=concurrency,
            bounds=limits.bounds,
            model_limits=limits.model_limits,
            restart=restart,
            progress=not quiet,
            on_collected=print_summary,
        )
    write_profile(result, folder, plots=plots)
    _summarise(result.report, folder)


def _summarise(report: dict[str, Any], folder: Path) -> None:
    passes = ", ".join(f"pass@{k} {v:.3f}" for k, v in report["pass_at_k"].items())
    typer.echo(
        f"{report['num_rollouts']} rollouts, {report['num_prompts']} prompts x {report['samples_per_prompt']}: "
        f"mean reward {report['reward']['mean']:.3f}; {passes}; mixed prompts {report['prompts']['mixed']:.0%}"
    )
    if report["prompts"].get("verdict"):
        typer.secho(f"note: {report['prompts']['verdict']}", fg="yellow")
    typer.echo(f"wrote {folder / 'reward_profile.json'} and reward_profile.md")


def training_report(
    metrics: Annotated[Path, typer.Option(help="Training log: CSV (a W&B export works) or JSONL.", exists=True,
                                          dir_okay=False)],
    server: Annotated[str | None, typer.Argument(help="Server whose reports/training/ receives the report.")] = None,
    output: Annotated[Path | None, typer.Option(help="Report folder (default: the server's reports/training/).",
                                                file_okay=False)] = None,
    step_col: Annotated[str | None, typer.Option(help="Step column (default: detected).")] = None,
    train_col: Annotated[str | None, typer.Option(help="Training accuracy/reward column (default: detected).")] = None,
    test_col: Annotated[str | None, typer.Option(help="Validation/test benchmark column (default: detected).")] = None,
    alpha: Annotated[float, typer.Option(help="Significance level of the trend test.", min=0.0001, max=0.5)] = 0.05,
) -> None:  # fmt: skip
    """Plot GRPO training curves and test whether training improved (Mann-Kendall trend test)."""
    from gymkit.profiling.training import training_from_file, write_training
    from gymkit.project import resolve_server

    if server is None and output is None:
        raise UserError("name a server or pass --output DIR", hint="gymkit training-report --metrics FILE NAME")
    paths = resolve_server(server) if server else None
    folder = output or paths.training  # type: ignore[union-attr]  # paths is set when output is not
    result = training_from_file(
        metrics,
        step_col=step_col,
        train_col=train_col,
        test_col=test_col,
        alpha=alpha,
        server_dir=paths.dir if paths else None,
    )
    write_training(result, folder)
    for key in ("train", "test_benchmark"):
        part = result.report.get(key)
        if part and part["p_value"] is not None:
            verdict = "improved" if part["improved"] else "no significant improvement"
            typer.echo(f"{key} ({part['column']}): {part['first']:.4g} -> {part['last']:.4g}, "
                       f"{part['test']} p = {part['p_value']:.3g}: {verdict}")  # fmt: skip
    typer.echo(f"wrote {folder / 'training.json'} and training.md")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel=_PANEL)(profile)
    app.command("training-report", rich_help_panel=_PANEL)(training_report)
