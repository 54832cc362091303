"""Running NeMo Gym's own servers, as they are, from a NeMo Gym checkout or a gym of servers that import it.

Nothing here imports ``nemo_gym``: gymkit finds out which kind a server is by reading its
source, builds it an environment with the real nemo-gym runtime on the Python it needs, and
starts it there the way NeMo Gym does. Everything else talks to it over HTTP.
"""
