"""The numbers the contribution guide asks a reward profile to reach, shared by the profile's verdict and step 5."""

from __future__ import annotations

__all__ = ["MIN_MIXED", "MIN_PROMPTS", "MIN_SAMPLES"]

MIN_PROMPTS = 500
MIN_SAMPLES = 16
# Below this share of prompts whose samples get different rewards, GRPO has little to learn from:
# the profile's own verdict warns under it, and so does GYM505.
MIN_MIXED = 0.2
