"""Each input a check reads, parsed once per server and cached; ``None`` when absent.

Checks never parse files themselves: they read these properties, so ten README checks
cost one read of README.md, and an unreadable file becomes one finding, not ten crashes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from gymkit.artifacts import RewardProfile, TrainingReport, read_optional
from gymkit.contribution.readme import Readme
from gymkit.errors import GymkitError, InvalidDataError
from gymkit.findings import read_waivers
from gymkit.inputs import iter_json_rows, read_text
from gymkit.nemo.detect import GymKind, ServerKind, gym_kind, is_gymnasium_server, server_kind
from gymkit.project import ServerPaths
from gymkit.runtime.config import ServerConfigFile, find_config, load_config

if TYPE_CHECKING:
    from gymkit.audit import AuditResult
    from gymkit.nemo.programs import ProgramWatch
    from gymkit.nemo.services import ServiceWatch
    from gymkit.reverify import ReverifyReport
    from gymkit.validation import DataProblem

__all__ = ["GYMNASIUM_SKIP", "JUDGE_SKIP", "CheckOptions", "Fixtures"]

# Why the checks that call /verify skip such a server: its episodes are played by upstream's gymnasium_agent,
# and the reward is what /step returns, so a stored rollout cannot be sent to /verify again.
GYMNASIUM_SKIP = (
    "a GymnasiumServer serves /reset and /step, not {what}: upstream's gymnasium_agent plays its episodes"
    " and /step gives the reward (its verify raises NotImplementedError)"
)

# Why they skip, rather than fail, a server whose verify may ask a model server (an LLM judge) when
# something differs: gymkit starts the server alone, as one server needs, without the judge.
JUDGE_SKIP = (
    "the config names the model server {models} for verify to call (a judge); a server started alone"
    " has none, so what {what} found may be the judge's absence: it needs the gym's model servers"
    " (ng_run with the judge, then upstream's reverify)"
)

T = TypeVar("T")


@dataclass(frozen=True)
class CheckOptions:
    """Knobs for the checks that run something: the server's tests and its verify."""

    reverify: bool = True
    verify_timeout: float = 30.0
    startup_timeout: float = 60.0
    collect_timeout: float = 120.0
    # Run `gymkit test` first when its recorded result is missing or stale (GYM303).
    run_tests: bool = False


