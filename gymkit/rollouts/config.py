"""Where the model is and how to sample from it: flags, environment, or a small config file.

Precedence, highest first: explicit arguments (CLI flags), a config file, ``GYMKIT_*``
variables, then ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` / ``OPENAI_MODEL`` so an existing
OpenAI setup works unchanged. No base URL anywhere means "use the embedded model".
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gymkit.errors import UserError
from gymkit.runtime.config import _line_of as line_of
from gymkit.runtime.config import _parse as parse_yaml
from gymkit.runtime.config import yaml_problem

__all__ = [
    "EMBEDDED",
    "Bounds",
    "EndpointConfig",
    "Sampling",
    "check_bound",
    "endpoint_from_settings",
    "redact_url",
]

EMBEDDED = "embedded"
Api = Literal["responses", "chat"]


@dataclass(frozen=True)
class Sampling:
    """Sampling settings applied to every model call; None leaves the task's own value."""

    temperature: float | None = None
    top_p: float | None = None
    max_output_tokens: int | None = None
    seed: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# Defaults of the bounds on a run (docs/security.md, "Bounds on a run").
DEFAULT_MODEL_TIMEOUT = 120.0
EMBEDDED_MODEL_TIMEOUT = 600.0  # one CPU thread shared by every rollout in flight
DEFAULT_MAX_RETRIES = 5
DEFAULT_RETRY_BACKOFF = 0.5
DEFAULT_RETRY_MAX_TIME = 300.0
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_STEPS = 16
DEFAULT_ROLLOUT_TIMEOUT = 1800.0
DEFAULT_SERVER_TIMEOUT = 120.0

# (lowest, highest, integer) of each bounded number; the lowest is exclusive for floats.
_RANGES: dict[str, tuple[float, float, bool]] = {
    "timeout": (0.0, 86_400.0, False),
    "max_retries": (0, 100, True),
    "retry_backoff": (0.0, 3_600.0, False),
    "retry_max_time": (0.0, 86_400.0, False),
    "max_response_bytes": (1, 1024**3, True),
    "max_steps": (1, 100_000, True),
    "rollout_timeout": (0.0, 7 * 86_400.0, False),
    "server_timeout": (0.0, 86_400.0, False),
}


def check_bound(name: str, value: Any, label: str | None = None) -> None:
    """Refuse a bound that is not a finite number in its range (NaN compares false to everything)."""
    low, high, integer = _RANGES[name]
    kind = int if integer else (int, float)
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if ok and integer:
        ok = low <= value <= high
    elif ok:
        ok = math.isfinite(value) and low < value <= high
    if not ok:
        span = f"an integer from {low} to {high}" if integer else f"a number above {low:g} and at most {high:g}"
        raise UserError(f"{label or name} must be {span}, not {value!r}")


@dataclass(frozen=True)
class Bounds:
    """What one rollout may use up. ``max_steps`` None = the server config's, else DEFAULT_MAX_STEPS."""

    max_steps: int | None = None
    rollout_timeout: float = DEFAULT_ROLLOUT_TIMEOUT  # seconds for the whole rollout, verify included
    server_timeout: float = DEFAULT_SERVER_TIMEOUT  # seconds for each seed_session, tool call and verify

    def __post_init__(self) -> None:
        for name in ("max_steps", "rollout_timeout", "server_timeout"):
            value = getattr(self, name)
            if value is not None:
                check_bound(name, value)


@dataclass(frozen=True)
class EndpointConfig:
    """An OpenAI-compatible endpoint. ``base_urls`` end in ``/v1`` (``/v1`` is added if missing).

    Several base URLs spread the load: each rollout sticks to one, chosen from its id, the way
    upstream's vLLM model server pins sessions. ``force_first_tool_call`` makes the first turn
    of a task with tools a required tool call (used for the embedded model, which otherwise
    never calls one). ``timeout`` bounds each attempt of a model call, ``retry_max_time`` all
    attempts of one call together, ``max_response_bytes`` what is read of one answer.
    """

    base_urls: tuple[str, ...]
    api_key: str | None = None
    model: str | None = None
    api: Api = "responses"
    timeout: float = DEFAULT_MODEL_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    retry_backoff: float = DEFAULT_RETRY_BACKOFF  # the first retry waits up to this long; doubles each time
    retry_max_time: float = DEFAULT_RETRY_MAX_TIME
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    force_first_tool_call: bool = False
    label: str | None = None

    def __post_init__(self) -> None:
        if not self.base_urls:
            raise UserError("an endpoint needs at least one base URL")
        if self.api not in ("responses", "chat"):
            raise UserError(f"unknown API {self.api!r}", hint="use --api responses or --api chat")
        for name in ("timeout", "max_retries", "retry_backoff", "retry_max_time", "max_response_bytes"):
            check_bound(name, getattr(self, name))
        urls = tuple(_normalise(url) for url in self.base_urls)
        object.__setattr__(self, "base_urls", urls)

    @property
    def display(self) -> str:
        """What rollouts record as ``_gymkit.endpoint``: a label or the first URL without credentials."""
        return self.label or ",".join(redact_url(url) for url in self.base_urls)


