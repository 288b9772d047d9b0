"""Fused loss kernels (numba): value and gradient in one pass over memory.

Three layers, kept in one module because numba's on-disk cache is invalidated only when the
module that defines a kernel changes: a kernel compiled from helpers in another file would
outlive an edit to them.

1. Vectorizable math (`_log`, `_log1p`, `_exp`, `_expm1_half`). libm's scalar `log`/`exp` stop
   LLVM from vectorizing a loop (~4 ns per call here); these are fdlibm's algorithms written as
   plain arithmetic and bit operations, so a loop over them compiles to AVX-512 / AVX2 code.
   Nothing is compiled with fastmath: their error-compensation terms must survive.
2. Element functions `_<loss>_element(y, p, a, b) -> (value, dvalue/dp, check)` in float64.
   `check` is a number that is non-finite exactly when the inputs are bad (non-finite, or a
   label outside [0, 1]): validation rides along in the same pass instead of adding one.
3. Kernel templates (`_make_kernels`), specialized per loss by a literal name: value summed in
   float64 blocks (vectorized inside a block through a single reassociable add, Neumaier-
   compensated across blocks), per-element values, gradient, and value with gradient.

Every kernel returns the `check` sum; `lossbench.losses` locates the culprit only when it is not
finite. Kernels take 1-D contiguous float32/float64 arrays; work is done in float64 and stored in
the output's dtype.
"""

from __future__ import annotations

import math
import time

import numba
import numpy as np
from llvmlite import ir as llvm_ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

__all__ = ["KERNELS", "Kernels", "compile_all"]

# No function-wide fastmath: the helpers' error-compensation terms must not be reassociated away.
# Only the reduction adds carry "reassoc" (`_add_reassoc`), the one licence LLVM needs to
# vectorize a sum. error_model="numpy": Python's ZeroDivisionError branch would keep loops
# scalar. fastmath=False must be explicit: numba otherwise compiles a callee with its caller's
# flags. Helpers are inlined at numba's level, as LLVM declines to inline the larger ones.
_KERNEL = dict(cache=True, error_model="numpy", nogil=True, fastmath=False)
_HELPER = dict(_KERNEL, inline="always")
_BLOCK = 2048  # elements summed per vectorized block; blocks are combined with compensation


