"""Judgements over rollout files, as pure functions: health (`gymkit health`) and comparison (`gymkit compare`)."""

from __future__ import annotations

from gymkit.evaluate.compare import compare_rewards, rewards_of_file
from gymkit.evaluate.health import CATEGORIES, HealthReport, health_of_files, health_of_rows
from gymkit.evaluate.summary import RowSummary, final_answer, summarise

__all__ = [
    "CATEGORIES",
    "HealthReport",
    "RowSummary",
    "compare_rewards",
    "final_answer",
    "health_of_files",
    "health_of_rows",
    "rewards_of_file",
    "summarise",
]
