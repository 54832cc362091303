"""``gymkit train``: GRPO on a resource server's tasks with TRL's GRPOTrainer (the train extra).

Nothing here imports torch or TRL at import time: ``gymkit --help`` and the default install
stay free of them, and a missing extra is reported by :func:`gymkit.train.run.check_extra`.
"""

from __future__ import annotations
