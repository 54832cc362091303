"""`gymkit update` in real git repositories: template changes arrive, contributors' edits stay."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import Result

from gymkit.errors import UserError
from gymkit.scaffold import ANSWERS_FILE, TemplateError, new_server, update_server

from .conftest import git, make_project, make_template_repo, run_gymkit

pytestmark = pytest.mark.slow

Cli = Callable[..., Result]

TEMPLATE_APP = Path("templates/resource_server/app.py.jinja")
TEMPLATE_README = Path("templates/resource_server/README.md.jinja")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def release(repo: Path, message: str, tag: str) -> None:
    git(repo, "commit", "-q", "-am", message)
    git(repo, "tag", tag)


def test_update_brings_template_change_and_keeps_contributor_edits(tmp_path: Path, gymkit_cli: Cli) -> None:
    # Like the real repository: the template and the servers share one git repository.
    repo = make_template_repo(tmp_path / "gym", with_servers=True)
    server = new_server("my_task", root=repo, template=repo).path
    answers = yaml.safe_load((server / ANSWERS_FILE).read_text())
    assert answers["_src_path"] == "../.." and answers["_commit"] == "v0.1.0"
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "add my_task")

    edit(server / "app.py", "    expected_answer: str\n", "    expected_answer: str\n    difficulty: str = 'easy'\n")
    (server / "data/train.jsonl").write_text("{}\n")  # committed: the reward profile names it by its hash
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "contributor: a task field and a train set")

    edit(
        repo / TEMPLATE_APP,
        "server = {{ cls }}ResourcesServer()",
        "# template v0.2.0\nserver = {{ cls }}ResourcesServer()",
    )
    (repo / "templates/resource_server/NOTES.md").write_text("Added in v0.2.0.\n")
    git(repo, "add", "-A")
    release(repo, "template: v0.2.0", "v0.2.0")

    edit(repo / TEMPLATE_README, "## Running", "## Running (draft, not committed)")

    result = gymkit_cli("update", "my_task", cwd=repo)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "my_task: updated, template v0.1.0 -> v0.2.0"
    assert "note: my_task: the template has uncommitted changes; update uses its last commit only" in result.stderr
    assert "draft, not committed" not in (server / "README.md").read_text()
    app_py = (server / "app.py").read_text()
    assert "# template v0.2.0\nserver = MyTaskResourcesServer()" in app_py
    assert "    difficulty: str = 'easy'\n" in app_py
    assert (server / "NOTES.md").read_text() == "Added in v0.2.0.\n"
    answers = yaml.safe_load((server / ANSWERS_FILE).read_text())
    assert answers["_commit"] == "v0.2.0" and answers["_src_path"] == "../.."
    assert not list(server.rglob("*.rej"))

    git(repo, "checkout", "--", str(TEMPLATE_README))  # drop the draft
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "update my_task")
    # The server's own commit moved HEAD, but the template did not change: nothing to do.
    again = gymkit_cli("update", "my_task", cwd=repo)
    assert again.exit_code == 0 and again.stdout.strip() == "my_task: up to date (template v0.2.0)"


def test_conflicting_edits_are_reported_and_exit_non_zero(tmp_path: Path, gymkit_cli: Cli) -> None:
    # A template repository apart from the project: the answers file holds its absolute path.
    template = make_template_repo(tmp_path / "template")
    project = make_project(tmp_path / "project")
    git(project, "init", "-q", "-b", "main")
    server = new_server("my_task", root=project, template=template).path
    assert yaml.safe_load((server / ANSWERS_FILE).read_text())["_src_path"] == str(template)
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "add my_task")

    dependencies = "- Dependencies: gymkit (Apache-2.0); `requirements.txt` adds no other packages."
    edit(server / "README.md", dependencies, "- Dependencies: gymkit (Apache-2.0), sympy (BSD-3-Clause).")
    git(project, "commit", "-q", "-am", "contributor: dependencies")
    edit(template / TEMPLATE_README, dependencies, "- Dependencies: gymkit (Apache-2.0) and requirements.txt.")
    release(template, "template: v0.2.0", "v0.2.0")

    result = gymkit_cli("update", "--all", cwd=project)
    assert result.exit_code == 1
    assert "my_task: conflict, template v0.1.0 -> v0.2.0" in result.stdout
    assert "conflict: resources_servers/my_task/README.md" in result.stderr
    assert "error: 1 of 1 server(s) not updated cleanly" in result.stderr
    readme = (server / "README.md").read_text()
    assert "<<<<<<< before updating\n- Dependencies: gymkit (Apache-2.0), sympy (BSD-3-Clause)." in readme
    assert "- Dependencies: gymkit (Apache-2.0) and requirements.txt.\n>>>>>>> after updating" in readme

    # The conflict is now an uncommitted change: a second update must refuse, not pile on.
    again = gymkit_cli("update", "my_task", cwd=project)
    assert again.exit_code == 1
    assert again.stderr.splitlines()[0] == (
        "error: the repository has unresolved conflicts (resources_servers/my_task/README.md)"
    )
    assert "Traceback" not in again.stderr


def test_update_needs_git_and_an_answers_file(tmp_path: Path) -> None:
    template = make_template_repo(tmp_path / "template")
    project = make_project(tmp_path / "project")
    server = new_server("my_task", root=project, template=template).path
    with pytest.raises(UserError, match="is not inside a git repository"):
        update_server(server)
    git(project, "init", "-q", "-b", "main")
    (server / ANSWERS_FILE).unlink()
    with pytest.raises(UserError, match="only servers made with gymkit new can be updated"):
        update_server(server)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe_commit: v0.1.0\n", ".copier-answers.yml: cannot read: 'utf-8' codec can't decode"),
        (b"_src_path: ../..\n_commit: [v0.1.0\n", ".copier-answers.yml:3: not valid YAML: expected ',' or ']'"),
    ],
)
def test_a_damaged_answers_file_is_one_line_naming_it(tmp_path: Path, content: bytes, message: str) -> None:
    repo = make_template_repo(tmp_path / "gym", with_servers=True)
    server = new_server("my_task", root=repo, template=repo).path
    (server / ANSWERS_FILE).write_bytes(content)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "add my_task")
    done = run_gymkit("update", "my_task", cwd=repo)
    assert done.returncode == 1
    first, hint = done.stderr.splitlines()
    assert first.startswith(f"error: {server / ANSWERS_FILE}") and message in first, done.stderr
    assert hint.startswith("hint: gymkit new wrote it; restore it from git")


def test_update_refuses_a_version_the_template_does_not_have(tmp_path: Path) -> None:
    template = make_template_repo(tmp_path / "template")
    project = make_project(tmp_path / "project")
    git(project, "init", "-q", "-b", "main")
    server = new_server("my_task", root=project, template=template).path
    edit(server / ANSWERS_FILE, "_commit: v0.1.0", "_commit: v9.9.9")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "add my_task")
    with pytest.raises(TemplateError, match=r"template version v9\.9\.9"):
        update_server(server)


def test_new_uses_uncommitted_template_edits_but_records_the_real_commit(tmp_path: Path) -> None:
    template = make_template_repo(tmp_path / "template")
    project = make_project(tmp_path / "project")
    (template / "unrelated.txt").write_text("dirty, but not part of the template\n")
    clean = new_server("clean_task", root=project, template=template)
    assert clean.commit == "v0.1.0" and clean.notes == []

    edit(template / TEMPLATE_README, "## Running", "## Running it")
    draft = new_server("draft_task", root=project, template=template)
    assert "## Running it" in (draft.path / "README.md").read_text()
    assert draft.commit == "v0.1.0"
    assert yaml.safe_load((draft.path / ANSWERS_FILE).read_text())["_commit"] == "v0.1.0"
    (note,) = draft.notes
    assert "uncommitted changes (templates/resource_server/README.md.jinja)" in note


def test_update_all_reports_each_server_and_keeps_going(tmp_path: Path, gymkit_cli: Cli) -> None:
    repo = make_template_repo(tmp_path / "gym", with_servers=True)
    new_server("first", root=repo, template=repo)
    new_server("second", root=repo, template=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "two servers")
    (repo / "resources_servers/first/app.py").write_text("# work in progress\n")

    result = gymkit_cli("update", "--all", cwd=repo)
    assert result.exit_code == 1
    assert "error: first: resources_servers/first has uncommitted changes" in result.stderr
    assert "second: up to date (template v0.1.0)" in result.stdout
    assert gymkit_cli("update", cwd=repo).stderr.startswith("error: name the servers to update, or pass --all")


OLD_DATA_GITIGNORE = """\
# Full datasets are large and live on a dataset hub; only example*.jsonl is committed.
*train.jsonl
*validation.jsonl
*_prepare.jsonl
"""


def test_update_stops_ignoring_the_train_and_validation_sets(tmp_path: Path, gymkit_cli: Cli) -> None:
    # Servers made before the template committed its datasets ignored them: their profile was
    # green locally and GYM502 failed in every clone, which had no train.jsonl to hash.
    repo = make_template_repo(tmp_path / "gym", with_servers=True)
    template_ignore = repo / "templates/resource_server/data/.gitignore"
    fixed = template_ignore.read_text()
    template_ignore.write_text(OLD_DATA_GITIGNORE)
    release(repo, "template: datasets ignored", "v0.1.1")
    server = new_server("my_task", root=repo, template=repo).path
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "add my_task")
    for name in ("train.jsonl", "validation.jsonl"):
        (server / "data" / name).write_text("{}\n")
    assert git(repo, "status", "--porcelain") == ""  # ignored: a clone would not get them

    template_ignore.write_text(fixed)
    release(repo, "template: commit train and validation", "v0.2.0")
    result = gymkit_cli("update", "my_task", cwd=repo)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "my_task: updated, template v0.1.1 -> v0.2.0"
    assert (server / "data/.gitignore").read_text() == fixed
    status = git(repo, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert "?? resources_servers/my_task/data/train.jsonl" in status
    assert "?? resources_servers/my_task/data/validation.jsonl" in status
    rules = [line for line in fixed.splitlines() if line.strip() and not line.startswith("#")]
    assert rules == ["*_prepare.jsonl"]
