"""The options ``gymkit rollouts`` and ``gymkit profile`` share: endpoint, sampling, bounds, declared once.

Both commands collect rollouts the same way, so a flag means the same in both (``--seed`` is
the model's sampling seed everywhere) and :func:`model_settings` turns the flags into what
``collect_rollouts`` takes. A private module: ``gymkit.cli`` treats public ones as commands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from gymkit.rollouts.config import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_STEPS,
    DEFAULT_MODEL_TIMEOUT,
    DEFAULT_RETRY_MAX_TIME,
    EMBEDDED_MODEL_TIMEOUT,
    Bounds,
    EndpointConfig,
    Sampling,
    check_bound,
    endpoint_from_settings,
)
from gymkit.rollouts.estimate import LongRunNotice

__all__ = [
    "ApiKey",
    "ApiName",
    "BaseUrls",
    "Concurrency",
    "EndpointFile",
    "MaxOutputTokens",
    "MaxResponseBytes",
    "MaxRetries",
    "MaxSteps",
    "ModelName",
    "ModelSettings",
    "ModelTimeout",
    "Quiet",
    "RetryMaxTime",
    "RolloutTimeout",
    "Seed",
    "ServerTimeout",
    "TopP",
    "long_run_notice",
    "model_settings",
    "temperature_option",
]

MODEL_PANEL = "Model endpoint (default: the embedded model)"
SAMPLING_PANEL = "Sampling"
BOUNDS_PANEL = "Bounds (docs/security.md)"

BaseUrls = Annotated[
    list[str] | None,
    typer.Option(
        "--base-url",
        help="OpenAI-compatible base URL (repeat to spread load). Env: GYMKIT_BASE_URL(S).",
        rich_help_panel=MODEL_PANEL,
    ),
]
ApiKey = Annotated[
    str | None, typer.Option(help="API key. Env: GYMKIT_API_KEY or OPENAI_API_KEY.", rich_help_panel=MODEL_PANEL)
]
ModelName = Annotated[
    str | None,
    typer.Option(
        help="Model name. Env: GYMKIT_MODEL. Default: the endpoint's first model.", rich_help_panel=MODEL_PANEL
    ),
]
ApiName = Annotated[
    str | None, typer.Option(help="responses or chat (Chat Completions). Env: GYMKIT_API.", rich_help_panel=MODEL_PANEL)
]
EndpointFile = Annotated[
    Path | None,
    typer.Option(
        "--endpoint-config",
        help="YAML file with base_url(s), api_key, model, api and the model bounds.",
        rich_help_panel=MODEL_PANEL,
        dir_okay=False,
        metavar="FILE",
    ),
]
Concurrency = Annotated[
    int | None,
    typer.Option(
        "--concurrency",
        "-c",
        help="Pin N rollouts (and so at most N model calls) in flight. Default: found by itself: model calls in "
        "flight rise while latency holds and back off on 429s, timeouts and rising latency; the embedded "
        "model gets one call per slot.",
        min=1,
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


def temperature_option(unset: str) -> Any:
    """``--temperature``, whose default differs: rollouts keep the task's, profile samples at 1.0."""
    return typer.Option(
        "--temperature",
        help=f"Sampling temperature for every model call (0 = greedy). {unset}",
        min=0.0,
        rich_help_panel=SAMPLING_PANEL,
    )


