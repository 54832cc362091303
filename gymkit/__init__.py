"""gymkit: build, test and validate resource servers for NeMo Gym-style RL training.

The names a contributor imports in ``app.py`` live here::

    from gymkit import BaseResourcesServer, BaseVerifyRequest, BaseVerifyResponse
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from gymkit.server import BaseResourcesServer
from gymkit.wire import (
    BaseRunRequest,
    BaseSeedSessionRequest,
    BaseSeedSessionResponse,
    BaseVerifyRequest,
    BaseVerifyResponse,
    Response,
    ResponseCreateParams,
    function_calls,
    output_text,
)

try:
    __version__ = version("gymkit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "BaseResourcesServer",
    "BaseRunRequest",
    "BaseSeedSessionRequest",
    "BaseSeedSessionResponse",
    "BaseVerifyRequest",
    "BaseVerifyResponse",
    "Response",
    "ResponseCreateParams",
    "__version__",
    "function_calls",
    "output_text",
]
