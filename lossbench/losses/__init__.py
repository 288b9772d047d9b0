"""Losses: definitions, numpy reference, fused numba kernels, probes, links, implementations.

The public API (DESIGN.md): `get(name, **params) -> Loss`, `names()`, and on a `Loss`
`value`, `gradient` and `value_and_gradient` with ``reduction`` and ``impl``. Importing this
package loads numpy only; numba loads with the first fused kernel.
"""

from lossbench.losses.definitions import (
    IMPLS,
    LOSSES,
    REDUCTIONS,
    Loss,
    Parameter,
    UserLoss,
    get,
    names,
)
from lossbench.losses.links import IDENTITY, SIGMOID, Link

__all__ = [
    "IDENTITY", "IMPLS", "LOSSES", "REDUCTIONS", "SIGMOID", "Link", "Loss", "Parameter",
    "UserLoss", "get", "names",
]  # fmt: skip
