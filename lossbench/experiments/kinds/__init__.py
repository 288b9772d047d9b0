"""The built-in experiment kinds, one module each; importing this package registers them."""

from lossbench.experiments.kinds import (  # noqa: F401
    fit,
    influence,
    landscape,
    punishment,
    restarts,
)
