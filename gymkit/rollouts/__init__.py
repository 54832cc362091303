"""Rollouts: a model answers task prompts, calls the server's tools, and verify scores the result.

``collect_rollouts`` runs them against any OpenAI-compatible endpoint (Responses or Chat
Completions) or, with no endpoint configured, against an embedded local model.
"""

from __future__ import annotations

from gymkit.rollouts.collect import CollectionSummary, collect_rollouts, failures_path_for
from gymkit.rollouts.config import EndpointConfig, Sampling, endpoint_from_settings
from gymkit.rollouts.embedded import INSTALL_COMMAND, MODEL_NAME, EmbeddedModel, find_model_file

__all__ = [
    "INSTALL_COMMAND",
    "MODEL_NAME",
    "CollectionSummary",
    "EmbeddedModel",
    "EndpointConfig",
    "Sampling",
    "collect_rollouts",
    "endpoint_from_settings",
    "failures_path_for",
    "find_model_file",
]
