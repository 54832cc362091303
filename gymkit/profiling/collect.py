"""Collection mode: pick a seeded subset of a server's prompts, collect samples, profile them.

The collection's files live in ``<report folder>/collection/`` (ignored by git: rollouts of
thousands of samples do not belong in a pull request). Their names carry a hash of every
setting that decides the rollouts, so re-running the same command resumes the same
collection, and changing the seed, dataset or model starts a new one.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from gymkit.errors import UserError
from gymkit.hashing import file_sha256, server_code_sha256
from gymkit.jsonl import atomic_write_jsonl, atomic_write_text, iter_rows
from gymkit.profiling.report import Profile, profile_files, shown_path
from gymkit.project import ServerPaths
from gymkit.rollouts.config import Bounds, EndpointConfig, Sampling

if TYPE_CHECKING:
    from gymkit.rollouts import CollectionSummary
    from gymkit.rollouts.estimate import LongRunNotice

__all__ = ["Collection", "collect_and_profile", "default_dataset", "plan_collection", "select_prompts"]


def default_dataset(paths: ServerPaths) -> Path:
    """``train.jsonl``, else ``validation.jsonl``, else ``example.jsonl``."""
    for candidate in (paths.data / "train.jsonl", paths.data / "validation.jsonl", paths.example):
        if candidate.is_file():
            return candidate
    raise UserError(
        f"{paths.data}: no train.jsonl, validation.jsonl or example.jsonl to profile", hint="pass --dataset"
    )


def select_prompts(dataset: Path, num_prompts: int, seed: int) -> list[int]:
    """Line-order positions of a seeded random subset of the dataset's rows (all when fewer)."""
    total = sum(1 for _ in iter_rows(dataset))
    if total == 0:
        raise UserError(f"{dataset}: no rows to profile")
    if total <= num_prompts:
        return list(range(total))
    return sorted(random.Random(seed).sample(range(total), num_prompts))


@dataclass(frozen=True)
class Collection:
    """The files of one collection and what the report records about it."""

    inputs: Path
    rollouts: Path
    settings: dict[str, Any]


def plan_collection(
    dataset: Path,
    folder: Path,
    *,
    num_prompts: int,
    samples: int,
    seed: int,
    endpoint: dict[str, Any],
    server_code: str | None = None,
) -> Collection:
    """Write the subset as an inputs file and name the rollouts file for these settings.

    ``server_code`` is the server's code hash: rewards scored by other code are not resumed.
    """
    chosen = select_prompts(dataset, num_prompts, seed)
    settings: dict[str, Any] = {
        "server_code_sha256": server_code,
        "dataset_sha256": file_sha256(dataset),
        "seed": seed,
        "num_prompts_requested": num_prompts,
        "num_prompts_selected": len(chosen),
        "samples": samples,
        "endpoint": endpoint,
    }
    tag = hashlib.sha256(orjson.dumps(settings, option=orjson.OPT_SORT_KEYS)).hexdigest()[:10]
    work = folder / "collection"
    work.mkdir(parents=True, exist_ok=True)
    atomic_write_text(work / ".gitignore", "# sampled rollouts are large and reproducible; keep them out of git\n*\n")
    inputs = work / f"inputs_{tag}.jsonl"
    wanted = set(chosen)
    atomic_write_jsonl(inputs, (row for position, (_, row) in enumerate(iter_rows(dataset)) if position in wanted))
    settings["dataset_rows"] = chosen if len(chosen) <= 2000 else None
    return Collection(inputs, work / f"rollouts_{tag}.jsonl", settings)


def collect_and_profile(
    paths: ServerPaths,
    folder: Path,
    *,
    dataset: Path,
    num_prompts: int,
    samples: int,
    seed: int,
    threshold: float,
    endpoint: EndpointConfig | None,
    sampling: Sampling,
    concurrency: int | None = None,
    bounds: Bounds | None = None,
    model_limits: dict[str, Any] | None = None,
    restart: bool = False,
    progress: bool = True,
    on_collected: Callable[[CollectionSummary], None] | None = None,
    notice: LongRunNotice | None = None,
) -> Profile:
    """Collect (or resume collecting) ``samples`` rollouts of each selected prompt, then profile them."""
    from gymkit.rollouts import collect_rollouts

    who = {"endpoint": endpoint.display if endpoint else "embedded", "model": endpoint.model if endpoint else None}
    plan = plan_collection(
        dataset,
        folder,
        num_prompts=num_prompts,
        samples=samples,
        seed=seed,
        endpoint=who | sampling.as_dict(),
        server_code=server_code_sha256(paths.dir),
    )
    summary = collect_rollouts(
        paths.dir,
        plan.inputs,
        plan.rollouts,
        repeats=samples,
        concurrency=concurrency,
        resume=plan.rollouts.exists() and not restart,
        # --restart means start afresh: the collection folder is scratch space, not a committed file.
        force=restart,
        endpoint=endpoint,
        sampling=sampling,
        bounds=bounds,
        model_limits=model_limits,
        progress=progress,
        notice=notice,
    )
    if on_collected is not None:
        on_collected(summary)
    collection = plan.settings | {
        "inputs": shown_path(plan.inputs, paths.dir),
        "inputs_sha256": file_sha256(plan.inputs),
        "rollouts": shown_path(plan.rollouts, paths.dir),
        "planned": summary.planned,
        "rows": summary.rows,
        "complete": summary.complete,
    }
    return profile_files(
        [plan.rollouts], threshold=threshold, dataset=dataset, server_dir=paths.dir, extra={"collection": collection}
    )
