"""The pull-request description: rendered from a server's README, config and reports, and checked.

:data:`PR_SECTIONS` is the single list of what a PR description must contain (the
contribution guide's step 7); the PR template and ``gymkit check-pr-body`` both follow it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from gymkit.artifacts import Artifact, RewardProfile, TrainingReport, read_optional
from gymkit.contribution.markdown import read_markdown
from gymkit.contribution.readme import Readme
from gymkit.errors import GymkitError, UserError
from gymkit.inputs import parse_json, read_text
from gymkit.project import ServerPaths
from gymkit.runtime.config import ServerConfigFile, load_config

__all__ = ["PR_SECTIONS", "SectionProblem", "check_pr_body", "read_pr_body", "render_pr_body"]

# (heading, what it must say). A PR description needs each heading with real text under it.
PR_SECTIONS: tuple[tuple[str, str], ...] = (
    ("Environment", "what the environment is and which resource server it adds"),
    ("Verification logic", "how verify computes the reward"),
    ("Task source and domain", "where the prompts/tasks come from and which domain they cover"),
    ("Licensing", "licences of the data and of the software (code and dependencies)"),
    ("Synthetic data", "the models used to generate synthetic data, or 'None'"),
)

_Report = TypeVar("_Report", bound=Artifact)

_PLACEHOLDER = re.compile(r"\bTODO\b|\bTBD\b|\{\{.*?\}\}|^\s*\?\s*$", re.MULTILINE)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_SYNTHETIC_LINE = re.compile(r"synthetic\s+data[^:\n]*:\s*(.+)", re.IGNORECASE)


@dataclass(frozen=True)
class SectionProblem:
    section: str
    message: str


def _sections(markdown: str) -> dict[str, str]:
    found: dict[str, list[str]] = {}
    for heading in read_markdown(_COMMENT.sub("", markdown)).headings:
        # A title given twice reads as one section: text under either one counts.
        found.setdefault(heading.text.lower(), []).extend(text for _, text in heading.body)
    return {title: "\n".join(lines).strip() for title, lines in found.items()}


def check_pr_body(markdown: str) -> list[SectionProblem]:
    """Which required sections are missing, empty or still a placeholder (HTML comments are ignored)."""
    sections = _sections(markdown)
    problems = []
    for name, what in PR_SECTIONS:
        title = next((t for t in sections if t.startswith(name.lower())), None)
        if title is None:
            problems.append(SectionProblem(name, f"no '## {name}' section ({what})"))
        elif not sections[title]:
            problems.append(SectionProblem(name, f"'## {name}' is empty; write {what}"))
        elif _PLACEHOLDER.search(sections[title]):
            problems.append(SectionProblem(name, f"'## {name}' still holds a placeholder; write {what}"))
    return problems


def read_pr_body(path: Path) -> str:
    """A PR description from a Markdown file, a GitHub event payload (``.pull_request.body``) or
    a pull request as GitHub's REST API returns it (``.body``, as CI fetches the current text)."""
    # The file is a PR's text or GitHub's payload of it: written by whoever opened the PR.
    text = read_text(path)
    if path.suffix == ".json" or text.lstrip().startswith("{"):
        event = parse_json(path, None, text.encode("utf-8"))
        pull = event.get("pull_request", event if "number" in event else None) if isinstance(event, dict) else None
        if not isinstance(pull, dict):
            raise UserError(f"{path}: no pull_request in this event payload", hint="pass the pull_request event JSON")
        body = pull.get("body")
        if body is not None and not isinstance(body, str):
            raise UserError(f"{path}: the pull request's body is not text")
        return body or ""
    return text


def _report(path: Path, model: type[_Report], root: Path) -> _Report | str | None:
    """The report, or why it cannot be read (said in the description, not taken for "not made yet")."""
    report = read_optional(path, model, root=root)
    if isinstance(report, str):
        return f"`{path.parent.name}/{path.name}` cannot be read ({report}); make it again."
    return report


