"""Testing a resource server in an environment of its own: ``gymkit test NAME``.

:mod:`~gymkit.testing.environment` builds the server's virtualenv (gymkit and the server's
requirements.txt, nothing else), :mod:`~gymkit.testing.session` runs the three stages in it,
and :mod:`~gymkit.testing.stamp` records the result where ``gymkit check`` reads it.
"""

from __future__ import annotations
