"""The fused softmax cross-entropy kernels on (n, K) logits with integer class labels
(`lossbench.losses.softmax`, ``impl="fused"``).

A softmax costs one exp per element, and an accurate exp (`_exp_normal`, within 2 ulps) costs
more than reading and writing the element: the kernel is bound by its exps, not by memory, so
its floor is a vectorized exp over the (n, K) array (`exp_floor`).
To run at it, rows are taken in blocks of `_ROWS`, and each step of a row's work is a loop
the compiler vectorizes: the row maxima, the logits shifted by them into a scratch block (in
z's dtype: float32 logits take float32 exps, twice the lanes), one flat exp over the block
(the only transcendental work per element), the row sums, one vectorized log per row, and
the probabilities scaled into the gradient. With K a compile-time constant (2 to
`MAX_UNROLLED`, on arrays of `UNROLL_FROM` elements or more) the loops over a row's classes
unroll: a kernel per K, compiled on first use and cached on disk like the other fused
kernels. All cores: threads over contiguous runs of whole blocks (the kernel releases the GIL).

Validation rides along: every shifted logit times 0 is summed into a check (in z's dtype:
no conversion, all the lanes), which is 0 exactly when every logit is finite and no two in a
row are further apart than the dtype's range (1.8e308, 3.4e38), and NaN otherwise. Sums are
per block, combined exactly by the caller (`math.fsum`), so one core and all give the same
bits.
"""

from __future__ import annotations

import functools
import math
import os

import numba
import numpy as np
from llvmlite import ir as llvm_ir
from numba import types
from numba.extending import intrinsic, overload

from lossbench.losses.fused import (
    _EXP_LN2_HI_F,
    _EXP_LN2_LO_F,
    _INV_FACTORIAL,
    _INV_FACTORIAL_F,
    _INV_LN2,
    _INV_LN2_F,
    _LN2_HI,
    _LN2_LO,
    _add_reassoc,
    _fma,
    _log_poly,
    _split,
)

__all__ = ["MAX_UNROLLED", "exp_floor", "kernel"]

MAX_UNROLLED = 16  # a kernel per class count up to here; above, K is read from the shape
# arrays smaller than this take the kernel that reads K from the shape: compiling a kernel
# for their K (1 to 2 s, once: it is cached on disk) costs more than unrolling saves on them
UNROLL_FROM = 1 << 16
_ROWS = 256  # rows per block: its scratch (256 K float64) stays in the L2 cache
_OPTIONS = dict(cache=True, nogil=True, error_model="numpy", fastmath=False)
_INLINE = dict(_OPTIONS, inline="always")


@numba.njit(**_INLINE)
def _log(x):
    """log x for positive normal x (fdlibm's algorithm, vectorizable; `fused._log_poly`)."""
    k, f = _split(x)
    return _log_poly(k, f, f / (2.0 + f), 0.0)


_SHIFTER = 6755399441055744.0  # 1.5 · 2^52: x + it rounds x to an integer, held in its low bits
_SHIFTER_F = np.float32(12582912.0)  # 1.5 · 2^23, float32's
_SHIFTERS = {  # LLVM's integer and float types, the shifter's bits, the exponent's bias, width
    types.float64: (
        llvm_ir.IntType(64),
        llvm_ir.DoubleType(),
        int(np.array(_SHIFTER).view(np.int64)),
        1023,
        52,
    ),
    types.float32: (
        llvm_ir.IntType(32),
        llvm_ir.FloatType(),
        int(np.array(_SHIFTER_F).view(np.int32)),
        127,
        23,
    ),
}


@intrinsic
def _pow2(typingctx, shifted):
    """2^k in shifted's type for shifted = k + `_SHIFTER` (float64, k in [−1022, 1023]) or
    k + `_SHIFTER_F` (float32, k in [−126, 127]): integer additions and a shift of the bits,
    no float-to-integer conversion (which AVX2 lacks for 64-bit integers, and which left
    `fused._exp_nonpositive` scalar in part)."""
    if shifted not in _SHIFTERS:
        return None
    itype, ftype, shifter_bits, bias, mantissa = _SHIFTERS[shifted]

    def codegen(context, builder, signature, args):
        k = builder.sub(builder.bitcast(args[0], itype), itype(shifter_bits))
        bits = builder.shl(builder.add(k, itype(bias)), itype(mantissa))
        return builder.bitcast(bits, ftype)

    return shifted(shifted), codegen


