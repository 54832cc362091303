"""Loading ``configs/NAME.yaml``: NeMo Gym's three-level server config.

``<instance>: <server type>: <implementation>: {fields}``. A resources-server block needs
a ``domain`` from :class:`Domain`; train and validation datasets need a ``license`` from
:class:`DatasetLicense`. Errors name the file, the line and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gymkit.errors import InvalidDataError, InvalidServerConfigError
from gymkit.inputs import read_text, repo_root

__all__ = [
    "AgentConfig",
    "DatasetConfig",
    "DatasetLicense",
    "Domain",
    "ModelServerRef",
    "ResourcesServerConfig",
    "ResourcesServerRef",
    "ServerConfigFile",
    "ServerRef",
    "check_configs",
    "find_config",
    "load_config",
    "safe_yaml",
    "yaml_problem",
]


class Domain(StrEnum):
    """Upstream's Domain enum: prefer a specific domain over ``agent``; ``other`` is the catch-all."""

    MATH = "math"
    CODING = "coding"
    AGENT = "agent"
    KNOWLEDGE = "knowledge"
    INSTRUCTION_FOLLOWING = "instruction_following"
    LONG_CONTEXT = "long_context"
    SAFETY = "safety"
    GAMES = "games"
    TRANSLATION = "translation"
    E2E = "e2e"
    RLHF = "rlhf"
    OTHER = "other"


class DatasetLicense(StrEnum):
    """The dataset licence names upstream accepts, spelled exactly as upstream spells them."""

    APACHE_2_0 = "Apache 2.0"
    MIT = "MIT"
    CC_BY_4_0 = "Creative Commons Attribution 4.0 International"
    CC_BY_SA_4_0_LONG = "Creative Commons Attribution-ShareAlike 4.0 International"
    CC_BY_SA_4_0 = "CC BY-SA 4.0"
    CC_BY_NC_3_0 = "CC BY-NC 3.0"
    NVIDIA_INTERNAL = "NVIDIA Internal Use Only, Do Not Distribute"
    NVIDIA_EVAL = "NVIDIA Evaluation Dataset License Agreement"
    TBD = "TBD"
    GPL_3_0 = "GNU General Public License v3.0"


SERVER_TYPES = ("resources_servers", "responses_api_agents", "responses_api_models")


class ServerRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["resources_servers", "responses_api_agents", "responses_api_models"]
    name: str


class ResourcesServerRef(ServerRef):
    type: Literal["resources_servers"]


class ModelServerRef(ServerRef):
    type: Literal["responses_api_models"]


class DatasetConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    type: Literal["train", "validation", "example", "benchmark"]
    jsonl_fpath: str
    num_repeats: int = Field(default=1, ge=1)
    license: DatasetLicense | None = None
    source: dict[str, Any] | None = None
    gitlab_identifier: dict[str, Any] | None = None
    huggingface_identifier: dict[str, Any] | None = None
    prepare_script: str | None = None
    prompt_config: Any = None

    @model_validator(mode="after")
    def _license_for_training_data(self) -> DatasetConfig:
        if self.type in ("train", "validation") and self.license is None:
            raise ValueError(f"a license is required for the {self.type} dataset {self.name!r}")
        return self


class ResourcesServerConfig(BaseModel):
    """Fields of a resources-server block; unknown keys are the server's own settings."""

    model_config = ConfigDict(extra="allow")

    entrypoint: str = "app.py"
    domain: Domain
    verified: bool = False
    verified_url: str | None = None
    description: str | None = None
    value: str | None = None
    host: str | None = None
    port: int | None = None
    # NeMo Gym v0.5.0's switch: the tools are also MCP tools on POST /mcp (gymkit.runtime.mcp).
    expose_tools_over_mcp: bool = False


class AgentConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    entrypoint: str = "app.py"
    resources_server: ResourcesServerRef
    model_server: ModelServerRef
    max_steps: int | None = Field(default=None, ge=1)
    datasets: list[DatasetConfig] = Field(default_factory=list)


@dataclass(frozen=True)
class Instance:
    name: str
    server_type: str
    implementation: str
    fields: ResourcesServerConfig | AgentConfig | dict[str, Any]