def _readme(paths: ServerPaths) -> Readme:
    if not paths.readme.exists() and not paths.readme.is_symlink():
        return Readme.parse("")
    return Readme.parse(read_text(paths.readme, root=paths.root))


def _section_text(readme: Readme, name: str) -> str:
    section = readme.section(name)
    return section.text if section else ""


def _config(paths: ServerPaths) -> ServerConfigFile | None:
    try:
        return load_config(paths.config_path(), root_dir=paths.root)
    except GymkitError:
        return None


def _profile_text(profile: RewardProfile | str | None) -> str:
    if profile is None:
        return "Not profiled yet (`nox -s profile-rewards -- NAME`)."
    if isinstance(profile, str):
        return profile
    prompts = profile.prompts
    return (
        f"Models: {', '.join(profile.models) or 'unknown'}; "
        f"{profile.num_prompts} prompts x {profile.samples_per_prompt} samples; "
        f"mean reward {_figure(profile.reward.mean)}; prompts all-fail {_figure(prompts.all_fail)}, "
        f"all-pass {_figure(prompts.all_pass)}, mixed {_figure(prompts.mixed)}. "
        "Details: `reports/reward_profile/reward_profile.md`."
    )


def _training_text(training: TrainingReport | str | None) -> str:
    if training is None:
        return "No training report yet (`gymkit training-report NAME --metrics METRICS`)."
    if isinstance(training, str):
        return training
    train = training.train
    return (
        f"Improved: {training.improved}; {train.column} from {_number(train.first)} "
        f"to {_number(train.last)} over {training.steps.count} steps (p = {_number(train.p_value)}). "
        "Details: `reports/training/training.md`."
    )


def _number(value: Any) -> str:
    # Window means are sums of floats (0.10000000000000002); a PR description needs 4 digits.
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _figure(value: float | None) -> str:
    # None: the profile was made without rollouts to count.
    return "n/a" if value is None else str(value)


def render_pr_body(paths: ServerPaths) -> str:
    """The PR description for one server, with every required section filled from its files."""
    readme = _readme(paths)
    config = _config(paths)
    domain = config.resources_server.domain.value if config else "unknown (the config does not load)"
    datasets = config.datasets() if config else []
    licensing = readme.licensing()
    synthetic = _section_text(readme, "Synthetic data")
    if not synthetic:
        match = _SYNTHETIC_LINE.search("\n".join(readme.lines))
        synthetic = match.group(1).strip() if match else "TODO: name the models used to generate data, or write None"
    dataset_lines = [
        f"- {d.type} `{d.name}`: {d.jsonl_fpath}" + (f" (licence: {d.license.value})" if d.license else "")
        for d in datasets
    ]
    parts = {
        "Environment": f"Adds `resources_servers/{paths.name}` (domain: {domain}).\n\n"
        + (_section_text(readme, "Description") or "TODO: describe the environment in README.md"),
        "Verification logic": _section_text(readme, "Verification logic") or "TODO: describe verify in README.md",
        "Task source and domain": (_section_text(readme, "Task source") or "TODO: name the task source in README.md")
        + f"\n\nDomain: {domain}.\n"
        + "\n".join(dataset_lines),
        "Licensing": "\n".join(
            f"- {label}: {licensing[key][1] if key in licensing else 'TODO'}"
            for key, label in (("code", "Code"), ("data", "Data"), ("dependencies", "Dependencies"))
        ),
        "Synthetic data": synthetic,
        "Reward profile": _profile_text(
            _report(paths.reward_profile / "reward_profile.json", RewardProfile, paths.root)
        ),
        "Training validation": _training_text(_report(paths.training / "training.json", TrainingReport, paths.root)),
    }
    body = "\n\n".join(f"## {title}\n\n{text.strip()}" for title, text in parts.items())
    return body + f"\n\nRun `gymkit reproduce {paths.name}` to reproduce the checks and example rollouts.\n"
