"""A pyproject.toml server's dependencies come from where its ``[tool.uv.sources]`` says, as uv takes them.

v0.5.0's code_fim depends on ``human-eval-infilling`` with a git source; installed from the index
instead, the name gave PyPI's unrelated package, and the server died on ``No module named
'human_eval_infilling'``. A name resolved on the index against the project's wish is also how a
dependency-confusion attack gets in.
"""

from __future__ import annotations

from pathlib import Path

from gymkit.nemo.environment import nemo_requirements

PYPROJECT = """\
[project]
name = "code-fim"
version = "0.0.0"
dependencies = ["nemo-gym[dev]", "human_eval-Infilling", "helper[fast]>=1", "pinned", "plain==2"]

[tool.uv.sources]
nemo-gym = { path = "../..", editable = true }
human-eval-infilling = { git = "https://github.com/example/human-eval-infilling.git" }
helper = { path = "vendor/helper" }
pinned = { git = "https://example.org/pinned.git", tag = "v3" }
"""


def test_git_and_path_sources_replace_the_index(tmp_path: Path) -> None:
    server = tmp_path / "resources_servers" / "code_fim"
    server.mkdir(parents=True)
    (server / "pyproject.toml").write_text(PYPROJECT)
    lines = (nemo_requirements(server).rewritten or "").splitlines()
    assert "human_eval-Infilling @ git+https://github.com/example/human-eval-infilling.git" in lines
    # A direct reference carries no version (PEP 508): the source is what decides.
    assert f"helper[fast] @ {(server / 'vendor' / 'helper').resolve().as_uri()}" in lines
    assert any(line.startswith("helper[fast]") and line.endswith("vendor/helper") for line in lines), lines
    assert "pinned @ git+https://example.org/pinned.git@v3" in lines
    assert "plain==2" in lines
