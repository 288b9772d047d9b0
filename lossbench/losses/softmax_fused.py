"""The fused softmax cross-entropy kernels on (n, K) logits with integer class labels
(`lossbench.losses.softmax`, ``impl="fused"``).

A softmax costs one exp per element, and an accurate exp (`fused._exp_nonpositive`, within a
few ulps of libm) costs more than reading and writing the element: the kernel is bound by its
exps, not by memory, so its floor is a vectorized exp over the (n, K) array (`exp_floor`).
To run at it, rows are taken in blocks of `_ROWS`, and each step of a row's work is a loop
the compiler vectorizes: the row maxima, the logits shifted by them into a float64 scratch
block, one flat exp over the block (the only transcendental work per element), the row sums,
one vectorized log per row, and the probabilities scaled into the gradient. With K a
compile-time constant (2 to `MAX_UNROLLED`), the loops over a row's classes unroll: a kernel
per K, compiled on first use and cached on disk like the other fused kernels.

Validation rides along: every shifted logit is summed into a check, which is finite exactly
when every logit is finite and no two in a row are 1.8e308 apart. Sums are per block, combined
exactly by the caller (`math.fsum`), so one core and all give the same bits.
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np

from lossbench.losses.fused import _add_reassoc, _exp_nonpositive, _log_poly, _split

__all__ = ["MAX_UNROLLED", "exp_floor", "kernel"]

MAX_UNROLLED = 16  # a kernel per class count up to here; above, K is read from the shape
_ROWS = 256  # rows per block: its scratch (256 K float64) stays in the L2 cache
_OPTIONS = dict(cache=True, nogil=True, error_model="numpy", fastmath=False)
_INLINE = dict(_OPTIONS, inline="always")


@numba.njit(**_INLINE)
def _log(x):
    """log x for positive normal x (fdlibm's algorithm, vectorizable; `fused._log_poly`)."""
    k, f = _split(x)
    return _log_poly(k, f, f / (2.0 + f), 0.0)


@numba.njit(**_OPTIONS)
def _exps(a, size):
    for i in range(size):
        a[i] = _exp_nonpositive(a[i])


@numba.njit(**_OPTIONS)
def _exps_into(a, out):  # pragma: no cover - compiled
    for i in range(a.size):
        out[i] = _exp_nonpositive(-abs(np.float64(a[i])))


def exp_floor(z: np.ndarray) -> np.ndarray:
    """exp(−|z|) of every element into a new array: one vectorized exp per element, read and
    written, the least any exact softmax gradient does (the kernels' floor)."""
    out = np.empty_like(z)
    _exps_into(z.reshape(-1), out.reshape(-1))
    return out


def _make(classes: int):
    """The kernels for `classes` classes (0: read from the shape)."""

    @numba.njit(**_OPTIONS)
    def block(z, labels, scale, gradient, hessian, values, e, m, s):  # pragma: no cover
        """One block of rows (flat views of z, gradient, hessian; gradient and hessian may be
        empty, values too): (sum of the rows' values, check)."""
        rows = labels.size
        k = classes if classes else z.size // rows
        check = 0.0
        for i in range(rows):
            b = i * k
            top = np.float64(z[b])
            for j in range(1, k):
                top = max(top, np.float64(z[b + j]))
            m[i] = top
            for j in range(k):
                shifted = np.float64(z[b + j]) - top
                e[b + j] = shifted
                check = _add_reassoc(check, shifted)
        _exps(e, rows * k)
        for i in range(rows):
            b = i * k
            total = 0.0
            for j in range(k):
                total = _add_reassoc(total, e[b + j])
            s[i] = total
        if gradient.size:
            for i in range(rows):
                b = i * k
                inv = scale / s[i]
                for j in range(k):
                    gradient[b + j] = e[b + j] * inv
                gradient[b + labels[i]] -= scale
        if hessian.size:
            for i in range(rows):
                b = i * k
                inv = 1.0 / s[i]
                for j in range(k):
                    p = e[b + j] * inv
                    hessian[b + j] = p * (1.0 - p) * scale
        for i in range(rows):
            m[i] = m[i] + _log(s[i]) - np.float64(z[i * k + labels[i]])
        value = 0.0
        for i in range(rows):
            value = _add_reassoc(value, m[i])
        if values.size:
            for i in range(rows):
                values[i] = m[i]
        return value, check

    @numba.njit(**_OPTIONS)
    def serial(z, labels, scale, gradient, hessian, values, sums, checks):  # pragma: no cover
        k = z.size // labels.size
        e, m, s = np.empty(_ROWS * k), np.empty(_ROWS), np.empty(_ROWS)
        for b in range(sums.size):
            start, stop = b * _ROWS, min(labels.size, (b + 1) * _ROWS)
            sums[b], checks[b] = block(
                z[start * k : stop * k], labels[start:stop], scale,
                gradient[start * k : stop * k], hessian[start * k : stop * k],
                values[start:stop], e, m, s,
            )  # fmt: skip

    @numba.njit(**dict(_OPTIONS, parallel=True))
    def parallel(z, labels, scale, gradient, hessian, values, sums, checks):  # pragma: no cover
        k = z.size // labels.size
        for b in numba.prange(sums.size):
            e, m, s = np.empty(_ROWS * k), np.empty(_ROWS), np.empty(_ROWS)
            start, stop = b * _ROWS, min(labels.size, (b + 1) * _ROWS)
            sums[b], checks[b] = block(
                z[start * k : stop * k], labels[start:stop], scale,
                gradient[start * k : stop * k], hessian[start * k : stop * k],
                values[start:stop], e, m, s,
            )  # fmt: skip

    return serial, parallel


@functools.cache
def _kernels(classes: int):
    return _make(classes if classes <= MAX_UNROLLED else 0)


def kernel(
    z: np.ndarray,
    labels: np.ndarray,
    scale: float,
    *,
    gradient: bool = False,
    hessian: bool = False,
    values: bool = False,
    all_cores: bool = False,
) -> tuple[float, bool, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """(Σ of the rows' values, whether every input was finite, gradient (n, K) times
    `scale`, hessian diagonal times `scale`, per-row values) for C-contiguous logits `z` and
    int64 `labels` in [0, K); what was not asked for is None."""
    n, k = z.shape
    outputs = [np.empty_like(z) if wanted else np.empty((0, k), z.dtype)
               for wanted in (gradient, hessian)]  # fmt: skip
    rows = np.empty(n) if values else np.empty(0)
    blocks = -(-n // _ROWS)
    sums, checks = np.empty(blocks), np.empty(blocks)
    serial, parallel = _kernels(k)
    run = parallel if all_cores else serial
    run(
        z.reshape(-1),
        labels,
        scale,
        outputs[0].reshape(-1),
        outputs[1].reshape(-1),
        rows,
        sums,
        checks,
    )
    finite = bool(np.all(np.isfinite(sums)) and np.all(np.isfinite(checks)))
    total = math.fsum(sums) if finite else math.nan
    return (total, finite, outputs[0] if gradient else None, outputs[1] if hessian else None,
            rows.astype(z.dtype) if values else None)  # fmt: skip
