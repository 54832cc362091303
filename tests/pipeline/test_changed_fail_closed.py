"""``gymkit changed`` fails closed: pull requests that once selected no server and left the status green.

Each was measured on the pipeline before this rule: (a) a server folder replaced by a link to
edited code elsewhere, (b) a new server added as a link, (c) a conftest.py above the servers,
which every server's test session loads. Each now selects every server or is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gymkit.cli import app
from gymkit.errors import UserError
from gymkit.gitutil import changed_servers

from .conftest import GitRepo

runner = CliRunner()
LINK_ERROR = r"a symbolic link under resources_servers/"


def _branch(repo: GitRepo) -> None:
    repo.git("checkout", "-q", "-b", "pr")


def _cli(repo: GitRepo, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["changed", "--base", "main", "--repo", str(repo.root), *args])
    return result.exit_code, result.stdout, result.stderr


def _outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


# --- (a) and (b): links ---------------------------------------------------------------------


def test_a_server_folder_replaced_by_a_link_is_refused(repo: GitRepo) -> None:
    _branch(repo)
    repo.write("vendor/alpha/app.py", "edited code the diff of alpha never shows\n")
    repo.write("vendor/alpha/data/example.jsonl", "{}\n")
    repo.git("rm", "-q", "-r", "resources_servers/alpha")
    repo.link("resources_servers/alpha", "../vendor/alpha")
    repo.commit("alpha is now a link")
    assert repo.git("ls-tree", "HEAD", "resources_servers/alpha").startswith("120000 ")
    with pytest.raises(UserError, match=rf"^resources_servers/alpha: {LINK_ERROR}"):
        changed_servers(repo.root, "main", "pr")


def test_b_new_server_added_as_a_link_is_refused(repo: GitRepo) -> None:
    _branch(repo)
    repo.write("vendor/gamma/app.py")
    repo.link("resources_servers/gamma", "../vendor/gamma")
    repo.commit("gamma is a link")
    with pytest.raises(UserError, match=rf"^resources_servers/gamma: {LINK_ERROR}"):
        changed_servers(repo.root, "main", "pr")


@pytest.mark.parametrize(
    ("link", "target"),
    [
        pytest.param("resources_servers/alpha/app.py", "../../vendor/app.py", id="file-in-server"),
        pytest.param("resources_servers/alpha/data", "../../vendor", id="folder-in-server"),
        pytest.param("resources_servers/alpha/tests/test_app.py", "/etc/hostname", id="absolute-target"),
    ],
)
def test_links_inside_a_server_are_refused(repo: GitRepo, link: str, target: str) -> None:
    _branch(repo)
    repo.write("vendor/app.py")
    if (repo.root / link).exists():
        repo.git("rm", "-q", "-r", link)
    repo.link(link, target)
    repo.commit("link inside alpha")
    with pytest.raises(UserError, match=rf"^{link}: {LINK_ERROR}"):
        changed_servers(repo.root, "main", "pr")


def test_the_whole_servers_folder_as_a_link_is_refused(repo: GitRepo) -> None:
    _branch(repo)
    repo.write("vendor/alpha/app.py", "edited\n")
    repo.git("rm", "-q", "-r", "resources_servers")
    repo.link("resources_servers", "vendor")
    repo.commit("all servers behind one link")
    with pytest.raises(UserError, match=rf"^resources_servers: {LINK_ERROR}"):
        changed_servers(repo.root, "main", "pr")


def test_a_link_already_on_the_base_is_refused_in_any_later_change(repo: GitRepo) -> None:
    # The head's whole tree is looked at, not only the diff: the session follows every link.
    repo.link("resources_servers/beta/shared.py", "../../gymkit/__init__.py")
    repo.commit("a link slipped in")
    _branch(repo)
    repo.write("resources_servers/alpha/README.md")
    repo.commit("unrelated edit")
    with pytest.raises(UserError, match=rf"^resources_servers/beta/shared.py: {LINK_ERROR}"):
        changed_servers(repo.root, "main", "pr")


def test_several_links_are_counted_in_one_line(repo: GitRepo) -> None:
    _branch(repo)
    repo.link("resources_servers/alpha/x.py", "y.py")
    repo.link("resources_servers/beta/x.py", "y.py")
    repo.commit("two links")
    with pytest.raises(UserError, match=r"^resources_servers/alpha/x.py: .* \(and 1 more\)"):
        changed_servers(repo.root, "main", "pr")


def test_a_link_with_a_newline_in_its_name_is_named_on_one_line(repo: GitRepo) -> None:
    _branch(repo)
    repo.link("resources_servers/alpha/evil\n.py", "app.py")
    repo.commit("odd link name")
    with pytest.raises(UserError) as caught:
        changed_servers(repo.root, "main", "pr")
    assert caught.value.message.startswith(r"resources_servers/alpha/evil\n.py: ")
    assert "\n" not in caught.value.message


def test_a_submodule_under_the_servers_is_refused(repo: GitRepo) -> None:
    _branch(repo)
    head = repo.git("rev-parse", "HEAD")
    # A gitlink entry is what `git submodule add` commits; no network or second repository needed.
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{head},resources_servers/gamma")
    repo.git("commit", "-q", "-m", "gamma as a submodule")
    assert repo.git("ls-tree", "HEAD", "resources_servers/gamma").startswith("160000 commit ")
    with pytest.raises(UserError, match=r"^resources_servers/gamma: a git submodule"):
        changed_servers(repo.root, "main", "pr")


def test_cli_refuses_a_link_with_one_error_line_and_writes_no_output(repo: GitRepo, tmp_path: Path) -> None:
    _branch(repo)
    repo.link("resources_servers/gamma", "../vendor/gamma")
    repo.commit("gamma is a link")
    outputs = tmp_path / "github_output"
    code, stdout, stderr = _cli(repo, "--head", "pr", "--json", "--github-output", str(outputs))
    assert code == 1
    assert stdout == ""
    assert stderr.splitlines()[0].startswith("error: resources_servers/gamma: a symbolic link")
    assert "Traceback" not in stderr
    assert not outputs.exists()  # so the status job sees no verdict, not an empty list


# --- the working tree, before pushing ------------------------------------------------------


def test_working_tree_link_is_refused_before_it_is_committed(repo: GitRepo) -> None:
    _branch(repo)
    repo.git("rm", "-q", "-r", "--cached", "resources_servers/alpha")
    (repo.root / "resources_servers/alpha/app.py").unlink()
    repo.link("resources_servers/alpha/app.py", "../../vendor/app.py")
    with pytest.raises(UserError, match=rf"^resources_servers/alpha/app.py: {LINK_ERROR}"):
        changed_servers(repo.root, "main")


def test_working_tree_folder_swapped_for_a_link_is_refused(repo: GitRepo) -> None:
    # The index still lists alpha's files; on disk they are reached through a link.
    _branch(repo)
    (repo.root / "vendor").mkdir()
    (repo.root / "resources_servers/alpha").rename(repo.root / "vendor/alpha")
    repo.link("resources_servers/alpha", "../vendor/alpha")
    with pytest.raises(UserError, match=rf"^resources_servers/alpha: {LINK_ERROR}"):
        changed_servers(repo.root, "main")


def test_working_tree_nested_repository_is_refused(repo: GitRepo) -> None:
    _branch(repo)
    nested = GitRepo(repo.root / "resources_servers/gamma")
    nested.write("app.py")
    nested.commit("its own history")
    with pytest.raises(UserError, match=r"^resources_servers/gamma: a git submodule or nested repository"):
        changed_servers(repo.root, "main")


def test_links_in_ignored_folders_are_not_refused(repo: GitRepo) -> None:
    # A server's local virtualenv is full of links; git ignores it, and so does the check.
    repo.write(".gitignore", ".venv/\n")
    repo.commit("ignore virtualenvs")
    _branch(repo)
    repo.link("resources_servers/alpha/.venv/bin/python", "/usr/bin/python3")
    repo.write("resources_servers/alpha/app.py", "edited\n")
    assert changed_servers(repo.root, "main").servers == ["alpha"]


# --- (c) and everything else outside one server: every server -----------------------------


@pytest.mark.parametrize(
    "path",
    [
        "resources_servers/conftest.py",  # (c): loaded by every server's pytest
        "conftest.py",  # (c): the same, from the root
        "tests/conftest.py",
        "docs/conftest.py",
        "pytest.ini",
        "setup.cfg",
        "tox.ini",
        "requirements.txt",
        "constraints.txt",
        "requirements/shared.txt",
        "nemo_gym/server_utils.py",  # a gym's own package
        "LICENSE",  # read by the licence check
        ".github/workflows/pr.yml",
        ".gitmodules",
        "resources_servers/__init__.py",
        "resources_servers/requirements.txt",
        "resources_servers/__pycache__/conftest.cpython-311.pyc",
        "resources_servers/.shared/helpers.py",
        "gymkit/README.md",  # prose, but inside the package, which may read it
        "somewhere/new/file.md",
        "sitecustomize.py",
    ],
)
def test_change_outside_one_server_selects_every_server(repo: GitRepo, path: str) -> None:
    _branch(repo)
    repo.write(path, "import pytest\n")
    repo.commit(f"add {path}")
    result = changed_servers(repo.root, "main", "pr")
    assert result.servers == ["alpha", "beta"]
    assert result.global_files == [path]
    assert result.direct == []


def test_c_conftest_above_the_servers_reaches_the_status_as_every_server(repo: GitRepo, tmp_path: Path) -> None:
    _branch(repo)
    repo.write(
        "resources_servers/conftest.py",
        "import pytest\n\n\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n"
        "    (yield).get_result().outcome = 'passed'\n",
    )
    repo.commit("every test passes")
    outputs = tmp_path / "github_output"
    code, stdout, stderr = _cli(repo, "--head", "pr", "--json", "--github-output", str(outputs))
    assert code == 0, stderr
    assert json.loads(stdout) == ["alpha", "beta"]
    assert "every server selected: resources_servers/conftest.py changed" in stderr
    assert _outputs(outputs) == {
        "servers": '["alpha", "beta"]',
        "direct": "[]",
        "selection": "all",
        "reason": "every server selected: resources_servers/conftest.py changed",
    }


def test_a_link_outside_the_servers_selects_every_server_even_with_a_prose_name(repo: GitRepo) -> None:
    _branch(repo)
    repo.link("docs/notes.md", "../conftest.py")
    repo.commit("a link that looks like docs")
    result = changed_servers(repo.root, "main", "pr")
    assert result.servers == ["alpha", "beta"]
    assert result.global_files == ["docs/notes.md"]


def test_server_config_files_stay_with_their_server(repo: GitRepo) -> None:
    # Inside a folder, a conftest.py or pytest.ini is loaded by that server's session only.
    _branch(repo)
    repo.write("resources_servers/alpha/conftest.py")
    repo.write("resources_servers/alpha/tests/conftest.py")
    repo.write("resources_servers/alpha/pyproject.toml")
    repo.commit("alpha's own test configuration")
    result = changed_servers(repo.root, "main", "pr")
    assert result.servers == ["alpha"]
    assert not result.all_selected


def test_prose_outside_the_servers_selects_nothing(repo: GitRepo) -> None:
    _branch(repo)
    repo.write("CONTRIBUTING.md")
    repo.write("docs/guide/ci.md")
    repo.write("docs/pictures/pipeline.png")
    repo.write("resources_servers/README.md")
    repo.commit("prose and a picture")
    result = changed_servers(repo.root, "main", "pr")
    assert result.servers == []
    assert result.global_files == []


def test_untracked_conftest_counts_in_the_working_tree(repo: GitRepo) -> None:
    repo.write("resources_servers/conftest.py")
    assert changed_servers(repo.root, "main").servers == ["alpha", "beta"]


# --- moves and deletions ----------------------------------------------------------------


def test_a_file_moved_from_one_server_to_another_selects_both(repo: GitRepo) -> None:
    _branch(repo)
    repo.git("mv", "resources_servers/alpha/app.py", "resources_servers/beta/helper.py")
    repo.commit("move a file across servers")
    result = changed_servers(repo.root, "main", "pr")
    assert result.servers == ["alpha", "beta"]
    assert result.direct == ["alpha", "beta"]


def test_a_server_moved_out_of_the_servers_selects_every_server(repo: GitRepo) -> None:
    # The moved code lands in a place no server owns: it could be imported by any of them.
    _branch(repo)
    repo.git("mv", "resources_servers/alpha", "shared_alpha")
    repo.commit("move alpha out")
    result = changed_servers(repo.root, "main", "pr")
    assert result.servers == ["beta"]
    assert result.deleted == ["alpha"]
    assert result.all_selected


def test_deleting_a_server_is_named_as_the_reason_nothing_is_checked(repo: GitRepo, tmp_path: Path) -> None:
    _branch(repo)
    repo.git("rm", "-q", "-r", "resources_servers/alpha")
    repo.commit("drop alpha")
    outputs = tmp_path / "github_output"
    code, stdout, stderr = _cli(repo, "--head", "pr", "--json", "--github-output", str(outputs))
    assert code == 0, stderr
    assert json.loads(stdout) == []
    assert _outputs(outputs) == {
        "servers": "[]",
        "direct": "[]",
        "selection": "none",
        "reason": "no resource server changed (deleted: alpha)",
    }


def test_a_shared_change_in_a_gym_without_servers_selects_none_and_says_so(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "empty")
    repo.write("README.md")
    repo.commit("base")
    _branch(repo)
    repo.write("conftest.py")
    repo.commit("conftest")
    outputs = tmp_path / "github_output"
    code, _, stderr = _cli(repo, "--head", "pr", "--github-output", str(outputs))
    assert code == 0, stderr
    got = _outputs(outputs)
    assert (got["servers"], got["selection"]) == ("[]", "none")
    assert got["reason"] == "no resource server to check: conftest.py changed, but there are none"


def test_github_output_reason_stays_one_line_for_odd_paths(repo: GitRepo, tmp_path: Path) -> None:
    _branch(repo)
    repo.write("a\nselection=none", "trying to add a second output line\n")
    repo.commit("newline in a shared path")
    outputs = tmp_path / "github_output"
    code, _, stderr = _cli(repo, "--head", "pr", "--github-output", str(outputs))
    assert code == 0, stderr
    lines = outputs.read_text().splitlines()
    assert [line.split("=", 1)[0] for line in lines] == ["servers", "direct", "selection", "reason"]
    assert _outputs(outputs)["selection"] == "all"
    assert _outputs(outputs)["reason"] == r"every server selected: a\nselection=none changed"


def test_github_output_appends_to_what_earlier_steps_wrote(repo: GitRepo, tmp_path: Path) -> None:
    outputs = tmp_path / "github_output"
    outputs.write_text("earlier=1\n")
    code, _, stderr = _cli(repo, "--head", "main", "--github-output", str(outputs))
    assert code == 0, stderr
    assert outputs.read_text().splitlines()[0] == "earlier=1"
    assert _outputs(outputs)["selection"] == "none"


def test_github_output_that_cannot_be_written_is_one_line(repo: GitRepo, tmp_path: Path) -> None:
    code, _, stderr = _cli(repo, "--head", "main", "--github-output", str(tmp_path / "missing" / "out"))
    assert code == 1
    assert stderr.splitlines()[0].startswith(f"error: {tmp_path / 'missing' / 'out'}: cannot write")


# --- dependencies between servers through requirements.txt ----------------------------------

WHEEL = "vendor/grader-0.1-py3-none-any.whl"


def _foo_and_bar(repo: GitRepo, bar_requirements: str) -> None:
    """The reviewer's gym: bar's requirements and import path reach into foo."""
    repo.write("resources_servers/foo/app.py")
    repo.write("resources_servers/foo/shared.py", "WEIGHT = 1\n")
    repo.write("resources_servers/foo/requirements.txt", "six==1.16.0\n-r extra.txt\n")
    repo.write("resources_servers/foo/extra.txt", "idna==3.7\n")
    repo.write("resources_servers/foo/vendor/grader-0.1-py3-none-any.whl", "wheel v1")
    repo.write("resources_servers/bar/requirements.txt", bar_requirements)
    repo.write("resources_servers/bar/app.py", "import sys\nsys.path.insert(0, '../foo')\nimport shared\n")
    repo.commit("foo, and bar that leans on it")
    _branch(repo)


@pytest.mark.parametrize(
    ("bar_requirements", "changed"),
    [
        pytest.param("-r ../foo/requirements.txt\n", ["requirements.txt", "shared.py"], id="reviewer"),
        pytest.param("-r ../foo/requirements.txt\n", ["extra.txt"], id="included-by-the-include"),
        pytest.param("-c ../foo/requirements.txt\n", ["requirements.txt"], id="constraint"),
        pytest.param("-e ../foo\n", ["shared.py"], id="editable-folder"),
        pytest.param("grader @ file:../foo/vendor/grader-0.1-py3-none-any.whl\n", [WHEEL], id="file-url"),
        pytest.param("../foo/vendor/grader-0.1-py3-none-any.whl\n", [WHEEL], id="bare"),
    ],
)
def test_a_server_whose_requirements_pull_in_a_changed_file_is_selected(
    repo: GitRepo, bar_requirements: str, changed: list[str]
) -> None:
    _foo_and_bar(repo, bar_requirements)
    for name in changed:
        repo.write(f"resources_servers/foo/{name}", "changed\n")
    repo.commit("change foo only")
    result = changed_servers(repo.root, "main", "pr")
    assert result.servers == ["bar", "foo"] and result.direct == ["foo"] and result.dependents == ["bar"]
    assert not result.all_selected


def test_requirement_dependencies_count_in_the_working_tree_too(repo: GitRepo) -> None:
    _foo_and_bar(repo, "-r ../foo/requirements.txt\n")
    repo.write("resources_servers/foo/extra.txt", "idna==3.8\n")
    assert changed_servers(repo.root, "main").servers == ["bar", "foo"]
    # An include added in the working tree, not yet committed, counts as well.
    repo.write("resources_servers/alpha/requirements.txt", "-r ../foo/extra.txt\n")
    assert changed_servers(repo.root, "main").servers == ["alpha", "bar", "foo"]


def test_a_change_no_requirements_pull_in_selects_its_server_only(repo: GitRepo) -> None:
    _foo_and_bar(repo, "-r ../foo/requirements.txt\n")
    repo.write("resources_servers/foo/shared.py", "WEIGHT = 2\n")  # imported by bar: GYM205 reports that
    repo.commit("change foo's module")
    result = changed_servers(repo.root, "main", "pr")
    assert result.servers == ["foo"] and result.dependents == []


@pytest.mark.parametrize(
    ("bar_requirements", "servers"),
    [
        pytest.param("-r ../../../outside.txt\n-r /etc/hosts\n-e /opt/pkg\n", ["foo"], id="outside-the-repository"),
        pytest.param("-e ../..\n", ["bar", "foo"], id="the-repository-root"),
    ],
)
def test_references_outside_the_repository_select_nothing_more(
    repo: GitRepo, bar_requirements: str, servers: list[str]
) -> None:
    # No diff shows a file outside the repository (GYM205 refuses the reference); the root holds every file.
    _foo_and_bar(repo, bar_requirements)
    repo.write("resources_servers/foo/extra.txt", "idna==3.8\n")
    repo.commit("change foo")
    assert changed_servers(repo.root, "main", "pr").servers == servers
