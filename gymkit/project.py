"""Where things are: the repository root, the server folders, and loading a server's app.py."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from gymkit.errors import ServerLoadError, ServerNotFoundError
from gymkit.inputs import repo_root
from gymkit.rules import MAX_SERVER_NAME, SERVER_NAME_SHAPE
from gymkit.runtime.config import ServerConfigFile, find_config, load_config

if TYPE_CHECKING:
    from gymkit.runtime.server import BaseResourcesServer

__all__ = [
    "MAX_SERVER_NAME",
    "SERVERS_DIR",
    "SERVER_NAME_SHAPE",
    "ServerPaths",
    "find_repo_root",
    "list_servers",
    "load_server",
    "resolve_server",
]

SERVERS_DIR = "resources_servers"


@dataclass(frozen=True)
class ServerPaths:
    """The files of one resource server, by role; none of them need exist."""

    dir: Path

    @property
    def name(self) -> str:
        return self.dir.name

    @property
    def root(self) -> Path:
        """What the server's files may not lead out of: its gym repository, else its own folder."""
        return repo_root(self.dir) or self.dir

    @property
    def app(self) -> Path:
        return self.dir / "app.py"

    @property
    def configs(self) -> Path:
        return self.dir / "configs"

    @property
    def data(self) -> Path:
        return self.dir / "data"

    @property
    def example(self) -> Path:
        return self.data / "example.jsonl"

    @property
    def example_rollouts(self) -> Path:
        return self.data / "example_rollouts.jsonl"

    @property
    def readme(self) -> Path:
        return self.dir / "README.md"

    @property
    def requirements(self) -> Path:
        return self.dir / "requirements.txt"

    @property
    def reports(self) -> Path:
        return self.dir / "reports"

    @property
    def reward_profile(self) -> Path:
        return self.reports / "reward_profile"

    @property
    def training(self) -> Path:
        return self.reports / "training"

    def config_path(self) -> Path:
        return find_config(self.dir)

    def config(self) -> ServerConfigFile:
        return load_config(self.config_path(), root_dir=self.root)


def find_repo_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` that has a ``resources_servers/`` folder."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / SERVERS_DIR).is_dir():
            return folder
    raise ServerNotFoundError(
        f"no {SERVERS_DIR}/ folder in {here} or above",
        hint="run gymkit from your gym repository, or pass the server's folder as a path",
    )


def resolve_server(name_or_path: str | Path, root: Path | None = None) -> ServerPaths:
    """A server by folder name (under ``resources_servers/``) or by path."""
    text = str(name_or_path)
    candidate = Path(text)
    if "/" in text or text in (".", "..") or (candidate.is_dir() and (candidate / "app.py").exists()):
        folder = candidate.resolve()
    else:
        folder = (root or find_repo_root()) / SERVERS_DIR / text
    if not folder.is_dir():
        known = ", ".join(p.name for p in list_servers(root)) if root or _has_root() else ""
        raise ServerNotFoundError(
            f"no resource server at {folder}",
            hint=f"known servers: {known}" if known else "create one with: gymkit new NAME",
        )
    return ServerPaths(folder)


def _has_root() -> bool:
    try:
        find_repo_root()
    except ServerNotFoundError:
        return False
    return True


def list_servers(root: Path | None = None) -> list[ServerPaths]:
    base = (root or find_repo_root()) / SERVERS_DIR
    if not base.is_dir():
        return []
    return [ServerPaths(p) for p in sorted(base.iterdir()) if p.is_dir() and (p / "app.py").is_file()]


def _import_app(paths: ServerPaths) -> ModuleType:
    if not paths.app.is_file():
        raise ServerLoadError(f"{paths.app}: no app.py", hint="a resource server needs app.py with a server instance")
    # The server's own folder goes first on sys.path so `from app import X` in its
    # tests and sibling modules of app.py import as they do under pytest.
    folder = str(paths.dir)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module_name = f"gymkit_server_{paths.name}"
    spec = importlib.util.spec_from_file_location(module_name, paths.app)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[module_name]
        raise ServerLoadError(f"{exc.filename}:{exc.lineno}: syntax error: {exc.msg}") from None
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any import-time failure is the contributor's to fix
        del sys.modules[module_name]
        problem = f"importing app.py failed: {type(exc).__name__}: {exc}"
        raise ServerLoadError(f"{_where(exc, paths.app)}: {problem}") from None
    return module


def _where(exc: BaseException, path: Path) -> str:
    """``path:line`` of the innermost frame of ``exc`` in ``path``, or just ``path``."""
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename) == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    return f"{path}:{line}" if line else str(path)


def load_server(paths: ServerPaths, *, with_config: bool = True) -> BaseResourcesServer:
    """Import app.py and return its server, configured from ``configs/``.

    The config is validated before app.py runs, so a bad ``domain`` is reported as such
    rather than as whatever the import does next.
    """
    from gymkit.runtime.server import BaseResourcesServer  # FastAPI: only commands that load a server pay for it

    config = paths.config() if with_config else None
    module = _import_app(paths)
    server = getattr(module, "server", None)
    if not isinstance(server, BaseResourcesServer):
        classes = [
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj)
            and issubclass(obj, BaseResourcesServer)
            and obj is not BaseResourcesServer
            and obj.__module__ == module.__name__
        ]
        if len(classes) != 1:
            raise ServerLoadError(
                f"{paths.app}: no module-level `server` instance",
                hint="end app.py with: server = MyResourcesServer()",
            )
        try:
            server = classes[0]()
        except Exception as exc:  # noqa: BLE001 - the contributor's constructor, theirs to fix
            raise ServerLoadError(
                f"{_where(exc, paths.app)}: {classes[0].__name__}() failed: {type(exc).__name__}: {exc}",
                hint="end app.py with: server = MyResourcesServer(...) to pass it arguments",
            ) from None
    if config is not None:
        instance = config.resources_servers[0]
        server.config = config.resources_server
        server.name = instance.name
        server._app = None  # the cookie key depends on the name
    return server
