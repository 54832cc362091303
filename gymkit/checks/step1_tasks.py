"""Step 1 · Curate tasks.

GYM101-GYM109: the example tasks in data/example.jsonl and the datasets the config declares.
GYM104-GYM105 are NeMo Gym's own data rules (``ng_test``'s data validation).
"""

from __future__ import annotations

from collections.abc import Iterable

from gymkit.checks.fixtures import Fixtures
from gymkit.checks.registry import Check, Finding, Skip, problem, register
from gymkit.nemo.config import ConfigDoc, read_configs
from gymkit.runtime.config import DatasetLicense

__all__ = ["GYM101", "GYM102", "GYM103", "GYM104", "GYM105", "config_docs"]

# NeMo Gym's ng_test refuses any other number of example rows (and of example rollouts).
NEMO_EXAMPLE_ROWS = 5
# An environment that builds the prompt itself (aviary, gdpval) sends an empty input: upstream allows it.
_EMPTY_INPUT = "responses_create_params.input: input must not be empty"
_TOO_FEW = "add example tasks until there are at least"
_DUPLICATE = "same row as line"


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
        duplicated rows. In a NeMo Gym checkout an empty `input` passes (the environment supplies the
        prompt), a repeated row is a warning, and GYM104 counts the rows."""
        problems = fx.example_problems
        if problems is None:
            return Skip("no data/example.jsonl")
        if fx.gym != "nemo-gym":
            return [problem(p.message, fx.rel(p.path), p.line) for p in problems]
        # GYM104 holds NeMo Gym's own row count; its environments may supply the prompt, and a seeded
        # environment's rows may repeat (upstream refuses neither).
        return [
            problem(p.message, fx.rel(p.path), p.line, level="warn" if _DUPLICATE in p.message else "fail")
            for p in problems
            if not p.message.startswith(_EMPTY_INPUT) and _TOO_FEW not in p.message
        ]


def config_docs(fx: Fixtures) -> list[ConfigDoc]:
    """Every YAML file under configs/, read once per server: upstream keeps one per variant."""
    return fx.memo("config_docs", lambda: read_configs(fx.paths.dir, fx.paths.root))


@register
class GYM103(Step1):
    """Train and validation datasets are declared with their licences"""

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """In the agent block of `configs/NAME.yaml`, list `datasets:` entries of `type: train` and
        `type: validation`, each with `jsonl_fpath` (or a `huggingface_identifier`) and a `license` chosen
        from the allowed names; replace `TBD` with the real licence, in every file under `configs/`."""
        docs = config_docs(fx)
        nemo = fx.gym == "nemo-gym"
        if not nemo and fx.config is None:
            return Skip("config did not load")
        problems = []
        if nemo:
            kinds = {d.get("type") for doc in docs for d in doc.datasets()}
            where = fx.rel(docs[0].path) if docs else "configs"
        else:
            assert fx.config is not None
            kinds = {d.type for d in fx.config.datasets()}
            where = fx.rel(fx.config.path)
        if "train" not in kinds:
            # Upstream asks a licence of the train set a server has; a benchmark-only server has none.
            message = "no dataset of type train is declared"
            if nemo:
                message += " (a benchmark-only server: NeMo Gym asks a licence only of the sets it declares)"
            problems.append(problem(message, where, level="warn" if nemo else "fail"))
        if "validation" not in kinds:
            problems.append(problem("no dataset of type validation is declared", where, level="warn"))
        for doc in docs:
            for dataset in doc.datasets():
                problems += _licence_problems(dataset, fx.rel(doc.path), nemo=nemo)
        return problems


def _licence_problems(dataset: dict[str, object], config_file: str, *, nemo: bool = False) -> list[Finding]:
    if dataset.get("type") not in ("train", "validation"):
        return []
    name, licence = dataset.get("name"), dataset.get("license")
    if licence == DatasetLicense.TBD:
        if nemo:
            # NeMo Gym's DatasetConfig lists "TBD" among its licence values: a set may be declared before it is cleared.
            message = (
                f"dataset {name!r} has licence TBD (gymkit's rule: data without a decided licence cannot be released;"
                f" NeMo Gym's config schema accepts TBD); when it is decided, write one of: {_ACCEPTED}"
            )
            return [problem(message, config_file, level="warn")]
        return [problem(f"dataset {name!r} has licence TBD; accepted: {_ACCEPTED}", config_file)]
    if licence == DatasetLicense.GPL_3_0:
        message = f"{dataset.get('type')} dataset {name!r} is GPL-3.0: copyleft data needs a maintainer's approval"
        return [problem(message, config_file, level="warn")]
    return []


def _line_count(data: bytes) -> int:
    # As ng_test counts them: every line, a blank one too.
    return len(data.splitlines())


@register
class GYM104(Step1):
    """In a NeMo Gym checkout, data/example.jsonl has exactly five rows"""

    requires = frozenset({"GYM101"})

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """In a NeMo Gym checkout `ng_test` refuses any other count: keep exactly five example rows
        (usually the first five of the train set), with no blank lines. In other gyms GYM102 asks for at
        least five."""
        if fx.gym != "nemo-gym":
            return []
        try:
            count = _line_count(fx.paths.example.read_bytes())
        except OSError as exc:
            return [problem(f"cannot read data/example.jsonl: {exc.strerror}", "data/example.jsonl")]
        if count == NEMO_EXAMPLE_ROWS:
            return []
        message = f"{count} lines; NeMo Gym's ng_test requires exactly {NEMO_EXAMPLE_ROWS}"
        return [problem(message, "data/example.jsonl")]


@register
class GYM105(Step1):
    """data/ holds no merge-conflict files"""

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Delete the files whose name contains `conflict` under `data/` (left by a merge or a sync
        tool); NeMo Gym's `ng_test` refuses a server that has any."""
        if not fx.paths.data.is_dir():
            return []
        return [
            problem("a merge-conflict file; resolve the merge and delete it", fx.rel(path))
            for path in sorted(fx.paths.data.glob("*conflict*"))
        ]
