"""``gymkit profile``: checklist step 5, the reward profile of a server's rollouts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from gymkit.cli import _options as options
from gymkit.cli.rollouts import print_summary
from gymkit.errors import UserError
from gymkit.rollouts.config import DEFAULT_ROLLOUT_TIMEOUT, DEFAULT_SERVER_TIMEOUT, EndpointConfig

__all__ = ["profile", "register"]

_PANEL = "Rollouts & rewards"


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
    subset_seed: Annotated[
        int, typer.Option(help="Seed of the prompt subset: the same seed picks the same prompts.")
    ] = 0,
    pass_threshold: Annotated[float, typer.Option(help="A rollout passes when its reward is >= this.")] = 1.0,
    base_url: options.BaseUrls = None,
    model: options.ModelName = None,
    api_key: options.ApiKey = None,
    api: options.ApiName = None,
    endpoint_config: options.EndpointFile = None,
    temperature: Annotated[float, options.temperature_option("Above 0, so that the samples of a prompt differ.")] = 1.0,
    top_p: options.TopP = None,
    max_output_tokens: options.MaxOutputTokens = None,
    seed: options.Seed = None,
    sampling_seed: Annotated[
        int | None, typer.Option(hidden=True, help="Deprecated spelling of --seed (until the next release).")
    ] = None,
    concurrency: options.Concurrency = None,
    max_steps: options.MaxSteps = None,
    model_timeout: options.ModelTimeout = None,
    max_retries: options.MaxRetries = None,
    retry_max_time: options.RetryMaxTime = None,
    max_response_bytes: options.MaxResponseBytes = None,
    rollout_timeout: options.RolloutTimeout = DEFAULT_ROLLOUT_TIMEOUT,
    server_timeout: options.ServerTimeout = DEFAULT_SERVER_TIMEOUT,
    restart: Annotated[bool, typer.Option(help="Start the collection afresh instead of resuming it.")] = False,
    quiet: options.Quiet = False,
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

        given_seed, seed = seed, _seed(seed, sampling_seed)
        settings = options.model_settings(locals())
        _explain_seed(given_seed if sampling_seed is None else None, settings.endpoint)
        result = collect_and_profile(
            paths,  # type: ignore[arg-type]  # no --rollouts means a server was named
            folder,
            dataset=dataset or default_dataset(paths),  # type: ignore[arg-type]
            num_prompts=num_prompts,
            samples=samples,
            seed=subset_seed,
            threshold=pass_threshold,
            endpoint=settings.endpoint,
            sampling=settings.sampling,
            concurrency=concurrency,
            bounds=settings.bounds,
            model_limits=settings.model_limits,
            restart=restart,
            progress=not quiet,
            on_collected=print_summary,
            notice=options.long_run_notice("--num-prompts N or --samples K"),
        )
    write_profile(result, folder, plots=plots)
    _summarise(result.report, folder)


def _seed(seed: int | None, sampling_seed: int | None) -> int | None:
    """--seed, or the deprecated --sampling-seed (with a warning, until the next release)."""
    if sampling_seed is not None:
        typer.secho(
            "warning: --sampling-seed is deprecated; use --seed, the model's sampling seed", fg="yellow", err=True
        )
        return sampling_seed if seed is None else seed
    return seed


def _explain_seed(seed: int | None, endpoint: EndpointConfig | None) -> None:
    """Until the next release: --seed picked the prompts here before, so a command written then is told what changed."""
    if seed is None:
        return
    if endpoint is not None and endpoint.api == "responses":
        # Refused here rather than by the collector, so the refusal can say what the old --seed meant.
        raise UserError(
            "--seed needs the Chat Completions API: the Responses API has no seed;"
            " the prompt subset's seed is now --subset-seed",
            hint="add --api chat, or pass the seed as --subset-seed N to pick the same prompts",
        )
    # The command still runs (with the default subset), so it only notes the change.
    typer.secho("note: --seed is sent to the model; the prompt subset's seed is --subset-seed", fg="yellow", err=True)


def _summarise(report: dict[str, Any], folder: Path) -> None:
    passes = ", ".join(f"pass@{k} {v:.3f}" for k, v in report["pass_at_k"].items())
    typer.echo(
        f"{report['num_rollouts']} rollouts, {report['num_prompts']} prompts x {report['samples_per_prompt']}: "
        f"mean reward {report['reward']['mean']:.3f}; {passes}; mixed prompts {report['prompts']['mixed']:.0%}"
    )
    if report["prompts"].get("verdict"):
        typer.secho(f"note: {report['prompts']['verdict']}", fg="yellow")
    typer.echo(f"wrote {folder / 'reward_profile.json'} and reward_profile.md")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel=_PANEL)(profile)
