"""The old path of `gymkit.runtime.config`: servers and tests written before the runtime had a
package of its own import it; it warns once and will go in a later release."""

import warnings

from gymkit.runtime.config import *  # noqa: F403

warnings.warn(
    "gymkit.config moved to gymkit.runtime.config; change the import",
    DeprecationWarning,
    stacklevel=2,
)
