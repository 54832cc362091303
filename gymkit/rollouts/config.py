"""Where the model is and how to sample from it: flags, environment, or a small config file.

Precedence, highest first: explicit arguments (CLI flags), a config file, ``GYMKIT_*``
variables, then ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` / ``OPENAI_MODEL`` so an existing
OpenAI setup works unchanged. No base URL anywhere means "use the embedded model".
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import yaml

from gymkit.config import yaml_problem
from gymkit.errors import UserError

__all__ = ["EMBEDDED", "EndpointConfig", "Sampling", "endpoint_from_settings", "redact_url"]

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


@dataclass(frozen=True)
class EndpointConfig:
    """An OpenAI-compatible endpoint. ``base_urls`` end in ``/v1`` (``/v1`` is added if missing).

    Several base URLs spread the load: each rollout sticks to one, chosen from its id, the way
    upstream's vLLM model server pins sessions. ``force_first_tool_call`` makes the first turn
    of a task with tools a required tool call (used for the embedded model, which otherwise
    never calls one).
    """

    base_urls: tuple[str, ...]
    api_key: str | None = None
    model: str | None = None
    api: Api = "responses"
    timeout: float = 600.0
    max_retries: int = 5
    retry_backoff: float = 0.5  # seconds before the first retry; doubles each time
    force_first_tool_call: bool = False
    label: str | None = None

    def __post_init__(self) -> None:
        if not self.base_urls:
            raise UserError("an endpoint needs at least one base URL")
        if self.api not in ("responses", "chat"):
            raise UserError(f"unknown API {self.api!r}", hint="use --api responses or --api chat")
        urls = tuple(_normalise(url) for url in self.base_urls)
        object.__setattr__(self, "base_urls", urls)

    @property
    def display(self) -> str:
        """What rollouts record as ``_gymkit.endpoint``: a label or the first URL without credentials."""
        return self.label or ",".join(redact_url(url) for url in self.base_urls)

    def with_model(self, model: str) -> EndpointConfig:
        return replace(self, model=model)


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


# What each key of the config file must hold; bool is excluded (YAML reads "yes" as True).
_KEY_TYPES: dict[str, tuple[type, ...]] = {
    "base_url": (str,),
    "base_urls": (str, list),
    "api_key": (str,),
    "model": (str,),
    "api": (str,),
    "timeout": (int, float),
    "max_retries": (int,),
}
_TYPE_NAMES = {str: "a string", list: "a list of strings", int: "an integer", float: "a number"}


def _key_line(text: str, key: str) -> int | None:
    node = yaml.compose(text)
    for key_node, _ in getattr(node, "value", ()):
        if getattr(key_node, "value", None) == key:
            return int(key_node.start_mark.line) + 1
    return None


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise UserError(yaml_problem(path, exc)) from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping with base_url(s), api_key, model, api")
    unknown = sorted(set(data) - set(_KEY_TYPES), key=str)
    if unknown:
        raise UserError(f"{path}: unknown key {unknown[0]!r}", hint=f"known keys: {', '.join(sorted(_KEY_TYPES))}")
    for key, value in data.items():
        types = _KEY_TYPES[key]
        wrong = isinstance(value, bool) or not isinstance(value, types)
        if wrong or (isinstance(value, list) and not all(isinstance(item, str) for item in value)):
            expected = " or ".join(_TYPE_NAMES[t] for t in types)
            line = _key_line(text, key)
            where = f"{path}:{line}" if line else str(path)
            raise UserError(f"{where}: {key} must be {expected}, not {value!r}"[:300])
    return data


def endpoint_from_settings(
    *,
    base_urls: tuple[str, ...] | list[str] | None = None,
    api_key: str | None = None,
    model: str | None = None,
    api: str | None = None,
    config_file: Path | None = None,
    timeout: float | None = None,
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
    return EndpointConfig(
        base_urls=urls,
        api_key=api_key or file.get("api_key") or env.get("GYMKIT_API_KEY") or env.get("OPENAI_API_KEY") or None,
        model=model or file.get("model") or env.get("GYMKIT_MODEL") or env.get("OPENAI_MODEL") or None,
        api=chosen_api,  # type: ignore[arg-type]  # checked in __post_init__
        timeout=float(timeout or file.get("timeout") or 600.0),
        max_retries=int(file.get("max_retries", 5)),
    )
