"""The old path of `gymkit.runtime.serving`: servers and tests written before the runtime had a
package of its own import it; it warns once and will go in a later release."""

import warnings

from gymkit.runtime.serving import *  # noqa: F403

warnings.warn(
    "gymkit.serving moved to gymkit.runtime.serving; change the import",
    DeprecationWarning,
    stacklevel=2,
)
