"""The configuration NeMo Gym hands one resources server, composed for that server alone.

``ng_run`` merges the YAML files it is given (then ``env.yaml`` at the gym's root, then the
command line), fills in each server's host and port and a ``head_server`` entry, and starts
each server as ``python app.py`` from its folder with two environment variables: the whole
merged configuration as YAML in ``NEMO_GYM_CONFIG_DICT``, and the server's instance name in
``NEMO_GYM_CONFIG_PATH``. The server reads its own entry from there; interpolations such as
``${policy_base_url}`` are resolved in the server, against that same dictionary.

To start one resources server gymkit builds that dictionary itself: the server's entry from
its ``configs/*.yaml`` (agents and models in the same file are left out: they are not
started), the file's other top-level settings, ``env.yaml``, then the caller's overrides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gymkit.errors import UserError

__all__ = [
    "ConfigDoc",
    "ServerEntry",
    "merge",
    "model_server_refs",
    "read_configs",
    "server_entry",
    "single_server_config",
    "upstream_problems",
]

SERVER_TYPES = ("resources_servers", "responses_api_agents", "responses_api_models")


class ServerEntry:
    """One server instance as its config declares it: ``name: {server_type: {implementation: fields}}``."""

    def __init__(
        self,
        name: str,
        server_type: str,
        implementation: str,
        fields: dict[str, Any],
        extra: dict[str, Any],
        source: Path | None = None,
    ) -> None:
        self.name = name
        self.source = source  # the config file that declares it; None for NeMo Gym's defaults
        self.server_type = server_type
        self.implementation = implementation
        self.fields = fields
        self.extra = extra  # the file's top-level keys that are not server instances

    @property
    def entrypoint(self) -> str:
        return str(self.fields.get("entrypoint") or "app.py")


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep merge, ``override`` winning, as OmegaConf.merge does for plain mappings."""
    out = dict(base)
    for key, value in override.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _instance(value: Any) -> tuple[str, str, dict[str, Any]] | None:
    if not isinstance(value, dict) or len(value) != 1:
        return None
    server_type, inner = next(iter(value.items()))
    if server_type not in SERVER_TYPES or not isinstance(inner, dict) or len(inner) != 1:
        return None
    implementation, fields = next(iter(inner.items()))
    return server_type, str(implementation), fields if isinstance(fields, dict) else {}