@dataclass(frozen=True)
class ServerConfigFile:
    path: Path
    instances: tuple[Instance, ...]

    @property
    def resources_servers(self) -> list[Instance]:
        return [i for i in self.instances if i.server_type == "resources_servers"]

    @property
    def agents(self) -> list[Instance]:
        return [i for i in self.instances if i.server_type == "responses_api_agents"]

    @property
    def resources_server(self) -> ResourcesServerConfig:
        """The first resources-server block (a server's own config has exactly one)."""
        fields = self.resources_servers[0].fields
        assert isinstance(fields, ResourcesServerConfig)
        return fields

    def datasets(self) -> list[DatasetConfig]:
        return [d for agent in self.agents if isinstance(agent.fields, AgentConfig) for d in agent.fields.datasets]


# Real configs nest a handful of levels and expand to a few hundred nodes; these bounds only
# stop documents built to exhaust the parser (deep nesting) or memory (alias "billion laughs").
MAX_YAML_DEPTH = 64
MAX_YAML_NODES = 100_000
MAX_CONFIG_BYTES = 4 * 1024 * 1024


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses repeated keys, deep nesting and alias bombs.

    PyYAML keeps the last of two equal keys; OmegaConf, which loads configs upstream, refuses them.
    """

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        # PyYAML composes recursively; without a bound, 100,000 "[" end in RecursionError.
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                # types-PyYAML leaves Parser.peek_event unannotated (the C parser's returns Event | None).
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_YAML_DEPTH} levels", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"found duplicate key {key_node.value!r}", key_node.start_mark
                    )
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


def _expanded_size(root: yaml.Node) -> int | None:
    """Nodes the document has once every alias is expanded, or None when an alias refers to itself.

    Aliases share one node, so a small file can stand for 10**9 nodes; whoever walks the data
    (hashing, validation, JSON) pays for every one. Stops counting past MAX_YAML_NODES.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            open_nodes.discard(key)
            sizes[key] = min(MAX_YAML_NODES + 1, 1 + sum(sizes[id(c)] for c in children))
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            return None
        open_nodes.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in open_nodes:
                return None
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _parse(text: str) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (for line numbers) and its data, from one parse."""
    loader = _UniqueKeyLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None
        size = _expanded_size(root)
        if size is None:
            raise yaml.composer.ComposerError(None, None, "an alias refers to the node that holds it", root.start_mark)
        if size > MAX_YAML_NODES:
            problem = f"expands to more than {MAX_YAML_NODES} nodes through aliases (&anchor / *alias)"
            raise yaml.composer.ComposerError(None, None, problem, root.start_mark)
        return root, loader.construct_document(root)
    finally:
        loader.dispose()


def safe_yaml(path: Path, text: str) -> Any:
    """``text`` as YAML data under the limits above; :class:`InvalidServerConfigError` names the file otherwise."""
    try:
        return _parse(text)[1]
    except yaml.YAMLError as exc:
        raise InvalidServerConfigError(yaml_problem(path, exc)) from None


def yaml_problem(path: Path, exc: yaml.YAMLError) -> str:
    """``path:line: not valid YAML: what`` for a parse error, the line when the parser knows it."""
    mark = getattr(exc, "problem_mark", None)
    where = f"{path}:{mark.line + 1}" if mark else str(path)
    return f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}"


def _line_of(node: yaml.Node | None, path: tuple[Any, ...]) -> int | None:
    """1-based line of the YAML node at ``path`` (or its nearest existing parent)."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in path:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if getattr(k, "value", None) == str(key)), None)
            if match is None:
                return line
            key_node = next(k for k, v in node.value if v is match)
            node, line = match, key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _fail(path: Path, root: yaml.Node | None, where: tuple[Any, ...], problem: str) -> InvalidServerConfigError:
    line = _line_of(root, where)
    field = ".".join(str(p) for p in where)
    location = f"{path}:{line}" if line else str(path)
    hint = None
    if where and where[-1] == "domain":
        hint = "allowed domains: " + ", ".join(d.value for d in Domain)
    if where and where[-1] == "license":
        hint = "allowed licences: " + "; ".join(lic.value for lic in DatasetLicense)
    what = f"{field}: {problem}" if field else problem
    return InvalidServerConfigError(f"{location}: {what}", hint=hint, path=path, line=line, problem=what)


def _pydantic_problem(error: Mapping[str, Any]) -> tuple[tuple[Any, ...], str]:
    loc = tuple(p for p in error["loc"] if p != "__root__")
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "enum":
        message = f"{error['input']!r} is not allowed; expected {error['ctx']['expected']}"
    elif error["type"] == "missing":
        message = "required field is missing"
    elif error["type"] == "extra_forbidden":
        message = "unknown field (check the spelling)"
    return loc, message