TopP = Annotated[
    float | None,
    typer.Option(
        help="Nucleus sampling: sample from the smallest set of tokens whose probability adds up to this. "
        "Default: the task's own, else the model's.",
        min=0.0,
        max=1.0,
        rich_help_panel=SAMPLING_PANEL,
    ),
]
MaxOutputTokens = Annotated[
    int | None,
    typer.Option(
        help="Tokens one model call may generate. Default: the task's own, else the model's (the embedded model: 128).",
        min=1,
        rich_help_panel=SAMPLING_PANEL,
    ),
]
Seed = Annotated[
    int | None,
    typer.Option(
        "--seed",
        help="Seed sent with every model call, for repeatable sampling where the server supports it. Needs --api chat.",
        rich_help_panel=SAMPLING_PANEL,
    ),
]
MaxSteps = Annotated[
    int | None,
    typer.Option(
        help=f"Model turns per rollout at most. Default: the server config's max_steps, else {DEFAULT_MAX_STEPS}.",
        min=1,
        rich_help_panel=BOUNDS_PANEL,
    ),
]
ModelTimeout = Annotated[
    float | None,
    typer.Option(
        help=f"Seconds per model call attempt [default: {DEFAULT_MODEL_TIMEOUT:g}; "
        f"embedded model {EMBEDDED_MODEL_TIMEOUT:g}].",
        rich_help_panel=BOUNDS_PANEL,
    ),
]
MaxRetries = Annotated[
    int | None,
    typer.Option(
        help=f"Retries of a failed model call [default: {DEFAULT_MAX_RETRIES}].", rich_help_panel=BOUNDS_PANEL
    ),
]
RetryMaxTime = Annotated[
    float | None,
    typer.Option(
        help=f"Seconds one model call may spend retrying [default: {DEFAULT_RETRY_MAX_TIME:g}].",
        rich_help_panel=BOUNDS_PANEL,
    ),
]
MaxResponseBytes = Annotated[
    int | None,
    typer.Option(
        help=f"Bytes read of one model or server answer [default: {DEFAULT_MAX_RESPONSE_BYTES}].",
        rich_help_panel=BOUNDS_PANEL,
    ),
]
RolloutTimeout = Annotated[
    float, typer.Option(help="Seconds one rollout may take, verify included.", rich_help_panel=BOUNDS_PANEL)
]
ServerTimeout = Annotated[
    float, typer.Option(help="Seconds for each seed_session, tool call and verify.", rich_help_panel=BOUNDS_PANEL)
]


@dataclass(frozen=True)
class ModelSettings:
    """The shared flags as collect_rollouts takes them; ``endpoint`` None = the embedded model."""

    endpoint: EndpointConfig | None
    sampling: Sampling
    bounds: Bounds
    model_limits: dict[str, Any]  # only the flags given, so an endpoint file's values hold otherwise


def model_settings(flags: Mapping[str, Any]) -> ModelSettings:
    """The shared flags of a command (its ``locals()``, by the parameter names above) as ModelSettings.

    Each bound is checked under its flag's name, then the endpoint is resolved from the
    flags, the endpoint file and the environment.
    """
    bound_flags = {
        "--max-steps": ("max_steps", flags["max_steps"]),
        "--model-timeout": ("timeout", flags["model_timeout"]),
        "--max-retries": ("max_retries", flags["max_retries"]),
        "--retry-max-time": ("retry_max_time", flags["retry_max_time"]),
        "--max-response-bytes": ("max_response_bytes", flags["max_response_bytes"]),
        "--rollout-timeout": ("rollout_timeout", flags["rollout_timeout"]),
        "--server-timeout": ("server_timeout", flags["server_timeout"]),
    }
    for flag, (name, value) in bound_flags.items():
        if value is not None:
            check_bound(name, value, flag)
    given = {name: value for name, value in bound_flags.values() if name in _MODEL_LIMITS}
    limits = {k: v for k, v in given.items() if v is not None}
    endpoint = endpoint_from_settings(
        base_urls=flags["base_url"],
        api_key=flags["api_key"],
        model=flags["model"],
        api=flags["api"],
        config_file=flags["endpoint_config"],
        **limits,
    )
    return ModelSettings(
        endpoint=endpoint,
        sampling=Sampling(flags["temperature"], flags["top_p"], flags["max_output_tokens"], flags["seed"]),
        bounds=Bounds(
            max_steps=flags["max_steps"],
            rollout_timeout=flags["rollout_timeout"],
            server_timeout=flags["server_timeout"],
        ),
        model_limits=limits,
    )


# EndpointConfig fields among the bounds: they apply to the embedded model too (collect_rollouts).
_MODEL_LIMITS = ("timeout", "max_retries", "retry_max_time", "max_response_bytes")


def long_run_notice(smaller: str) -> LongRunNotice:
    """A yellow line on stderr when the run is long; ``smaller`` names the command's flags that shorten it."""
    return LongRunNotice(lambda line: typer.secho(line, fg="yellow", err=True), f"fewer with {smaller}")
