"""Reward profiles of rollouts (checklist step 5) and evidence from training logs (step 6)."""

from __future__ import annotations

from gymkit.profiling.output import PROFILE_JSON, PROFILE_MD, write_profile, write_report_folder
from gymkit.profiling.report import SCHEMA_VERSION, Profile, build_profile, profile_files

__all__ = [
    "PROFILE_JSON",
    "PROFILE_MD",
    "SCHEMA_VERSION",
    "Profile",
    "build_profile",
    "profile_files",
    "write_profile",
    "write_report_folder",
]
