"""What the environment card says about a server, gathered from its files and the checklist.

Everything is read the way the checklist reads it, and nothing here fails on a half-finished
server: a missing report becomes a sentence on the card, not an exception.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gymkit.artifacts import Artifact, RewardProfile, TrainingReport, read_optional
from gymkit.checks import STEPS, CheckOptions, all_checks, run_checks
from gymkit.contribution.readme import Readme
from gymkit.errors import GymkitError
from gymkit.inputs import iter_json_rows, read_bytes, read_text
from gymkit.profiling.output import PROFILE_JSON
from gymkit.profiling.training import TRAINING_JSON
from gymkit.project import ServerPaths
from gymkit.runtime.config import load_config

__all__ = ["Card", "gather_card"]

EXAMPLES = 4
MAX_IMAGE_BYTES = 4_000_000


@dataclass
class Card:
    name: str
    summary: str = ""
    description: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    licensing: dict[str, str] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)
    profile: dict[str, Any] | str | None = None
    profile_images: dict[str, str] = field(default_factory=dict)  # file name -> data: URI
    audit: dict[str, Any] | str = "not run (gymkit report NAME --html PATH --audit runs it; it starts the server)"
    training: dict[str, Any] | str | None = None
    training_images: dict[str, str] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)


def _readme(card: Card, paths: ServerPaths) -> None:
    if not paths.readme.is_file():
        card.summary = "No README.md."
        return
    readme = Readme.parse(read_text(paths.readme, root=paths.root))
    # The line under the title is the one-sentence summary the template asks for.
    intro = [line.strip() for line in readme.lines[1:] if line.strip()]
    card.summary = intro[0] if intro and not intro[0].startswith("#") else ""
    section = readme.section("Description")
    card.description = section.text if section else ""
    card.licensing = {key: value for key, (_, value) in readme.licensing().items()}


def _config(card: Card, paths: ServerPaths) -> None:
    try:
        config = load_config(paths.config_path(), root_dir=paths.root)
    except GymkitError as exc:
        card.config = {"error": exc.message}
        return
    server = config.resources_server
    card.config = {
        "domain": server.domain.value,
        "description": getattr(server, "description", None) or "",
        "datasets": [
            {"name": d.name, "type": d.type, "path": d.jsonl_fpath, "license": d.license.value if d.license else None}
            for d in config.datasets()
        ],
    }


def _steps(card: Card, paths: ServerPaths, reverify: bool) -> None:
    all_checks()
    report = run_checks(paths.dir, options=CheckOptions(reverify=reverify))
    for step, title in STEPS.items():
        findings = [f for f in report.findings if f.step == step]
        card.steps.append({
            "step": step, "title": title, "status": report.step_status(step),
            "findings": [{"code": f.code, "status": f.status, "title": f.title, "message": f.message,
                          "waived": f.waived} for f in findings],
        })  # fmt: skip


def _report(path: Path, model: type[Artifact], root: Path) -> dict[str, Any] | str | None:
    report = read_optional(path, model, root=root)
    if isinstance(report, str):
        return f"{path.name} cannot be read: {report}"
    return report.model_dump(exclude_unset=True) if report else None


def _images(folder: Path, root: Path) -> dict[str, str]:
    out = {}
    for png in sorted(folder.glob("*.png")) if folder.is_dir() else []:
        data = read_bytes(png, root=root, limit=MAX_IMAGE_BYTES)
        if data.startswith(b"\x89PNG"):  # only what the profiler drew: a PNG, nothing that could be markup
            out[png.name] = "data:image/png;base64," + base64.b64encode(data).decode()
    return out


def _examples(paths: ServerPaths) -> list[dict[str, Any]]:
    if not paths.example_rollouts.is_file():
        return []
    rows = [row for _, row in iter_json_rows(paths.example_rollouts, root=paths.root)]
    # Show both sides of the verifier: the lowest-scored rows first, then the highest.
    ranked = sorted(rows, key=lambda r: raw if isinstance(raw := r.get("reward"), int | float) else -1)
    low, high = ranked[: EXAMPLES // 2], ranked[::-1][: EXAMPLES - EXAMPLES // 2]
    picked = [*low, *(r for r in high if r not in low)]
    return picked[:EXAMPLES]


def _audit(paths: ServerPaths) -> dict[str, Any] | str:
    from gymkit.audit import AuditOptions, run_audit

    try:
        result = run_audit(paths, AuditOptions(target=paths.name))
    except GymkitError as exc:
        return f"could not run: {exc.message}"
    return {
        "cases": result.cases,
        "seconds": round(result.seconds, 1),
        "findings": [{"code": f.code, "status": f.status, "title": f.title, "message": f.message,
                      "probe": f.probe} for f in result.findings],
    }  # fmt: skip


def gather_card(paths: ServerPaths, *, audit: bool = False, reverify: bool = False) -> Card:
    """The card of one server; ``audit`` and ``reverify`` start the server, so they are opt-in."""
    card = Card(paths.name)
    _readme(card, paths)
    _config(card, paths)
    _steps(card, paths, reverify)
    card.profile = _report(paths.reward_profile / PROFILE_JSON, RewardProfile, paths.root)
    card.profile_images = _images(paths.reward_profile, paths.root)
    card.training = _report(paths.training / TRAINING_JSON, TrainingReport, paths.root)
    card.training_images = _images(paths.training, paths.root)
    card.examples = _examples(paths)
    if audit:
        card.audit = _audit(paths)
    return card