@numba.njit(**_INLINE)
def _exp_normal(x):
    """exp(x) for x ≤ 0, 0 where it would be subnormal (x < −708: a probability below 1e-307
    counts for nothing beside the row's largest, which is 1). x = k ln2 + r, |r| ≤ ln2 / 2, and
    exp(r) by its Taylor series to r^13 in Estrin's scheme (a shallow tree of FMAs rather than
    Horner's chain of 13): within 2 ulps, and 1.8 times `fused._exp_nonpositive`'s speed."""
    tiny = x < -708.0
    x = max(x, -708.0)
    shifted = _fma(x, _INV_LN2, _SHIFTER)
    k = shifted - _SHIFTER
    r = _fma(-k, _LN2_LO, _fma(-k, _LN2_HI, x))
    c = _INV_FACTORIAL
    r2 = r * r
    r4 = r2 * r2
    low = _fma(r2, _fma(r, c[3], c[2]), _fma(r, c[1], c[0]))
    middle = _fma(r2, _fma(r, c[7], c[6]), _fma(r, c[5], c[4]))
    high = _fma(r2, _fma(r, c[11], c[10]), _fma(r, c[9], c[8]))
    top = _fma(r4, _fma(r, c[13], c[12]), high)
    p = _fma(r4 * r4, top, _fma(r4, middle, low))
    value = p * _pow2(shifted)
    return 0.0 if tiny else value


_LOW_F = np.float32(-87.33)  # exp below is under float32's smallest normal, 1.2e-38
_C_F = _INV_FACTORIAL_F


@numba.njit(**_INLINE)
def _exp_normal_f32(x):
    """float32 `_exp_normal`: 0 below −87.33 (1.2e-38 of the row's largest probability), the
    Taylor series to r^7 in Estrin's scheme: within 2 ulps of float32, and 1.2 times the
    speed of `fused._exp_nonpositive_f32` (its floor, two scalings for subnormal results and
    Horner's chain)."""
    tiny = x < _LOW_F
    x = max(x, _LOW_F)
    shifted = _fma(x, _INV_LN2_F, _SHIFTER_F)
    k = shifted - _SHIFTER_F
    r = _fma(-k, _EXP_LN2_LO_F, _fma(-k, _EXP_LN2_HI_F, x))
    r2 = r * r
    low = _fma(r2, _fma(r, _C_F[3], _C_F[2]), _fma(r, _C_F[1], _C_F[0]))
    high = _fma(r2, _fma(r, _C_F[7], _C_F[6]), _fma(r, _C_F[5], _C_F[4]))
    value = _fma(r2 * r2, high, low) * _pow2(shifted)
    return np.float32(0.0) if tiny else value


def _exp(x):
    """exp(x) for x ≤ 0 in x's dtype: float32 logits take float32 exps (twice the lanes),
    float64 ones `_exp_normal`."""


@overload(_exp, jit_options=_OPTIONS, inline="always")
def _exp_overload(x):
    if x == types.float32:
        return lambda x: _exp_normal_f32(x)
    return lambda x: _exp_normal(x)


# module-level, not closures: numba's disk cache misses a closure over another function
@numba.njit(**_OPTIONS)
def _exps(a, size):  # pragma: no cover - compiled
    for i in range(size):
        a[i] = _exp(a[i])


@numba.njit(**_OPTIONS)
def _exps_into(a, out):  # pragma: no cover - compiled
    for i in range(a.size):
        out[i] = _exp(-abs(a[i]))


def exp_floor(z: np.ndarray) -> np.ndarray:
    """exp(−|z|) of every element into a new array, in z's dtype: one vectorized exp per
    element, read and written, the least any exact softmax gradient does (the kernels'
    floor)."""
    out = np.empty_like(z)
    _exps_into(z.reshape(-1), out.reshape(-1))
    return out


