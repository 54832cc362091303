"""GYM304 and GYM404 skip a server built on NeMo Gym's GymnasiumServer, saying why.

Such a server (v0.4.0's blackjack, grl_sokoban, tales) serves /reset and /step and its verify raises:
the audit's /seed_session and re-verification's /verify answered HTTP 404, two failures upstream's
gymnasium_agent, which plays its episodes, never meets. The server is read from source, never imported.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gymkit.audit.runner import AuditResult
from gymkit.checks.fixtures import CheckOptions, Fixtures
from gymkit.checks.registry import Skip
from gymkit.checks.step3_audit import GYM304
from gymkit.checks.step4_rollouts import GYM404
from gymkit.nemo.detect import is_gymnasium_server
from gymkit.project import ServerPaths
from gymkit.reverify import ReverifyReport

BLACKJACK = (
    "from resources_servers.gymnasium import GymnasiumServer, extract_text\n\n\nclass Env(GymnasiumServer):\n    pass\n"
)
GYMNASIUM_APPS = {
    "direct": BLACKJACK,
    "aliased": "from resources_servers.gymnasium.base import GymnasiumServer as Base\n\n\nclass Env(Base):\n    pass\n",
    "module": "import resources_servers.gymnasium as g\n\n\nclass Env(g.GymnasiumServer):\n    pass\n",
    "grandchild": BLACKJACK + "\n\nclass Harder(Env):\n    pass\n",
}
OTHER_APPS = {
    "simple": "from nemo_gym.base_resources_server import SimpleResourcesServer as S0\n\n\nclass S(S0): ...\n",
    "imported only": "from resources_servers.gymnasium import extract_text\n\n\nclass S:\n    pass\n",
    "own class of the name": "class GymnasiumServer:\n    pass\n\n\nclass S(GymnasiumServer):\n    pass\n",
    "broken": "class S(:\n",
}


def _server(tmp_path: Path, app: str) -> Path:
    server = tmp_path / "resources_servers" / "blackjack"
    server.mkdir(parents=True)
    (server / "app.py").write_text(app)
    return server


@pytest.mark.parametrize("case", sorted(GYMNASIUM_APPS))
def test_a_server_deriving_from_gymnasiumserver_is_recognised(tmp_path: Path, case: str) -> None:
    assert is_gymnasium_server(_server(tmp_path, GYMNASIUM_APPS[case]))


@pytest.mark.parametrize("case", sorted(OTHER_APPS))
def test_other_servers_are_not(tmp_path: Path, case: str) -> None:
    assert not is_gymnasium_server(_server(tmp_path, OTHER_APPS[case]))


def test_the_audit_and_reverification_skip_a_gymnasium_server_and_say_why(tmp_path: Path) -> None:
    fx = Fixtures(ServerPaths(_server(tmp_path, BLACKJACK)), CheckOptions(reverify=True))
    for check, what in ((GYM304(), "/seed_session and /verify"), (GYM404(), "/verify")):
        outcome = check.check(fx)
        assert isinstance(outcome, Skip), outcome
        assert "serves /reset and /step, not" in str(outcome.reason) and what in str(outcome.reason)
    assert "audit" not in fx.__dict__ and "reverify" not in fx.__dict__  # the server was never started


def test_another_server_is_audited_and_reverified_as_before(tmp_path: Path) -> None:
    fx = Fixtures(ServerPaths(_server(tmp_path, OTHER_APPS["simple"])), CheckOptions(reverify=True))
    fx.__dict__["audit"] = AuditResult(findings=[])
    fx.__dict__["reverify"] = ReverifyReport(fx.paths.example_rollouts)
    assert list(GYM304().check(fx)) == [] and list(GYM404().check(fx)) == []
