"""Wheel build hook: the template's git history goes into the wheel, so ``gymkit update`` can merge.

copier merges a template change by rendering the version a server was made from next to the
current one, and needs both as commits of a git repository. A wheel has no repository, so
this hook writes one per template (gymkit.scaffold._history): the gymkit template's, and the
NeMo Gym template's, which ships as ``gymkit/_template_nemo/`` next to its history.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

TEMPLATE_PATHS = ("copier.yml", "templates/resource_server")
BUNDLE = "gymkit/_template/history.bundle"
# The NeMo Gym template keeps its copier.yml in its own folder; its history has it at the root.
NEMO_TEMPLATE = "templates/nemo_resource_server"
NEMO_PACKAGED = "gymkit/_template_nemo"


def _history_module(root: Path) -> ModuleType:
    # By path: the build runs before gymkit (and what its package imports) is installed.
    spec = importlib.util.spec_from_file_location("_gymkit_history", root / "gymkit" / "scaffold" / "_history.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TemplateHistoryHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        # An editable install renders the template from the checkout and merges with its git.
        if self.target_name != "wheel" or version == "editable":
            return
        self._scratch = tempfile.mkdtemp(prefix="gymkit-template-history-")
        root, scratch = Path(self.root), Path(self._scratch)
        history = _history_module(root)
        bundle = scratch / "history.bundle"
        history.build_history(root, scratch / "repo", bundle, self.metadata.version, TEMPLATE_PATHS)
        build_data["force_include"][str(bundle)] = BUNDLE
        if (root / NEMO_TEMPLATE / "copier.yml").is_file():
            nemo_bundle = scratch / "nemo-history.bundle"
            strip = f"{NEMO_TEMPLATE}/"
            history.build_history(root, scratch / "nemo", nemo_bundle, self.metadata.version, (NEMO_TEMPLATE,), strip)
            build_data["force_include"][str(root / NEMO_TEMPLATE)] = NEMO_PACKAGED
            build_data["force_include"][str(nemo_bundle)] = f"{NEMO_PACKAGED}/history.bundle"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        scratch = getattr(self, "_scratch", None)
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
