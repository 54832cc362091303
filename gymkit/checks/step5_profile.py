"""Step 5 · Reward profiling: reports/reward_profile/reward_profile.json.

GYM501 exists and parses, GYM502 fresh, GYM503 coverage, GYM504 names its models,
GYM505 enough prompts with mixed outcomes (a warning), GYM506 no full-reward rollout looks like a hack (a warning).
"""

from __future__ import annotations

from collections.abc import Iterable

from gymkit.artifacts import RewardProfile
from gymkit.checks.fixtures import Fixtures
from gymkit.checks.registry import Check, Finding, Skip, problem, register
from gymkit.contribution.thresholds import MIN_MIXED, MIN_PROMPTS, MIN_SAMPLES
from gymkit.errors import GymkitError
from gymkit.findings import Status
from gymkit.hashing import EARLIER_SCHEME, code_digests, file_sha256
from gymkit.runtime.config import check_configs

__all__ = ["GYM501", "GYM502", "GYM503", "GYM504", "GYM505", "GYM506"]

PROFILE = "reports/reward_profile/reward_profile.json"


class Step5(Check):
    step = 5
    requires = frozenset({"GYM501"})

    @staticmethod
    def profile(fx: Fixtures) -> RewardProfile:
        assert isinstance(fx.reward_profile, RewardProfile)
        return fx.reward_profile


@register
class GYM501(Step5):
    """A reward profile exists and parses"""

    requires = frozenset()

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Run `nox -s profile-rewards -- NAME` (or `gymkit profile NAME`) on the train or validation
        dataset with a Qwen3-4B-class model, and commit `reports/reward_profile/`."""
        if fx.reward_profile is None:
            if fx.gym == "nemo-gym":
                return Skip(f"{PROFILE} is missing; NeMo Gym does not require gymkit's reward profile")
            return [problem(f"{PROFILE} is missing", PROFILE)]
        if isinstance(fx.reward_profile, str):
            return [problem(f"{PROFILE} cannot be read: {fx.reward_profile}", PROFILE)]
        return []


@register
class GYM502(Step5):
    """The reward profile is fresh: dataset and server code are unchanged since it was made"""

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Re-run the profile (`nox -s profile-rewards -- NAME`): the dataset or the server's code
        (Python files, requirements.txt, configs/) changed after it was computed."""
        profile = self.profile(fx)
        problems = []
        path = profile.dataset.path
        if path is None:
            problems.append(problem("the profile does not name its dataset (dataset.path)", PROFILE))
        elif not fx.resolve(path).resolve().is_relative_to(fx.paths.root.resolve()) or not fx.resolve(path).is_file():
            problems.append(problem(f"the profiled dataset {path} is not in the repository", PROFILE))
        elif file_sha256(fx.resolve(path)) != profile.dataset.sha256:
            problems.append(problem(f"{path} changed since the profile was made", PROFILE))
        recorded = profile.server_code_sha256
        unsafe = _unhashable(fx)
        if not recorded:
            problems.append(problem("the profile does not record server_code_sha256; profile by server name", PROFILE))
        elif unsafe:
            problems.append(problem(f"the server's code hash cannot be computed: {unsafe}", "configs"))
        elif recorded not in (digests := code_digests(fx.paths.dir)):
            problems.append(problem("the server's code changed since the profile was made", PROFILE))
        elif recorded != digests[0]:
            problems.append(Finding("", 0, Status.PASS, EARLIER_SCHEME, file=PROFILE))
        return problems


def _unhashable(fx: Fixtures) -> str | None:
    # The code hash parses every YAML file in configs/; a hostile one must not hang or crash it.
    try:
        check_configs(fx.paths.dir, fx.paths.root)
    except GymkitError as exc:
        return exc.message
    return None


@register
class GYM503(Step5):
    """The reward profile covers at least 500 prompts (or all) with 16 samples each"""

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Profile at least 500 prompts (all of them when the dataset is smaller) with 16 samples per
        prompt: `nox -s profile-rewards -- NAME --num-prompts 500 --samples 16`."""
        profile = self.profile(fx)
        prompts, samples, rows = profile.num_prompts, profile.samples_per_prompt, profile.dataset.num_rows
        needed = min(MIN_PROMPTS, rows) if rows is not None and rows > 0 else MIN_PROMPTS
        problems = []
        if prompts < needed:
            problems.append(problem(f"{prompts} prompts profiled; needs at least {needed}", PROFILE))
        if samples < MIN_SAMPLES:
            problems.append(problem(f"{samples} samples per prompt; needs at least {MIN_SAMPLES}", PROFILE))
        return problems


@register
class GYM504(Step5):
    """The reward profile names the model(s) it sampled"""

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Profile through an endpoint that reports its model name (the profile records it in
        `models`); the guide asks for Qwen3-4B, Qwen3-30B-A3B or an equivalent."""
        models = self.profile(fx).models
        if models and all(m.strip() for m in models):
            return []
        return [problem(f"`models` is {models!r}; expected a list of model names", PROFILE)]


@register
class GYM505(Step5):
    """Enough prompts have mixed outcomes to give a training signal"""

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Few prompts have both passing and failing samples, so GRPO gets little signal from them.
        Make tasks harder (if most all-pass) or easier (if most all-fail), or filter the dataset to
        prompts the model sometimes solves."""
        mixed = self.profile(fx).prompts.mixed
        if mixed is None:
            return [problem("the profile has no prompts.mixed fraction", PROFILE)]
        if mixed < MIN_MIXED:
            return [problem(f"only {mixed:.0%} of prompts are mixed (< {MIN_MIXED:.0%})", PROFILE, level="warn")]
        return []


@register
class GYM506(Step5):
    """No full-reward rollout of the profile looks like a reward hack (a warning)"""

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """The model earned full reward with an answer the audit's criteria call suspicious: the prompt echoed,
        several candidate answers hedged, a tool's raw output pasted, or a claim of being correct. Open the
        rollouts named in the profile's "Possible reward hacks" section (`gymkit view NAME`); if the answer does
        not do the task, fix verify (docs/audit.md says how per kind) and profile again."""
        hacks = self.profile(fx).suspicious
        if hacks is None:
            return Skip("the profile predates the hack flags; profile again to get them")
        if not hacks.flagged:
            return []
        kinds = ", ".join(f"{k} {v}" for k, v in hacks.by_flag.items())
        where = [f"{e.get('file')}:{e.get('line')}" for e in hacks.examples]
        message = f"{hacks.flagged} full-reward rollouts look like reward hacks ({kinds})"
        return [problem(message + (f", e.g. {', '.join(where[:3])}" if where else ""), PROFILE, level="warn")]
