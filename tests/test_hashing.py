"""server_code_sha256 changes with what decides a reward, and only with that."""

from __future__ import annotations

from pathlib import Path

import pytest

from gymkit.hashing import local_requirement_files, requirement_references, server_code_sha256

CONFIG = """\
adder_resources_server:
  resources_servers:
    adder:
      entrypoint: app.py
      domain: math
      tolerance: 0.01
      gymkit:
        waive:
          GYM601: no GPU here
"""


@pytest.fixture
def server(tmp_path: Path) -> Path:
    folder = tmp_path / "adder"
    (folder / "configs").mkdir(parents=True)
    (folder / "data").mkdir()
    (folder / "tests").mkdir()
    (folder / "app.py").write_text("server = None\n")
    (folder / "requirements.txt").write_text("")
    (folder / "configs" / "adder.yaml").write_text(CONFIG)
    (folder / "data" / "example.jsonl").write_text("{}\n")
    return folder


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        ("app.py", "server = None", "server = 1"),
        ("requirements.txt", "", "numpy==2.0.0\n"),
        ("configs/adder.yaml", "tolerance: 0.01", "tolerance: 0.1"),
        ("configs/adder.yaml", "domain: math", "domain: coding"),
    ],
)
def test_what_decides_a_reward_changes_the_hash(server: Path, file: str, old: str, new: str) -> None:
    before = server_code_sha256(server)
    _edit(server / file, old, new)
    assert server_code_sha256(server) != before


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        ("configs/adder.yaml", "no GPU here", "training needs a GPU and none was available"),
        ("configs/adder.yaml", "GYM601: no GPU here", "GYM601: no GPU here\n          GYM503: CPU only"),
        ("configs/adder.yaml", "      domain: math\n", "      # why math: see README\n      domain: math\n"),
        ("data/example.jsonl", "{}", '{"a": 1}'),
        ("tests", None, None),
    ],
)
def test_waivers_comments_data_and_tests_do_not(server: Path, file: str, old: str | None, new: str | None) -> None:
    before = server_code_sha256(server)
    if old is None:
        (server / file / "test_app.py").write_text("def test(): pass\n")
    else:
        _edit(server / file, old, new or "")
    assert server_code_sha256(server) == before


def test_a_broken_config_still_counts_by_its_bytes(server: Path) -> None:
    config = server / "configs" / "adder.yaml"
    config.write_text("key: [unclosed\n")
    before = server_code_sha256(server)
    config.write_text("key: [unclosed, more\n")
    assert server_code_sha256(server) != before


# --- every file decides, but a short list of what is no code ------------------------------------

GRADED_APP = "from reports.grader import score\n\nserver = score\n"


@pytest.fixture
def graded(server: Path) -> Path:
    """The reviewer's server: a grader under reports/, a data/ folder below the top, a vendored wheel."""
    files = {
        "app.py": GRADED_APP,
        "reports/grader.py": "def score():\n    return 1.0\n",
        "lib/data/scorer.py": "WEIGHT = 1\n",
        "lib/tests/helper.py": "HELP = 1\n",
        "rubric.json": '{"pass": 1}\n',
        "requirements.txt": "grader @ file:./vendor/grader-0.1-py3-none-any.whl\n",
        "vendor/grader-0.1-py3-none-any.whl": "wheel v1",
        ".settings.toml": "mode = 1\n",
        "data/lexicon.json": '{"a": 1}\n',
    }
    for rel, text in files.items():
        (server / rel).parent.mkdir(parents=True, exist_ok=True)
        (server / rel).write_text(text)
    return server


@pytest.mark.parametrize(
    ("file", "new"),
    [
        ("reports/grader.py", "def score():\n    return 0.0\n"),
        ("lib/data/scorer.py", "WEIGHT = 0\n"),
        ("lib/tests/helper.py", "HELP = 0\n"),
        ("rubric.json", '{"pass": 0}\n'),
        ("vendor/grader-0.1-py3-none-any.whl", "wheel v2"),
        (".settings.toml", "mode = 2\n"),
        ("data/lexicon.json", '{"a": 2}\n'),  # data/ that is not rows: a file verify may read
        ("reports/new_grader.py", "x = 1\n"),  # reports/ is gymkit's only below reward_profile/ and training/
    ],
)
def test_every_file_the_server_reads_changes_the_hash(graded: Path, file: str, new: str) -> None:
    before = server_code_sha256(graded)
    (graded / file).write_text(new)
    assert server_code_sha256(graded) != before