class Fixtures:
    def __init__(self, paths: ServerPaths, options: CheckOptions | None = None) -> None:
        self.paths = paths
        self.options = options or CheckOptions()
        self._memo: dict[str, object] = {}
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._program_watches: list[ProgramWatch] = []

    # -- which gym, which runtime --------------------------------------------------------
    @cached_property
    def gym(self) -> GymKind:
        """ "nemo-gym" in a NeMo Gym checkout (its contribution rules apply), else "gymkit"."""
        return gym_kind(self.paths.root)

    @cached_property
    def server_kind(self) -> ServerKind | None:
        """ "nemo_gym" when app.py imports nemo_gym, "gymkit" when it imports gymkit."""
        return server_kind(self.paths.dir)

    @cached_property
    def gymnasium(self) -> bool:
        """The server derives from NeMo Gym's GymnasiumServer: it serves /reset and /step, not /verify."""
        return is_gymnasium_server(self.paths.dir)

    @cached_property
    def judge_models(self) -> str | None:
        """The model servers an upstream server's config names for it to call, as one phrase; None if none."""
        if self.server_kind != "nemo_gym":
            return None
        from gymkit.nemo.config import model_server_refs, server_entry

        try:
            entry = server_entry(self.paths.dir)
        except GymkitError:
            return None  # GYM20x reports the config
        where = entry.source.name if entry.source else "its config"
        refs = [f"{name!r} ({where}: {field})" for field, name in model_server_refs(entry)]
        return ", ".join(refs) or None

    @cached_property
    def service_watch(self) -> ServiceWatch | None:
        """In a NeMo Gym checkout, a watch on the loopback services the server names that are absent here."""
        if self.gym != "nemo-gym":
            return None
        from gymkit.nemo.services import ServiceWatch, absent_services

        return ServiceWatch(absent_services(self.paths.dir, self.paths.root))

    @property
    def absent_services(self) -> list[str]:
        """The absent services the server tried to reach while a check ran it: what explains its failures."""
        watch = self.service_watch
        return [str(s) for s in watch.services if s in watch.reached] if watch else []

    def _watched(self) -> list[ProgramWatch]:
        with self._lock:
            return list(self._program_watches)

    @property
    def unschedulable(self) -> list[str]:
        """Resource sets the server's own Ray could not place while a check ran it (a GPU node's, say)."""
        return list(dict.fromkeys(r for watch in self._watched() for r in watch.unschedulable))

    @property
    def missing_programs(self) -> list[str]:
        """The programs the server's own code names that it tried to start while a check ran it, and that
        this machine does not have."""
        from gymkit.nemo.programs import named_in_code

        tried = list(dict.fromkeys(name for watch in self._watched() for name in watch.missing))
        return named_in_code(self.paths.dir, tried) if tried else []

    # -- configs/ -------------------------------------------------------------------------
    @cached_property
    def config_path(self) -> Path | None:
        try:
            return find_config(self.paths.dir)
        except GymkitError:
            return None

    @cached_property
    def _config(self) -> tuple[ServerConfigFile | None, GymkitError | None]:
        if self.config_path is None:
            return None, None
        try:
            return load_config(self.config_path, root_dir=self.paths.root), None
        except GymkitError as exc:
            return None, exc

    @property
    def config(self) -> ServerConfigFile | None:
        return self._config[0]

    @property
    def config_error(self) -> GymkitError | None:
        """Why the config does not load; an ``InvalidServerConfigError`` says where as fields."""
        return self._config[1]

    @cached_property
    def _waivers(self) -> tuple[dict[str, Any], str | None]:
        return read_waivers(self.config)

    @property
    def waivers(self) -> dict[str, Any]:
        """``gymkit: {waive: {CODE: reason}}`` in the resources-server block."""
        return self._waivers[0]

    @property
    def waiver_error(self) -> str | None:
        return self._waivers[1]

    # -- data/ ----------------------------------------------------------------------------
    @cached_property
    def example_problems(self) -> list[DataProblem] | None:
        from gymkit.validation import example_problems

        if not _present(self.paths.example):
            return None
        return example_problems(self.paths.example, root=self.paths.root)

    @cached_property
    def example_rows(self) -> list[tuple[int, dict[str, Any]]] | None:
        return _rows(self.paths.example, self.paths.root)

    @cached_property
    def rollout_problems(self) -> list[DataProblem] | None:
        from gymkit.validation import rollout_problems

        if not _present(self.paths.example_rollouts):
            return None
        examples = self.example_rows
        # Upstream's example rollouts index the dataset they were collected from, not data/example.jsonl.
        num_tasks = len(examples) if examples is not None and self.gym == "gymkit" else None
        return rollout_problems(self.paths.example_rollouts, num_tasks=num_tasks, root=self.paths.root)

    @cached_property
    def rollout_rows(self) -> list[tuple[int, dict[str, Any]]] | None:
        return _rows(self.paths.example_rollouts, self.paths.root)

    # -- README.md ------------------------------------------------------------------------
    @cached_property
    def readme(self) -> Readme | None:
        try:
            return Readme.parse(read_text(self.paths.readme, root=self.paths.root))
        except InvalidDataError:
            return None

    # -- reports/ -------------------------------------------------------------------------
    @cached_property
    def reward_profile(self) -> RewardProfile | str | None:
        """The profile, a string saying why it cannot be used, or None when absent."""
        return read_optional(self.paths.reward_profile / "reward_profile.json", RewardProfile, root=self.paths.root)

    @cached_property
    def training(self) -> TrainingReport | str | None:
        return read_optional(self.paths.training / "training.json", TrainingReport, root=self.paths.root)

    def resolve(self, path: str) -> Path:
        """A path recorded in a report: absolute, or relative to the server or the repository."""
        candidate = Path(path)
        if candidate.is_absolute():
            return candidate
        for base in (self.paths.dir, *self.paths.dir.parents[:3], Path.cwd()):
            if (base / candidate).exists():
                return base / candidate
        return self.paths.dir / candidate

    def rel(self, path: Path) -> str:
        """A file of this server as the findings name it: relative to the server folder."""
        try:
            return path.relative_to(self.paths.dir).as_posix()
        except ValueError:
            return str(path)

    # -- running things -------------------------------------------------------------------
    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()`` once per server: a check's own expensive input, shared by its prefetch and check."""
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._memo:
                self._memo[key] = compute()
            return cast(T, self._memo[key])

    @contextmanager
    def server(self) -> Iterator[None]:
        """A scope in which the checks that start this server share one (an upstream server's Ray start is
        slow, and three at once on a small machine time out); a gymkit server is started per caller still.
        The absent services it names are watched from before it starts until after it stops, and the
        programs it starts that are not installed here are logged (gymkit.nemo.programs)."""
        from gymkit.launch import sharing

        with self._lock:
            watch = self.service_watch
        if watch is not None:
            watch.acquire()
        try:
            with sharing(self.paths.dir) as programs:
                with self._lock:
                    if programs not in self._program_watches:
                        self._program_watches.append(programs)
                yield
        finally:
            if watch is not None:
                watch.release()

    @cached_property
    def audit(self) -> AuditResult | GymkitError:
        """The audit's result, or the error that kept it from running (a check reports it, never raises)."""
        from gymkit.audit import AuditOptions, run_audit

        try:
            with self.server():
                return run_audit(self.paths, AuditOptions(target=self.paths.name, timeout=self.options.verify_timeout))
        except GymkitError as exc:
            return exc

    @cached_property
    def reverify(self) -> ReverifyReport:
        from gymkit.reverify import reverify_rollouts

        with self.server():
            return reverify_rollouts(
                self.paths,
                verify_timeout=self.options.verify_timeout,
                startup_timeout=self.options.startup_timeout,
            )


def _present(path: Path) -> bool:
    # A FIFO, a directory or a dangling symlink is there but not readable: the readers say why.
    return path.exists() or path.is_symlink()


def _rows(path: Path, root: Path) -> list[tuple[int, dict[str, Any]]] | None:
    """Rows that parse as JSON objects; None when the file is absent, unsafe or a line does not parse."""
    if not path.is_file():
        return None
    try:
        return list(iter_json_rows(path, root=root))
    except InvalidDataError:
        return None