def _normalise(url: str) -> str:
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UserError(f"not an http(s) base URL: {url!r}", hint="for example --base-url http://127.0.0.1:8000/v1")
    if not parts.path.endswith("/v1") and "/v1/" not in parts.path + "/":
        url = url + "/v1"
    return url


def redact_url(url: str) -> str:
    """``url`` without user:password and without a query string (which may hold a key)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _split_urls(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(str(item).strip() for item in items if str(item).strip())


_Seconds = Annotated[float, Field(gt=0, le=86_400, allow_inf_nan=False)]


class _EndpointFile(BaseModel):
    """The keys an endpoint config file may hold. Strict: YAML reads ``yes`` as True and ``1e3`` as a string."""

    model_config = ConfigDict(extra="forbid", strict=True)

    base_url: str | None = None
    base_urls: str | list[str] | None = None
    api_key: str | None = None
    model: str | None = None
    api: Literal["responses", "chat"] | None = None
    timeout: _Seconds | None = None
    max_retries: Annotated[int, Field(ge=0, le=100)] | None = None
    retry_backoff: Annotated[float, Field(gt=0, le=3_600, allow_inf_nan=False)] | None = None
    retry_max_time: _Seconds | None = None
    max_response_bytes: Annotated[int, Field(ge=1, le=1024**3)] | None = None


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        # The server-config parser refuses duplicate keys (PyYAML would keep the last silently).
        root, data = parse_yaml(text)
    except yaml.YAMLError as exc:
        raise UserError(yaml_problem(path, exc)) from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping with base_url(s), api_key, model, api")
    try:
        parsed = _EndpointFile.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(part for part in error["loc"] if isinstance(part, str))[:1]
        line = line_of(root, loc)
        where = f"{path}:{line}" if line else str(path)
        field = loc[0] if loc else "?"
        if error["type"] == "extra_forbidden":
            known = ", ".join(_EndpointFile.model_fields)
            raise UserError(f"{where}: unknown key {field!r}", hint=f"known keys: {known}") from None
        shown = repr(error.get("input"))[:80]
        raise UserError(f"{where}: {field}: {error['msg']} (got {shown})") from None
    return parsed.model_dump(exclude_none=True)


def endpoint_from_settings(
    *,
    base_urls: tuple[str, ...] | list[str] | None = None,
    api_key: str | None = None,
    model: str | None = None,
    api: str | None = None,
    config_file: Path | None = None,
    timeout: float | None = None,
    max_retries: int | None = None,
    retry_max_time: float | None = None,
    max_response_bytes: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> EndpointConfig | None:
    """The endpoint described by flags, a config file and the environment; None = embedded model."""
    env = os.environ if environ is None else environ
    file = _read_config_file(config_file) if config_file else {}
    urls = (
        _split_urls(list(base_urls) if base_urls else None)
        or _split_urls(file.get("base_urls") or file.get("base_url"))
        or _split_urls(env.get("GYMKIT_BASE_URLS") or env.get("GYMKIT_BASE_URL"))
        or _split_urls(env.get("OPENAI_BASE_URL"))
    )
    if not urls:
        return None
    chosen_api = api or file.get("api") or env.get("GYMKIT_API") or "responses"

    def pick(flag: Any, key: str, default: Any) -> Any:
        return flag if flag is not None else file.get(key, default)

    return EndpointConfig(
        base_urls=urls,
        api_key=api_key or file.get("api_key") or env.get("GYMKIT_API_KEY") or env.get("OPENAI_API_KEY") or None,
        model=model or file.get("model") or env.get("GYMKIT_MODEL") or env.get("OPENAI_MODEL") or None,
        api=chosen_api,  # type: ignore[arg-type]  # checked in __post_init__
        timeout=float(pick(timeout, "timeout", DEFAULT_MODEL_TIMEOUT)),
        max_retries=pick(max_retries, "max_retries", DEFAULT_MAX_RETRIES),
        retry_backoff=float(file.get("retry_backoff", DEFAULT_RETRY_BACKOFF)),
        retry_max_time=float(pick(retry_max_time, "retry_max_time", DEFAULT_RETRY_MAX_TIME)),
        max_response_bytes=pick(max_response_bytes, "max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES),
    )
