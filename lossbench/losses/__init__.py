"""Losses: definitions, numpy reference, fused numba kernels, probes, links, implementations.

The public API (docs/losses.md): `get(name, **params) -> Loss`, `names()`, and on a `Loss`
`value`, `gradient` and `value_and_gradient` with ``reduction`` and ``impl``. Importing this
package loads numpy only; numba loads with the first fused kernel.

The modules: `base` (the `Loss` family and its conventions), `builtin` (the losses), `user`
(user code), `labels` (label text and grids, the only place), `spec` (names to losses),
`fused` (numba kernels), `impls` (implementations and peers), `links`, `probes`.
"""

from lossbench.losses.base import IMPLS, REDUCTIONS, Loss, Parameter
from lossbench.losses.builtin import LOSSES
from lossbench.losses.links import IDENTITY, SIGMOID, Link
from lossbench.losses.softmax import ROW_LOSSES
from lossbench.losses.spec import AnyLoss, expand, get, names
from lossbench.losses.user import UserLoss

__all__ = [
    "IDENTITY",
    "IMPLS",
    "LOSSES",
    "REDUCTIONS",
    "ROW_LOSSES",
    "SIGMOID",
    "AnyLoss",
    "Link",
    "Loss",
    "Parameter",
    "UserLoss",
    "expand",
    "get",
    "names",
]
