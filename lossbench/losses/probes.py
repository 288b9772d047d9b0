"""Memory probes: the floor a loss kernel is measured against (its "roofline").

`read` streams both input arrays once, as a value kernel must; `read_write` also writes a new
output array, as a gradient kernel must (allocation included, as in the kernels);
`read_write2` writes two, as a gradient-and-hessian kernel must. Both convert
to float64 and sum like the kernels do, so the only difference left is the loss arithmetic.
`parallel` gives their all-core variants (numba ``prange`` over the fused kernels' blocks), the
floor of the all-core fused kernels.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["parallel", "read", "read_write", "read_write2"]

_OPTIONS = dict(cache=True, error_model="numpy", nogil=True, fastmath={"reassoc", "nsz"})
_PARALLEL = dict(_OPTIONS, parallel=True)
_BLOCK = 2048  # elements per prange iteration, as in the fused kernels


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


@numba.njit(**_OPTIONS)
def _difference_and_product(a, b, out, other) -> None:
    for i in range(a.size):
        out[i] = np.float64(a[i]) - np.float64(b[i])
        other[i] = np.float64(a[i]) * np.float64(b[i])


def read_write2(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """New arrays a - b and a · b: one pass reading both arrays and writing two."""
    out, other = np.empty_like(a), np.empty_like(a)
    _difference_and_product(a, b, out, other)
    return out, other


# each block a call: a loop inside a prange body was not vectorized (2.7x slower than `read`)
@numba.njit(**_PARALLEL)
def _read_parallel(a: np.ndarray, b: np.ndarray) -> float:
    sums = np.empty((a.size + _BLOCK - 1) // _BLOCK)
    for j in numba.prange(sums.size):
        sums[j] = read(a[j * _BLOCK : (j + 1) * _BLOCK], b[j * _BLOCK : (j + 1) * _BLOCK])
    return sums.sum()


@numba.njit(**_PARALLEL)
def _difference_parallel(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    for j in numba.prange((a.size + _BLOCK - 1) // _BLOCK):
        s = slice(j * _BLOCK, (j + 1) * _BLOCK)
        _difference(a[s], b[s], out[s])


def _read_write_parallel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.empty_like(a)
    _difference_parallel(a, b, out)
    return out


@numba.njit(**_PARALLEL)
def _difference_and_product_parallel(a, b, out, other) -> None:
    for j in numba.prange((a.size + _BLOCK - 1) // _BLOCK):
        s = slice(j * _BLOCK, (j + 1) * _BLOCK)
        _difference_and_product(a[s], b[s], out[s], other[s])


def _read_write2_parallel(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out, other = np.empty_like(a), np.empty_like(a)
    _difference_and_product_parallel(a, b, out, other)
    return out, other


def parallel(probe: str):
    """The all-core variant of probe `probe` ("read", "read_write" or "read_write2")."""
    return {
        "read": _read_parallel,
        "read_write": _read_write_parallel,
        "read_write2": _read_write2_parallel,
    }[probe]
