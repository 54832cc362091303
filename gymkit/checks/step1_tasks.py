"""Step 1 · Curate tasks.

GYM101-GYM109: the example tasks in data/example.jsonl and the datasets the config declares.
"""

from __future__ import annotations

from collections.abc import Iterable

from gymkit.checks.fixtures import Fixtures
from gymkit.checks.registry import Check, Finding, Skip, problem, register
from gymkit.runtime.config import DatasetLicense

__all__ = ["GYM101", "GYM102", "GYM103"]


# What a newcomer can write instead of TBD, spelled as the config must spell it.
_ACCEPTED = "; ".join(f'"{lic.value}"' for lic in DatasetLicense if lic != DatasetLicense.TBD)


class Step1(Check):
    step = 1


@register
class GYM101(Step1):
    """data/example.jsonl exists"""

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Create `data/example.jsonl` with at least five representative task rows, one JSON object per
        line: `{"responses_create_params": {"input": [{"role": "user", "content": "..."}]}, ...task fields}`."""
        if fx.paths.example.is_file():
            return []
        return [problem("data/example.jsonl is missing", "data/example.jsonl")]


@register
class GYM102(Step1):
    """Example rows are valid run requests: at least 5, no duplicates"""

    requires = frozenset({"GYM101"})

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Fix the named line: each row needs `responses_create_params` with an `input`, only Responses API
        keys inside it, and task fields at the top level. Add rows until there are five, and remove
        duplicated rows."""
        problems = fx.example_problems
        if problems is None:
            return Skip("no data/example.jsonl")
        return [problem(p.message, fx.rel(p.path), p.line) for p in problems]


@register
class GYM103(Step1):
    """Train and validation datasets are declared with their licences"""

    requires = frozenset({"GYM202"})

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """In the agent block of `configs/NAME.yaml`, list `datasets:` entries of `type: train` and
        `type: validation`, each with `jsonl_fpath` (or a `huggingface_identifier`) and a `license` chosen
        from the allowed names; replace `TBD` with the real licence."""
        if fx.config is None:
            return Skip("config did not load")
        config_file = fx.rel(fx.config.path)
        datasets = fx.config.datasets()
        kinds = {d.type for d in datasets}
        problems = []
        if "train" not in kinds:
            problems.append(problem("no dataset of type train is declared", config_file))
        if "validation" not in kinds:
            problems.append(problem("no dataset of type validation is declared", config_file, level="warn"))
        for dataset in datasets:
            if dataset.type in ("train", "validation") and dataset.license == DatasetLicense.TBD:
                message = f"dataset {dataset.name!r} has licence TBD; accepted: {_ACCEPTED}"
                problems.append(problem(message, config_file))
        return problems
