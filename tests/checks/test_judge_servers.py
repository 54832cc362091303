"""GYM304 and GYM404 skip, naming the judge, an upstream server whose verify calls a model server.

v0.4.0's abstention, equivalence_llm_judge, simpleqa and a dozen more name a judge in their
config (``judge_model_server: {type: responses_api_models, name: genrm_model}``) and ask it by
name at verify time. gymkit starts the server alone, so every /verify answered HTTP 500
(ConfigKeyError: Missing key genrm_model): a failure of gymkit's set-up, not of the server.
When everything matches without the judge (a symbolic check first), the checks pass as before.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gymkit.audit.report import AuditFinding
from gymkit.audit.runner import AuditResult
from gymkit.checks.fixtures import CheckOptions, Fixtures
from gymkit.checks.registry import Skip
from gymkit.checks.step3_audit import GYM304
from gymkit.checks.step4_rollouts import GYM404
from gymkit.nemo.config import model_server_refs, server_entry
from gymkit.project import ServerPaths
from gymkit.reverify import ReverifyReport, RowResult

APP = "from nemo_gym.base_resources_server import SimpleResourcesServer\n\n\nclass S(SimpleResourcesServer): ...\n"
JUDGE = """\
abstention:
  resources_servers:
    abstention:
      entrypoint: app.py
      domain: rlhf
      judge_model_server:
        type: responses_api_models
        name: genrm_model
      judges:
        - {type: responses_api_models, name: second_judge}
abstention_agent:
  responses_api_agents:
    simple_agent:
      resources_server: {type: resources_servers, name: abstention}
      model_server: {type: responses_api_models, name: policy_model}
"""
NO_JUDGE = JUDGE.split("      judge_model_server:")[0] + JUDGE.split("second_judge}\n")[1]


def _server(tmp_path: Path, config: str) -> Path:
    server = tmp_path / "resources_servers" / "abstention"
    (server / "configs").mkdir(parents=True)
    (server / "app.py").write_text(APP)
    (server / "configs" / "abstention.yaml").write_text(config)
    return server


def test_the_model_servers_an_instance_names_are_found_with_their_field(tmp_path: Path) -> None:
    entry = server_entry(_server(tmp_path, JUDGE))
    # The agent's policy model is the agent's, not something verify calls.
    assert model_server_refs(entry) == [("judge_model_server", "genrm_model"), ("judges[0]", "second_judge")]


MISSING = "verify answered HTTP 500: ConfigKeyError('Missing key genrm_model')"


def _failing(fx: Fixtures) -> None:
    report = ReverifyReport(fx.paths.example_rollouts)
    report.rows.append(RowResult(1, 1.0, error=MISSING))
    fx.__dict__["reverify"] = report
    finding = AuditFinding(code="GYM3A14", step=3, probe="empty", status="fail", message=MISSING)
    fx.__dict__["audit"] = AuditResult(findings=[finding])


def test_what_fails_without_the_judge_is_a_skip_naming_it(tmp_path: Path) -> None:
    fx = Fixtures(ServerPaths(_server(tmp_path, JUDGE)), CheckOptions(reverify=True))
    _failing(fx)
    for check, what in ((GYM304(), "the audit"), (GYM404(), "re-verification")):
        outcome = check.check(fx)
        assert isinstance(outcome, Skip), outcome
        reason = str(outcome.reason)
        assert "'genrm_model' (abstention.yaml: judge_model_server)" in reason and what in reason, reason


def test_a_judged_server_whose_rewards_all_come_back_passes(tmp_path: Path) -> None:
    fx = Fixtures(ServerPaths(_server(tmp_path, JUDGE)), CheckOptions(reverify=True))
    fx.__dict__["audit"] = AuditResult(findings=[])
    fx.__dict__["reverify"] = ReverifyReport(fx.paths.example_rollouts)
    assert list(GYM304().check(fx)) == [] and list(GYM404().check(fx)) == []


@pytest.mark.parametrize("app", [APP, "from gymkit import BaseResourcesServer\n"])
def test_a_server_without_a_judge_or_written_for_gymkit_is_checked_as_before(tmp_path: Path, app: str) -> None:
    config = NO_JUDGE if app == APP else JUDGE
    server = _server(tmp_path, config)
    (server / "app.py").write_text(app)
    fx = Fixtures(ServerPaths(server), CheckOptions(reverify=True))
    assert fx.judge_models is None
    _failing(fx)
    assert not isinstance(GYM304().check(fx), Skip) and list(GYM404().check(fx)) != []
