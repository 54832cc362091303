"""Scaffolding: ``gymkit new`` renders the copier template into resources_servers/NAME, and
``gymkit update`` carries later template versions into servers made from it.

The template is ``copier.yml`` plus ``templates/resource_server`` in the gymkit checkout.
``new`` renders a snapshot of exactly those paths (the working copy, so template edits can
be tried before they are committed) and records in the server's ``.copier-answers.yml``
where the template lives and which commit it was; ``update`` merges the difference between
that commit and the template's current commit into the contributor's edited files.
"""

from __future__ import annotations

from gymkit.scaffold._source import ANSWERS_FILE, TEMPLATE_PATHS, TemplateError, find_template_root
from gymkit.scaffold.new import NewServer, new_server, validate_name
from gymkit.scaffold.update import UpdateResult, update_server

__all__ = [
    "ANSWERS_FILE",
    "TEMPLATE_PATHS",
    "NewServer",
    "TemplateError",
    "UpdateResult",
    "find_template_root",
    "new_server",
    "update_server",
    "validate_name",
]