def _load(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
    return data if isinstance(data, dict) else {}


def server_entry(server_dir: Path) -> ServerEntry:
    """The resources-server instance whose implementation is ``server_dir`` (first config file, by name)."""
    found: list[ServerEntry] = []
    for path in sorted((server_dir / "configs").glob("*.yaml")):
        data = _load(path)
        extra = {k: v for k, v in data.items() if _instance(v) is None}
        for name, value in data.items():
            shape = _instance(value)
            if shape and shape[0] == "resources_servers" and shape[1] == server_dir.name:
                found.append(ServerEntry(str(name), *shape, extra, source=path))
    if not found:
        # No config: what NeMo Gym's own defaults would give a server of that name.
        return ServerEntry(server_dir.name, "resources_servers", server_dir.name, {"entrypoint": "app.py"}, {})
    # The instance named like the folder, when several files declare one.
    return next((e for e in found if e.name == server_dir.name), found[0])


def model_server_refs(entry: ServerEntry) -> list[tuple[str, str]]:
    """(field, model server) for each model server the instance's fields name, e.g. a judge its verify calls.

    A reference is ``{type: responses_api_models, name: NAME}`` anywhere in the fields
    (``judge_model_server``, a list of them...); the server reaches it by name at run time.
    """
    found: list[tuple[str, str]] = []

    def walk(value: Any, where: str) -> None:
        if isinstance(value, dict):
            if value.get("type") == "responses_api_models" and isinstance(value.get("name"), str):
                found.append((where, value["name"]))
                return
            for key, inner in value.items():
                walk(inner, f"{where}.{key}" if where else str(key))
        elif isinstance(value, list):
            for index, inner in enumerate(value):
                walk(inner, f"{where}[{index}]")

    walk(entry.fields, "")
    return found


def single_server_config(
    entry: ServerEntry, *, host: str, port: int, head_port: int, root: Path, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The whole NEMO_GYM_CONFIG_DICT for ``entry`` listening on host:port."""
    env_yaml = root / "env.yaml"
    config: dict[str, Any] = merge(entry.extra, _load(env_yaml) if env_yaml.is_file() else {})
    fields = {**entry.fields, "host": host, "port": port}
    config[entry.name] = {entry.server_type: {entry.implementation: fields}}
    # Nothing listens there: a single server has no head server. A server that asks it for the
    # whole configuration then fails at once rather than reaching some other run's head server.
    config["head_server"] = {"host": host, "port": head_port}
    config.setdefault("dry_run", False)
    return merge(config, overrides or {})


# --- every config file of a server, read as NeMo Gym reads it -------------------------------


class ConfigDoc:
    """One YAML file under a server's ``configs/``: its top-level mapping, or why it does not read."""

    def __init__(self, path: Path, data: dict[str, Any] | None, error: str | None) -> None:
        self.path = path
        self.data = data or {}
        self.error = error

    def instances(self) -> list[ServerEntry]:
        """The server instances the file declares; other keys (``${...}`` settings, defaults) are left out."""
        extra = {k: v for k, v in self.data.items() if _instance(v) is None}
        return [ServerEntry(str(name), *shape, extra) for name, v in self.data.items() if (shape := _instance(v))]

    def datasets(self) -> list[dict[str, Any]]:
        """The ``datasets:`` entries of the file's agents, as written."""
        found = []
        for entry in self.instances():
            if entry.server_type == "responses_api_agents":
                found += [d for d in entry.fields.get("datasets") or [] if isinstance(d, dict)]
        return found


def read_configs(server_dir: Path, root: Path) -> list[ConfigDoc]:
    """Every ``*.yaml``/``*.yml`` under ``configs/``, by path: upstream servers keep one per variant."""
    from gymkit.errors import GymkitError
    from gymkit.inputs import read_text
    from gymkit.runtime.config import MAX_CONFIG_BYTES, safe_yaml

    folder = server_dir / "configs"
    paths = sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml")) if folder.is_dir() else []
    docs = []
    for path in paths:
        try:
            data = safe_yaml(path, read_text(path, root=root, limit=MAX_CONFIG_BYTES))
        except GymkitError as exc:
            docs.append(ConfigDoc(path, None, exc.message))
            continue
        docs.append(ConfigDoc(path, data if isinstance(data, dict) else None, None))
    return docs


def upstream_problems(docs: list[ConfigDoc]) -> list[tuple[Path, str]]:
    """(file, message) for what NeMo Gym refuses in a server's config files.

    Model-only files, ``${...}`` values and agents without a model server are upstream's own
    shapes: only an unreadable file, a resources server without a known ``domain`` and a train or
    validation dataset without a licence from upstream's list are problems.
    """
    from gymkit.runtime.config import DatasetLicense, Domain

    domains = [d.value for d in Domain]
    licences = {lic.value for lic in DatasetLicense}
    problems = []
    for doc in docs:
        if doc.error:
            problems.append((doc.path, doc.error))
            continue
        for entry in doc.instances():
            if entry.server_type != "resources_servers":
                continue
            domain = entry.fields.get("domain")
            if domain is None:
                problems.append((doc.path, f"{entry.name}: no `domain` (NeMo Gym requires one)"))
            elif str(domain) not in domains:
                problems.append((doc.path, f"{entry.name}: unknown domain {domain!r}; one of {', '.join(domains)}"))
        for dataset in doc.datasets():
            name, licence = dataset.get("name"), dataset.get("license")
            if dataset.get("type") in ("train", "validation") and licence is None:
                problems.append((doc.path, f"dataset {name!r} has no `license`"))
            elif licence is not None and str(licence) not in licences:
                problems.append((doc.path, f"dataset {name!r}: unknown license {licence!r}"))
    return problems