@intrinsic
def _add_reassoc(typingctx, a, b):
    """a + b as an LLVM `fadd reassoc`: lets the loop vectorizer split this one sum into
    lanes, without licensing any other rewrite of the surrounding arithmetic."""

    def codegen(context, builder, signature, args):
        return builder.fadd(args[0], args[1], flags=("reassoc", "nsz"))

    return types.float64(types.float64, types.float64), codegen


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c as `llvm.fmuladd`: one rounding where the CPU has FMA (more accurate, half the
    instructions of a Horner step), a multiply and an add where it has not."""

    def codegen(context, builder, signature, args):
        double = llvm_ir.DoubleType()
        fnty = llvm_ir.FunctionType(double, [double, double, double])
        fmuladd = cgutils.get_or_insert_function(builder.module, fnty, "llvm.fmuladd.f64")
        return builder.call(fmuladd, args)

    return types.float64(types.float64, types.float64, types.float64), codegen


# ---------------------------------------------------------------------------------------------
# 1. Vectorizable math (fdlibm, e_log.c / s_log1p.c / e_exp.c, Sun Microsystems 1993)
# ---------------------------------------------------------------------------------------------
_LN2_HI = 6.93147180369123816490e-01  # ln 2 split so that k * _LN2_HI is exact for |k| < 2^11
_LN2_LO = 1.90821492927058770002e-10
_LN2 = 0.6931471805599453
_INV_LN2 = 1.44269504088896338700e00
_SQRT1_2_BITS = 0x3FE6A09E667F3BCD  # bit pattern of sqrt(2)/2: mantissas are reduced around it
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01


@numba.njit(**_HELPER)
def _log_reduced(bits: int, c: float) -> float:
    """log(x) + c/x-style correction for x given by its float64 bits (x positive, normal).

    x = 2^k * m with m in [sqrt(2)/2, sqrt(2)); log x = k ln2 + log1p(f), f = m - 1, and
    log1p(f) = 2s + s R(s^2) with s = f / (2 + f), R fdlibm's minimax polynomial (< 2^-58).
    """
    k = (bits - _SQRT1_2_BITS) >> 52
    f = np.int64(bits - (k << 52)).view(np.float64) - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * _fma(w, _fma(w, _LG6, _LG4), _LG2)
    t2 = z * _fma(w, _fma(w, _fma(w, _LG7, _LG5), _LG3), _LG1)
    hfsq = 0.5 * f * f
    dk = np.float64(k)
    return dk * _LN2_HI - ((hfsq - (s * (hfsq + t2 + t1) + (dk * _LN2_LO + c))) - f)


@numba.njit(**_HELPER)
def _log(x: float) -> float:
    """Natural log of a positive normal float64 (callers guarantee the domain)."""
    return _log_reduced(np.float64(x).view(np.int64), 0.0)


@numba.njit(**_HELPER)
def _log1p(x: float) -> float:
    """log(1 + x) for x > -1, accurate for tiny |x|.

    1 + x is rounded; c = (x - (u - 1)) / u restores what the rounding lost (fdlibm s_log1p.c).
    """
    u = 1.0 + x
    bits = np.float64(u).view(np.int64)
    k = (bits - _SQRT1_2_BITS) >> 52
    c = (1.0 - (u - x)) if k > 0 else (x - (u - 1.0))
    c = c / u if k < 54 else 0.0
    return _log_reduced(bits, c)


_INV_FACTORIAL = tuple(1.0 / math.factorial(i) for i in range(16))


@numba.njit(**_HELPER)
def _exp_nonpositive(x: float) -> float:
    """exp(x) for x <= 0 (0 below -746, where it underflows).

    x = k ln2 + r with |r| <= ln2 / 2; exp(r) by its Taylor series to r^13 (error < 2^-57);
    2^k applied in two steps so that subnormal results come out right.
    """
    x = max(x, -746.0)  # keeps k within int range for any input, even -1e300
    kf = math.floor(x * _INV_LN2 + 0.5)
    r = _fma(-kf, _LN2_LO, _fma(-kf, _LN2_HI, x))
    p = _INV_FACTORIAL[13]
    for i in range(12, -1, -1):  # Horner; LLVM unrolls the constant trip count
        p = _fma(r, p, _INV_FACTORIAL[i])
    k = np.int64(kf)
    k1 = k >> 1
    scale1 = np.int64((k1 + 1023) << 52).view(np.float64)
    scale2 = np.int64((k - k1 + 1023) << 52).view(np.float64)
    return p * scale1 * scale2


@numba.njit(**_HELPER)
def _expm1_half(x: float) -> float:
    """exp(x) - 1 for 0 <= x <= 0.5: x times the Taylor series of (e^x - 1)/x to x^14.

    Every term is positive, so there is no cancellation for tiny x (error a few ulps).
    """
    p = _INV_FACTORIAL[15]
    for i in range(14, 0, -1):
        p = _fma(x, p, _INV_FACTORIAL[i])
    return x * p


@numba.njit(**_HELPER)
def _neumaier_add(total: float, compensation: float, x: float) -> tuple[float, float]:
    """Add x to a compensated sum (Neumaier's improvement of Kahan summation)."""
    t = total + x
    if abs(total) >= abs(x):
        compensation += (total - t) + x
    else:
        compensation += (x - t) + total
    return t, compensation


# ---------------------------------------------------------------------------------------------
# 2. Element functions: (y_true, y_pred, a, b) -> (value, d value / d y_pred, check)
#    a, b are the loss's parameters (delta, eps), unused ones passed as 0.
# ---------------------------------------------------------------------------------------------
@numba.njit(**_HELPER)
def _mse_element(y, p, a, b):
    r = y - p
    return r * r, -2.0 * r, r


@numba.njit(**_HELPER)
def _mae_element(y, p, a, b):
    r = y - p
    d = -1.0 if r > 0.0 else (1.0 if r < 0.0 else 0.0)
    return abs(r), d, r


@numba.njit(**_HELPER)
def _huber_element(y, p, delta, b):
    r = y - p
    ar = abs(r)
    v = 0.5 * r * r if ar <= delta else delta * (ar - 0.5 * delta)
    d = -(delta if r > delta else (-delta if r < -delta else r))
    return v, d, r


@numba.njit(**_HELPER)
def _pseudo_huber_element(y, p, delta, b):
    r = y - p
    t = r / delta
    q = math.sqrt(1.0 + t * t)
    # delta^2 (q - 1) written as delta^2 t^2 / (q + 1): no cancellation for small t
    return delta * delta * (t * t) / (q + 1.0), -r / q, r


@numba.njit(**_HELPER)
def _log_cosh_element(y, p, a, b):
    r = y - p
    ar = abs(r)
    # |r| < 1: log cosh r = log1p(2 sinh^2(r/2)), sinh from expm1 (no cancellation near 0)
    em = _expm1_half(0.5 * min(ar, 1.0))
    sinh_half = 0.5 * (em + em / (em + 1.0))
    em1 = em * (em + 2.0)  # expm1(|r|)
    em2 = em1 * (em1 + 2.0)  # expm1(2|r|)
    # |r| >= 1: log cosh r = |r| - ln 2 + log1p(exp(-2|r|)), finite for any |r|
    e = _exp_nonpositive(-2.0 * ar)
    small = ar < 1.0
    v = _log1p(2.0 * sinh_half * sinh_half) if small else (ar - _LN2) + _log1p(e)
    tanh_abs = em2 / (em2 + 2.0) if small else (1.0 - e) / (1.0 + e)
    return v, -tanh_abs if r > 0.0 else tanh_abs, r


@numba.njit(**_HELPER)
def _bce_element(y, p, eps, b):
    pc = min(max(p, eps), 1.0 - eps)
    # log(1 - p) as log1p(-p): exact for p near 0, where 1 - p would round
    v = -(y * _log(pc) + (1.0 - y) * _log1p(-pc))
    inside = p >= eps and p <= 1.0 - eps  # outside, the clipped loss is flat: gradient 0
    d = (pc - y) / (pc * (1.0 - pc)) if inside else 0.0
    check = y + p if (y >= 0.0 and y <= 1.0) else np.nan
    return v, d, check


@numba.njit(**_HELPER)
def _bce_logits_element(y, z, a, b):
    # softplus(z) - y z = max(z, 0) - y z + log1p(exp(-|z|)): exp never overflows
    e = _exp_nonpositive(-abs(z))
    v = max(z, 0.0) - z * y + _log1p(e)
    sigmoid = (1.0 if z >= 0.0 else e) / (1.0 + e)
    check = y + z if (y >= 0.0 and y <= 1.0) else np.nan
    return v, sigmoid - y, check


_ELEMENTS = {
    "mse": _mse_element,
    "mae": _mae_element,
    "huber": _huber_element,
    "pseudo_huber": _pseudo_huber_element,
    "log_cosh": _log_cosh_element,
    "bce": _bce_element,
    "bce_logits": _bce_logits_element,
}


def _element(kind, y, p, a, b):
    """Dispatch to `_ELEMENTS[kind]` at compile time (kind is a string literal)."""


@overload(_element, jit_options=_KERNEL, inline="always")
def _element_overload(kind, y, p, a, b):
    if not isinstance(kind, types.StringLiteral):
        return None
    element = _ELEMENTS[kind.literal_value]

    def impl(kind, y, p, a, b):
        return element(np.float64(y), np.float64(p), a, b)

    return impl


# ---------------------------------------------------------------------------------------------
# 3. Kernel templates. `kind` is a closure constant: numba types it as a literal, so each loss
#    gets its own machine code, and the cache key stays stable across processes.
# ---------------------------------------------------------------------------------------------
class Kernels:
    """The five fused kernels of one loss; all take 1-D contiguous arrays of one dtype.

    - ``value_sum(y_true, y_pred, a, b) -> (sum, check)``
    - ``value_each(y_true, y_pred, out, a, b) -> check``
    - ``gradient(y_true, y_pred, out, scale, a, b) -> check``
    - ``value_sum_and_gradient(y_true, y_pred, out, scale, a, b) -> (sum, check)``
    - ``value_each_and_gradient(y_true, y_pred, values, grads, a, b) -> check``
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        (
            self.value_sum,
            self.value_each,
            self.gradient,
            self.value_sum_and_gradient,
            self.value_each_and_gradient,
        ) = _make_kernels(kind)

    def __repr__(self) -> str:
        return f"Kernels({self.kind!r})"


def _make_kernels(kind: str):
    @numba.njit(**_KERNEL)
    def value_sum(y_true, y_pred, a, b):
        n = y_true.size
        total = 0.0
        compensation = 0.0
        check = 0.0
        for start in range(0, n, _BLOCK):
            block = 0.0
            yt = y_true[start : start + _BLOCK]  # slices: a loop from 0 needs no index
            yp = y_pred[start : start + _BLOCK]  # wraparound, which would force gathers
            for i in range(yt.size):
                v, _, c = _element(kind, yt[i], yp[i], a, b)
                block = _add_reassoc(block, v)
                check = _add_reassoc(check, c)
            total, compensation = _neumaier_add(total, compensation, block)
        return total + compensation, check

    @numba.njit(**_KERNEL)
    def value_each(y_true, y_pred, out, a, b):
        check = 0.0
        for i in range(y_true.size):
            v, _, c = _element(kind, y_true[i], y_pred[i], a, b)
            out[i] = v
            check = _add_reassoc(check, c)
        return check

    @numba.njit(**_KERNEL)
    def gradient(y_true, y_pred, out, scale, a, b):
        check = 0.0
        for i in range(y_true.size):
            _, d, c = _element(kind, y_true[i], y_pred[i], a, b)
            out[i] = d * scale
            check = _add_reassoc(check, c)
        return check

    @numba.njit(**_KERNEL)
    def value_sum_and_gradient(y_true, y_pred, out, scale, a, b):
        n = y_true.size
        total = 0.0
        compensation = 0.0
        check = 0.0
        for start in range(0, n, _BLOCK):
            block = 0.0
            yt = y_true[start : start + _BLOCK]
            yp = y_pred[start : start + _BLOCK]
            grads = out[start : start + _BLOCK]
            for i in range(yt.size):
                v, d, c = _element(kind, yt[i], yp[i], a, b)
                grads[i] = d * scale
                block = _add_reassoc(block, v)
                check = _add_reassoc(check, c)
            total, compensation = _neumaier_add(total, compensation, block)
        return total + compensation, check

    @numba.njit(**_KERNEL)
    def value_each_and_gradient(y_true, y_pred, values, grads, a, b):
        check = 0.0
        for i in range(y_true.size):
            v, d, c = _element(kind, y_true[i], y_pred[i], a, b)
            values[i] = v
            grads[i] = d
            check = _add_reassoc(check, c)
        return check

    return value_sum, value_each, gradient, value_sum_and_gradient, value_each_and_gradient


KERNELS: dict[str, Kernels] = {kind: Kernels(kind) for kind in _ELEMENTS}


def compile_all(dtypes=(np.float64, np.float32)) -> dict[tuple[str, str], float]:
    """Compile (or load from the on-disk cache) every kernel; seconds per (loss, dtype).

    A first call in a fresh environment compiles; later processes load machine code from
    numba's cache, so the same call then measures the cache load.
    """
    seconds = {}
    for kind, kernels in KERNELS.items():
        for dtype in dtypes:
            y = np.full(4, 0.5, dtype=dtype)
            out = np.empty_like(y)
            start = time.perf_counter()
            kernels.value_sum(y, y, 1.0, 1e-7)
            kernels.value_each(y, y, out, 1.0, 1e-7)
            kernels.gradient(y, y, out, 1.0, 1.0, 1e-7)
            kernels.value_sum_and_gradient(y, y, out, 1.0, 1.0, 1e-7)
            kernels.value_each_and_gradient(y, y, out, out.copy(), 1.0, 1e-7)
            seconds[(kind, np.dtype(dtype).name)] = time.perf_counter() - start
    return seconds