@pytest.mark.parametrize(
    "file",
    [
        "README.md",
        ".copier-answers.yml",
        "data/.gitignore",
        "reports/reward_profile/reward_profile.json",
        "reports/training/training.json",
        "__pycache__/app.cpython-311.pyc",
        "lib/__pycache__/x.pyc",
        "lib/stray.pyc",
        ".pytest_cache/v/cache/lastfailed",
        ".venv/lib/site.py",
        ".gymkit-cache/tests/adder.json",
        "data/train.jsonl",
        "tests/.hidden.toml",
        "pytest.ini",
        "conftest.py",
    ],
)
def test_prose_reports_caches_tests_and_rows_do_not(graded: Path, file: str) -> None:
    before = server_code_sha256(graded)
    (graded / file).parent.mkdir(parents=True, exist_ok=True)
    (graded / file).write_text("anything\n")
    assert server_code_sha256(graded) == before


def test_a_requirement_outside_the_server_counts(tmp_path: Path, graded: Path) -> None:
    shared = tmp_path / "foo" / "requirements.txt"
    shared.parent.mkdir()
    shared.write_text("six==1.16.0\n")
    (graded / "requirements.txt").write_text("-r ../foo/requirements.txt\n")
    before = server_code_sha256(graded)
    shared.write_text("# shared by every server\nsix == 1.16.0\n")
    assert server_code_sha256(graded) == before
    shared.write_text("six==1.17.0\n")
    assert server_code_sha256(graded) != before


def test_local_requirement_files_are_what_installing_reads(tmp_path: Path, graded: Path) -> None:
    (graded / "pkg" / "src").mkdir(parents=True)
    (graded / "pkg" / "src" / "mod.py").write_text("")
    (graded / "pkg" / "src" / "__pycache__").mkdir()
    (graded / "pkg" / "src" / "__pycache__" / "mod.pyc").write_text("")
    (graded / "extra.txt").write_text("-c constraints.txt\n")
    (graded / "constraints.txt").write_text("six<2\n")
    (graded / "requirements.txt").write_text(
        "# pinned\n"
        "grader @ file:./vendor/grader-0.1-py3-none-any.whl\n"
        "-r extra.txt\n"
        "-e ./pkg\n"
        "numpy==2.0.0 ; python_version >= '3.11'\n"
        "remote @ https://example.invalid/remote-1.0-py3-none-any.whl\n"
        "--index-url https://example.invalid/simple\n"
        "./missing.whl\n"
    )
    found = [p.relative_to(graded.resolve()).as_posix() for p in local_requirement_files(graded)]
    assert found == [
        "constraints.txt",
        "extra.txt",
        "pkg/src/mod.py",
        "requirements.txt",
        "vendor/grader-0.1-py3-none-any.whl",
    ]


def test_requirement_references_read_pip_syntax() -> None:
    text = (
        "-r base.txt\n--requirement=more.txt\n-c ../c.txt\n-e ../foo\n-e git+https://x.invalid/r.git#egg=r\n"
        "a @ file:///opt/a.whl\nb@file:./b.tar.gz ; python_version > '3'\n./c.whl\nd>=1 \\\n  --hash=sha256:00\n"
        "-f ./wheels\n# -r commented.txt\nvendor/e.zip  # a comment\n"
    )
    assert requirement_references(text) == [
        ("include", "base.txt"),
        ("include", "more.txt"),
        ("include", "../c.txt"),
        ("editable", "../foo"),
        ("path", "/opt/a.whl"),
        ("path", "./b.tar.gz"),
        ("path", "./c.whl"),
        ("find-links", "./wheels"),
        ("path", "vendor/e.zip"),
    ]


# --- requirements count by what pip would install, not by their bytes ---------------------------

PINNED = "numpy==2.0.0\nrequests[socks,security]>=2.31,<3 ; python_version >= '3.11'\n-r extra.txt\n"


@pytest.fixture
def pinned(server: Path) -> Path:
    (server / "requirements.txt").write_text(PINNED)
    (server / "extra.txt").write_text("six==1.16.0\n")
    return server


