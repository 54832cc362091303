"""``gymkit changed`` on real repositories: what a pull request selects for testing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gymkit.cli import app
from gymkit.errors import UserError
from gymkit.gitutil import changed_servers

from .conftest import GitRepo


def _branch(repo: GitRepo) -> None:
    repo.git("checkout", "-q", "-b", "pr")


def test_new_server_is_selected_alone(repo: GitRepo) -> None:
    _branch(repo)
    repo.write("resources_servers/gamma/app.py")
    repo.commit("add gamma")
    result = changed_servers(repo.root, "main", "pr")
    assert result.servers == ["gamma"]
    assert not result.all_selected
    assert "resources_servers/gamma/app.py" in result.files


def test_edit_deep_inside_a_server_selects_it(repo: GitRepo) -> None:
    _branch(repo)
    repo.write("resources_servers/beta/data/example.jsonl", '{"a": 1}\n')
    repo.commit("edit beta data")
    assert changed_servers(repo.root, "main", "pr").servers == ["beta"]


def test_deleted_server_is_not_selected(repo: GitRepo) -> None:
    _branch(repo)
    repo.git("rm", "-q", "-r", "resources_servers/alpha")
    repo.commit("drop alpha")
    result = changed_servers(repo.root, "main", "pr")
    assert result.servers == []
    assert "resources_servers/alpha/app.py" in result.files


def test_renamed_server_selects_only_the_new_name(repo: GitRepo) -> None:
    _branch(repo)
    repo.git("mv", "resources_servers/alpha", "resources_servers/alpha_two")
    repo.commit("rename")
    assert changed_servers(repo.root, "main", "pr").servers == ["alpha_two"]


@pytest.mark.parametrize(
    "path", ["gymkit/checks.py", "templates/resource_server/app.py.jinja", "copier.yml", "noxfile.py", "pyproject.toml"]
)
def test_change_to_gymkit_or_template_selects_every_server(repo: GitRepo, path: str) -> None:
    _branch(repo)
    repo.write(path, "changed\n")
    repo.commit("touch shared file")
    result = changed_servers(repo.root, "main", "pr")
    assert result.servers == ["alpha", "beta"]
    assert result.global_files == [path]


def test_every_server_means_those_at_the_head(repo: GitRepo) -> None:
    _branch(repo)
    repo.write("gymkit/x.py")
    repo.git("rm", "-q", "-r", "resources_servers/beta")
    repo.commit("gymkit change and a deletion")
    assert changed_servers(repo.root, "main", "pr").servers == ["alpha"]


def test_files_outside_servers_select_nothing(repo: GitRepo) -> None:
    _branch(repo)
    repo.write("README.md", "new words\n")
    repo.write("resources_servers/README.md", "index of servers\n")
    repo.write("docs/ci.md")
    repo.commit("docs only")
    assert changed_servers(repo.root, "main", "pr").servers == []


def test_commits_on_the_base_since_branching_do_not_count(repo: GitRepo) -> None:
    _branch(repo)
    repo.write("resources_servers/alpha/README.md")
    repo.commit("pr edits alpha")
    repo.git("checkout", "-q", "main")
    repo.write("resources_servers/beta/README.md")
    repo.write("gymkit/late.py")
    repo.commit("main moves on")
    assert changed_servers(repo.root, "main", "pr").servers == ["alpha"]


def test_base_given_as_sha(repo: GitRepo) -> None:
    base_sha = repo.git("rev-parse", "HEAD")
    _branch(repo)
    repo.write("resources_servers/beta/README.md")
    head_sha = repo.commit("edit beta")
    assert changed_servers(repo.root, base_sha, head_sha).servers == ["beta"]


def test_without_head_the_working_tree_counts(repo: GitRepo) -> None:
    _branch(repo)
    repo.write("resources_servers/alpha/README.md", "unstaged edit? no: new untracked file\n")
    repo.write("resources_servers/beta/app.py", "uncommitted edit\n")
    result = changed_servers(repo.root / "resources_servers", "main")
    assert result.servers == ["alpha", "beta"]
    assert changed_servers(repo.root, "main", "HEAD").servers == []


def test_folder_with_unsafe_name_is_refused(repo: GitRepo) -> None:
    _branch(repo)
    repo.write("resources_servers/x$(id)/app.py")
    repo.commit("bad name")
    with pytest.raises(UserError, match=r"resources_servers/x\$\(id\): not a valid server name"):
        changed_servers(repo.root, "main", "pr")


def test_folder_name_with_a_newline_is_refused_not_skipped(repo: GitRepo) -> None:
    # A newline in a path once cut it short, so this server went untested without a word.
    _branch(repo)
    repo.write("resources_servers/evil\n/app.py")
    repo.commit("newline in a folder name")
    with pytest.raises(UserError, match=r"resources_servers/evil\\n: not a valid server name"):
        changed_servers(repo.root, "main", "pr")


def test_file_names_with_newlines_and_colons_still_select_their_server(repo: GitRepo) -> None:
    _branch(repo)
    repo.write("resources_servers/beta/data/odd\n:name.txt")
    repo.write("resources_servers/alpha/data/naïve café.txt")
    repo.commit("odd file names")
    result = changed_servers(repo.root, "main", "pr")
    assert result.servers == ["alpha", "beta"]
    assert "resources_servers/beta/data/odd\n:name.txt" in result.files
    assert changed_servers(repo.root, "main").servers == ["alpha", "beta"]


def test_name_longer_than_the_comment_accepts_is_refused(repo: GitRepo) -> None:
    _branch(repo)
    repo.write(f"resources_servers/{'a' * 65}/app.py")
    repo.commit("long name")
    with pytest.raises(UserError, match="not a valid server name"):
        changed_servers(repo.root, "main", "pr")


def test_deleted_server_with_ignored_leftovers_is_not_selected_in_the_working_tree(repo: GitRepo) -> None:
    repo.write(".gitignore", "__pycache__/\ntrain.jsonl\n")
    repo.commit("ignore caches")
    _branch(repo)
    repo.write("resources_servers/alpha/__pycache__/app.cpython-311.pyc")
    repo.write("resources_servers/alpha/data/train.jsonl")
    repo.git("rm", "-q", "-r", "resources_servers/alpha")
    repo.write("resources_servers/beta/app.py", "edited, not staged\n")
    assert (repo.root / "resources_servers/alpha/data/train.jsonl").exists()
    assert changed_servers(repo.root, "main").servers == ["beta"]
    shutil.rmtree(repo.root / "resources_servers/beta")  # deleted, not yet with git rm
    assert changed_servers(repo.root, "main").servers == []


def test_unrelated_histories_are_reported(repo: GitRepo) -> None:
    repo.git("checkout", "-q", "--orphan", "other")
    repo.commit("unrelated root")
    with pytest.raises(UserError, match="share no history"):
        changed_servers(repo.root, "main", "other")


# --- the command line ---------------------------------------------------------------------

runner = CliRunner()


def test_cli_json_is_a_matrix(repo: GitRepo) -> None:
    _branch(repo)
    repo.write("resources_servers/gamma/app.py")
    repo.write("resources_servers/alpha/app.py", "edited\n")
    repo.commit("two servers")
    result = runner.invoke(app, ["changed", "--base", "main", "--head", "pr", "--json", "--repo", str(repo.root)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == ["alpha", "gamma"]


def test_cli_text_lists_names_and_says_why_all(repo: GitRepo) -> None:
    _branch(repo)
    repo.write("noxfile.py")
    repo.commit("nox")
    result = runner.invoke(app, ["changed", "--base", "main", "--head", "pr", "--repo", str(repo.root)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["alpha", "beta"]
    assert "every server selected: noxfile.py changed" in result.stderr


def test_cli_empty_json_list_when_nothing_changed(repo: GitRepo) -> None:
    result = runner.invoke(app, ["changed", "--base", "main", "--head", "main", "--json", "--repo", str(repo.root)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "[]"
    assert "no resource server changed" in result.stderr


def test_cli_unknown_ref_is_one_line(repo: GitRepo) -> None:
    result = runner.invoke(app, ["changed", "--base", "origin/nope", "--repo", str(repo.root)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines()[0] == f"error: unknown base ref 'origin/nope' in {repo.root}"
    assert "Traceback" not in result.stderr


def test_cli_not_a_repository(tmp_path: Path) -> None:
    result = runner.invoke(app, ["changed", "--base", "main", "--repo", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"error: {tmp_path} is not inside a git repository"


def test_direct_lists_only_servers_whose_files_changed(repo: GitRepo) -> None:
    _branch(repo)
    repo.write("gymkit/x.py")
    repo.write("resources_servers/beta/README.md")
    repo.commit("gymkit and beta")
    args = ["changed", "--base", "main", "--head", "pr", "--json", "--repo", str(repo.root)]
    assert json.loads(runner.invoke(app, args).stdout) == ["alpha", "beta"]
    assert json.loads(runner.invoke(app, [*args, "--direct"]).stdout) == ["beta"]


def test_shallow_clone_says_how_to_fix(repo: GitRepo, tmp_path: Path) -> None:
    _branch(repo)
    repo.write("resources_servers/gamma/app.py")
    repo.commit("gamma")
    repo.git("checkout", "-q", "main")
    repo.write("README.md", "main moves\n")
    repo.commit("main moves")
    clone = tmp_path / "shallow"
    url = f"file://{repo.root}"
    repo.git("clone", "-q", "--depth", "1", "--no-single-branch", url, str(clone))
    with pytest.raises(UserError, match="share no history in this shallow clone") as caught:
        changed_servers(clone, "origin/main", "origin/pr")
    assert "fetch-depth: 0" in (caught.value.hint or "")
