"""gymkit: build, test and validate resource servers for NeMo Gym-style RL training.

The names a contributor imports in ``app.py`` live here::

    from gymkit import BaseResourcesServer, BaseVerifyRequest, BaseVerifyResponse
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gymkit.runtime.server import BaseResourcesServer
    from gymkit.runtime.wire import (
        BaseMultiRewardVerifyResponse,
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
    "BaseMultiRewardVerifyResponse",
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

# Imported on first use: the server runtime pulls in FastAPI, which commands such as
# `gymkit new` never need, and importing it would cost them most of their start-up time.
_LAZY = {name: "gymkit.runtime.wire" for name in __all__ if name not in ("BaseResourcesServer", "__version__")}
_LAZY["BaseResourcesServer"] = "gymkit.runtime.server"


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gymkit' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