def load_config(path: Path, *, root_dir: Path | None = None) -> ServerConfigFile:
    """Parse and validate one config file; raise :class:`InvalidServerConfigError` naming file, line and field.

    The file must stay inside ``root_dir`` (default: the gym repository holding it, else its
    server's folder), so a symlink cannot make gymkit read a file from elsewhere.
    """
    try:
        text = read_text(path, root=root_dir or repo_root(path) or path.parent.parent, limit=MAX_CONFIG_BYTES)
    except InvalidDataError as exc:
        raise InvalidServerConfigError(
            exc.message, hint=exc.hint, path=exc.path, line=exc.line, problem=exc.problem
        ) from None
    try:
        root, data = _parse(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, what = (mark.line + 1 if mark else None), f"not valid YAML: {getattr(exc, 'problem', None) or exc}"
        raise InvalidServerConfigError(yaml_problem(path, exc), path=path, line=line, problem=what) from None
    if not isinstance(data, dict) or not data:
        raise _fail(path, root, (), "expected a mapping of server instances (see configs/ of any reference server)")

    instances: list[Instance] = []
    for name, body in data.items():
        if not isinstance(body, dict) or len(body) != 1:
            raise _fail(path, root, (name,), f"expected exactly one server type key ({', '.join(SERVER_TYPES)})")
        ((server_type, impls),) = body.items()
        if server_type not in SERVER_TYPES:
            raise _fail(
                path, root, (name, server_type), f"unknown server type; expected one of {', '.join(SERVER_TYPES)}"
            )
        if not isinstance(impls, dict) or len(impls) != 1:
            raise _fail(path, root, (name, server_type), "expected exactly one implementation entry")
        ((impl, fields),) = impls.items()
        fields = fields or {}
        if not isinstance(fields, dict):
            raise _fail(path, root, (name, server_type, impl), "expected a mapping of fields")
        models: dict[str, type[ResourcesServerConfig | AgentConfig]] = {
            "resources_servers": ResourcesServerConfig,
            "responses_api_agents": AgentConfig,
        }
        model = models.get(server_type)
        parsed: ResourcesServerConfig | AgentConfig | dict[str, Any] = fields
        if model is not None:
            try:
                parsed = model.model_validate(fields)
            except ValidationError as exc:
                loc, problem = _pydantic_problem(exc.errors()[0])
                raise _fail(path, root, (name, server_type, impl, *loc), problem) from None
        instances.append(Instance(name, server_type, impl, parsed))

    types = {i.name: i.server_type for i in instances}
    for inst in instances:
        if isinstance(inst.fields, AgentConfig):
            ref = inst.fields.resources_server
            if types.get(ref.name) != "resources_servers":
                problem = (
                    "which this file does not define" if ref.name not in types else "which is not a resources server"
                )
                raise _fail(
                    path,
                    root,
                    (inst.name, inst.server_type, inst.implementation, "resources_server", "name"),
                    f"refers to {ref.name!r}, {problem}",
                )
    if not any(i.server_type == "resources_servers" for i in instances):
        raise _fail(path, root, (), "no resources_servers block; a resource server config needs one")
    return ServerConfigFile(path, tuple(instances))


def check_configs(server_dir: Path, root: Path) -> None:
    """Every YAML file under ``configs/`` reads safely; the code hash parses them all, not only the config.

    Raises :class:`InvalidServerConfigError` for the first that does not.
    """
    folder = server_dir / "configs"
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        if path.suffix in (".yaml", ".yml") and (path.is_file() or path.is_symlink()):
            try:
                text = read_text(path, root=root, limit=MAX_CONFIG_BYTES)
            except InvalidDataError as exc:
                raise InvalidServerConfigError(exc.message, hint=exc.hint) from None
            safe_yaml(path, text)


def find_config(server_dir: Path) -> Path:
    """The server's config: ``configs/<folder name>.yaml``, else the only YAML in ``configs/``."""
    configs = server_dir / "configs"
    preferred = configs / f"{server_dir.name}.yaml"
    if preferred.is_file():
        return preferred
    candidates = sorted(configs.glob("*.yaml")) if configs.is_dir() else []
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise InvalidServerConfigError(
            f"{configs}: no config found", hint=f"create configs/{server_dir.name}.yaml (see any reference server)"
        )
    raise InvalidServerConfigError(f"{configs}: several YAML files and none named {preferred.name}")
