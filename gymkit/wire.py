"""The old path of `gymkit.runtime.wire`: servers and tests written before the runtime had a
package of its own import it; it warns once and will go in a later release."""

import warnings

from gymkit.runtime.wire import *  # noqa: F403

warnings.warn(
    "gymkit.wire moved to gymkit.runtime.wire; change the import",
    DeprecationWarning,
    stacklevel=2,
)