def _make(classes: int):
    """The kernel for `classes` classes (0: read from the shape)."""

    @numba.njit(**_OPTIONS)
    def kernel_rows(all_z, all_labels, scale, all_gradient, all_hessian, all_values, sums, checks):
        """Every block of `_ROWS` rows in turn (flat z, gradient, hessian; gradient, hessian
        and values may be empty): its value sum and check into sums and checks. One function,
        closing over an int and a module-level kernel only: numba's disk cache keys a closure
        on what it closes over, and missed a closure over another function."""
        k = classes if classes else all_z.size // all_labels.size
        e, m, s = np.empty(_ROWS * k, all_z.dtype), np.empty(_ROWS), np.empty(_ROWS)
        zero = all_z.dtype.type(0.0)
        for block in range(sums.size):
            start, stop = block * _ROWS, min(all_labels.size, (block + 1) * _ROWS)
            rows = stop - start
            z, labels = all_z[start * k : stop * k], all_labels[start:stop]
            gradient = all_gradient[start * k : stop * k]
            hessian = all_hessian[start * k : stop * k]
            values = all_values[start:stop]
            check = zero
            for i in range(rows):
                b = i * k
                top = z[b]
                for j in range(1, k):
                    top = max(top, z[b + j])
                m[i] = top
                for j in range(k):
                    shifted = z[b + j] - top  # in z's dtype: exact, or within half an ulp
                    e[b + j] = shifted
                    check = _add_reassoc(check, shifted * zero)
            _exps(e, rows * k)
            for i in range(rows):
                b = i * k
                total = 0.0
                for j in range(k):
                    total = _add_reassoc(total, np.float64(e[b + j]))
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
            for i in range(rows):  # the gather alone: with it in the log's loop, neither vectorized
                m[i] -= np.float64(z[i * k + labels[i]])
            for i in range(rows):
                m[i] += _log(s[i])
            value = 0.0
            for i in range(rows):
                value = _add_reassoc(value, m[i])
            if values.size:
                for i in range(rows):
                    values[i] = m[i]
            sums[block], checks[block] = value, np.float64(check)

    return kernel_rows


def _kernel_for(classes: int, size: int):
    """The kernel for `classes` classes on `size` elements: unrolled for K up to
    `MAX_UNROLLED` on arrays of `UNROLL_FROM` elements or more, else the one for any K."""
    unrolled = classes <= MAX_UNROLLED and size >= UNROLL_FROM
    return _compiled(classes if unrolled else 0)


@functools.cache
def _compiled(classes: int):
    return _make(classes)


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
    outputs = [
        np.empty_like(z) if wanted else np.empty((0, k), z.dtype) for wanted in (gradient, hessian)
    ]
    rows = np.empty(n) if values else np.empty(0)
    blocks = -(-n // _ROWS)
    sums, checks = np.empty(blocks), np.empty(blocks)
    run = _kernel_for(k, z.size)
    # all cores: threads over contiguous runs of whole blocks (the kernel releases the GIL),
    # so each block sum is the one-core one
    parts = min(os.cpu_count() or 1, blocks) if all_cores else 1
    starts = [blocks * i // parts * _ROWS for i in range(parts)] + [n]

    def part(i: int) -> None:
        a, b = starts[i], starts[i + 1]
        done = slice(a // _ROWS, -(-b // _ROWS))
        flat = [out[a:b].reshape(-1) for out in outputs]  # empty where not asked for
        run(z[a:b].reshape(-1), labels[a:b], scale, *flat, rows[a:b], sums[done], checks[done])

    if parts == 1:
        part(0)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(parts) as pool:
            list(pool.map(part, range(parts)))
    finite = bool(np.all(np.isfinite(sums)) and np.all(np.isfinite(checks)))
    total = math.fsum(sums) if finite else math.nan
    return (
        total,
        finite,
        outputs[0] if gradient else None,
        outputs[1] if hessian else None,
        rows.astype(z.dtype) if values else None,
    )
