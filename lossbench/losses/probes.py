"""Memory probes: the floor a loss kernel is measured against (its "roofline").

`read` streams both input arrays once, as a value kernel must; `read_write` also writes a new
output array, as a gradient kernel must (allocation included, as in the kernels). Both convert
to float64 and sum like the kernels do, so the only difference left is the loss arithmetic.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["read", "read_write"]

_OPTIONS = dict(cache=True, error_model="numpy", nogil=True, fastmath={"reassoc", "nsz"})


@numba.njit(**_OPTIONS)
def read(a: np.ndarray, b: np.ndarray) -> float:
    """Sum of a + b in float64: one pass reading both arrays."""
    total = 0.0
    for i in range(a.size):
        total += np.float64(a[i]) + np.float64(b[i])
    return total


@numba.njit(**_OPTIONS)
def _difference(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    for i in range(a.size):
        out[i] = np.float64(a[i]) - np.float64(b[i])


def read_write(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A new array a - b: one pass reading both arrays and writing a third."""
    out = np.empty_like(a)
    _difference(a, b, out)
    return out