@pytest.mark.parametrize(
    "text",
    [
        "# what the server needs\n" + PINNED + "\n\n# the end\n",
        PINNED.replace("\n", "  # pinned for the grader\n"),
        PINNED.replace("\n", "\r\n"),
        "\n\n" + PINNED.replace("numpy==2.0.0", "  numpy == 2.0.0  ") + "   \n",
        PINNED.replace("numpy==2.0.0", "NumPy==2.0.0"),  # pip folds case, "_" and "." in names
        PINNED.replace("[socks,security]>=2.31,<3", "[security, socks] <3, >=2.31"),
        PINNED.replace("python_version >= '3.11'", 'python_version>="3.11"'),
        PINNED.replace("-r extra.txt", "--requirement=extra.txt"),
        PINNED.replace("-r extra.txt", "-r \\\n  extra.txt"),
    ],
)
def test_requirements_rewritten_to_the_same_meaning_keep_the_hash(pinned: Path, text: str) -> None:
    before = server_code_sha256(pinned)
    (pinned / "requirements.txt").write_text(text)
    assert server_code_sha256(pinned) == before


@pytest.mark.parametrize(
    "text",
    [
        PINNED.replace("numpy==2.0.0", "numpy==2.0.1"),
        PINNED.replace("[socks,security]", "[socks]"),
        PINNED.replace(" ; python_version >= '3.11'", ""),
        PINNED.replace("-r extra.txt", "-c extra.txt"),
        PINNED + "--index-url https://example.invalid/simple\n",
        PINNED + "./vendor/x.whl\n",
        # Order is kept: pip and uv prefer the first-listed requirement when they backtrack.
        "requests[socks,security]>=2.31,<3 ; python_version >= '3.11'\nnumpy==2.0.0\n-r extra.txt\n",
    ],
)
def test_requirements_that_could_install_something_else_change_the_hash(pinned: Path, text: str) -> None:
    before = server_code_sha256(pinned)
    (pinned / "requirements.txt").write_text(text)
    assert server_code_sha256(pinned) != before


@pytest.mark.parametrize(
    ("file", "start", "same", "changed"),
    [
        ("extra.txt", "six==1.16.0\n", "# shared pins\nsix == 1.16.0  # for the grader\n", "six==1.17.0\n"),
        # A server that installs its own folder: requirements.txt is still read as requirements.
        ("requirements.txt", "-e .\n" + PINNED, "-e .  # the server is a package\n" + PINNED, "-e ./pkg\n" + PINNED),
        ("requirements.txt", "g @ file:./v/g.whl\n", "G@file:./v/g.whl  # vendored\n", "g @ file:./v/h.whl\n"),
        # A line pip would reject counts by its text.
        ("requirements.txt", "numpy===\n", "numpy===  # broken\n", "numpy==!\n"),
    ],
)
def test_included_own_folder_and_broken_requirements_count_by_meaning(
    pinned: Path, file: str, start: str, same: str, changed: str
) -> None:
    (pinned / file).write_text(start)
    before = server_code_sha256(pinned)
    (pinned / file).write_text(same)
    assert server_code_sha256(pinned) == before
    (pinned / file).write_text(changed)
    assert server_code_sha256(pinned) != before


def test_the_test_stamp_agrees_with_the_profile_on_requirements(pinned: Path) -> None:
    from gymkit.testing.stamp import code_fingerprint

    before = code_fingerprint(pinned)[0]
    (pinned / "requirements.txt").write_text("# pins\n" + PINNED)
    assert code_fingerprint(pinned)[0] == before
    (pinned / "requirements.txt").write_text(PINNED.replace("2.0.0", "2.1.0"))
    assert code_fingerprint(pinned)[0] != before


PYPROJECT = """\
[project]
name = "adder"
version = "0.1.0"
dependencies = ["numpy==2.0.0", "requests>=2.31"]
"""


@pytest.mark.parametrize(
    ("text", "same"),
    [
        ("# the server's own project\n" + PYPROJECT.replace('"requests>=2.31"]', '"requests >= 2.31"]  # http'), True),
        (PYPROJECT.replace('["numpy==2.0.0", "requests>=2.31"]', '[\n  "numpy==2.0.0",\n  "Requests>=2.31",\n]'), True),
        (PYPROJECT.replace("numpy==2.0.0", "numpy==2.0.1"), False),
        (PYPROJECT.replace("0.1.0", "0.2.0"), False),
    ],
)
def test_a_pyproject_server_counts_by_what_its_pyproject_says(server: Path, text: str, same: bool) -> None:
    (server / "requirements.txt").unlink()
    (server / "pyproject.toml").write_text(PYPROJECT)
    before = server_code_sha256(server)
    (server / "pyproject.toml").write_text(text)
    assert (server_code_sha256(server) == before) is same
