"""Rules of the contribution guide that are not checks: README reading, licences, profile thresholds.

Checks, the PR description and the environment card all read a server through these, so
they agree on what a section or a licence is.
"""
