"""The environment card: one self-contained HTML page about a server (``gymkit report NAME --html PATH``)."""

from __future__ import annotations

from gymkit.cards.gather import Card, gather_card
from gymkit.cards.html import render_card

__all__ = ["Card", "gather_card", "render_card"]
