"""Fused loss kernels (numba): value and gradient in one pass over memory.

Three layers, kept in one module because numba's on-disk cache is invalidated only when the
module that defines a kernel changes: a kernel compiled from helpers in another file would
outlive an edit to them.

1. Vectorizable math (`_log1p_recip`, `_bce_logs`, `_exp_nonpositive`, `_expm1_half`, and
   float32 twins for the transcendental-bound losses). libm's scalar `log`/`exp` keep a loop
   scalar (~4 ns per call here); these are fdlibm's algorithms written as plain arithmetic and
   bit operations, so a loop over them compiles to AVX-512 / AVX2 code. Nothing is compiled
   with fastmath: their error-compensation terms must survive. Within 4 ulps of libm.
2. Element functions `_<loss>_element(y, p, a, b) -> (value, dvalue/dp, check)`, in float64
   (huber, bce and bce_logits on float32 inputs: in float32, twice the lanes). Both the value
   and `check` are non-finite when the inputs are bad (non-finite, or a label outside [0, 1]):
   validation rides along in the same pass instead of adding one.
3. Kernel templates (`_make_kernels`), specialized per loss by a literal name: value summed in
   float64 blocks (vectorized inside a block through a single reassociable add, Neumaier-
   compensated across blocks), per-element values, gradient, value with gradient, and
   gradient with the second derivative (`_<loss>_second`, a booster's objective).

Value kernels return the sum of the values, which doubles as the check; the gradient kernel
returns the sum of the checks. `lossbench.losses` locates the culprit only when that is not
finite. Kernels take 1-D float32/float64 arrays of one dtype; sums accumulate in float64 and
outputs are stored in the input's dtype.
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

__all__ = ["KERNELS", "Kernels", "ParallelKernels", "compile_all"]

# No function-wide fastmath: the helpers' error-compensation terms must not be reassociated away.
# Only the reduction adds carry "reassoc" (`_add_reassoc`), the one licence LLVM needs to
# vectorize a sum. error_model="numpy": Python's ZeroDivisionError branch would keep loops
# scalar. fastmath=False must be explicit: numba otherwise compiles a callee with its caller's
# flags. Helpers are inlined at numba's level, as LLVM declines to inline the larger ones.
_KERNEL = dict(cache=True, error_model="numpy", nogil=True, fastmath=False)
_HELPER = dict(_KERNEL, inline="always")
_BLOCK = 2048  # elements summed per vectorized block; blocks are combined with compensation
# LLVM's loop vectorizer guards a loop that stores while it reads with a runtime check,
# `0 <= out - input < vector width x interleave x item size` -> scalar loop; a generous bound.
_ALIAS_WINDOW = 4096  # bytes


@numba.njit(**_HELPER)
def _just_above(out, x):
    """Whether `out` starts within _ALIAS_WINDOW bytes at or above `x`'s start."""
    gap = out.ctypes.data - x.ctypes.data  # uintp: a start below x wraps to a huge number
    return gap < _ALIAS_WINDOW


@numba.njit(**_HELPER)
def _gradient_target(out, y_true, y_pred):
    """(where to write the gradient, whether that is not `out`).

    Where `out` starts just above an input, LLVM's check would take its scalar loop, which
    sums in another order: the same inputs gave sums an ulp apart in two processes, as malloc
    placed the arrays. There the vector loop writes a spare array that passes the check, and
    the kernel copies it over after (a nested kernel would defeat the cache)."""
    target = out
    moved = _just_above(out, y_true) or _just_above(out, y_pred)
    if moved:
        step = _ALIAS_WINDOW // out.itemsize
        spare = np.empty(out.size + 2 * step, out.dtype)
        for k in range(3):  # each input rules out at most one of three starts
            target = spare[k * step : k * step + out.size]
            if not (_just_above(target, y_true) or _just_above(target, y_pred)):
                break
    return target, moved


@numba.njit(**_HELPER)
def _compensated(sums):
    """The Neumaier-compensated sum of block sums, in order: what the serial kernels add."""
    total = 0.0
    compensation = 0.0
    for block in sums:
        total, compensation = _neumaier_add(total, compensation, block)
    return total + compensation


@intrinsic
def _add_reassoc(typingctx, a, b):
    """a + b as an LLVM `fadd reassoc`: lets the loop vectorizer split this one sum into
    lanes, without licensing any other rewrite of the surrounding arithmetic."""

    def codegen(context, builder, signature, args):
        return builder.fadd(args[0], args[1], flags=("reassoc", "nsz"))

    if a == b == types.float32:  # a float32 sum: twice the lanes
        return types.float32(types.float32, types.float32), codegen
    return types.float64(types.float64, types.float64), codegen


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c as `llvm.fmuladd`: one rounding where the CPU has FMA (more accurate, half the
    instructions of a Horner step), a multiply and an add where it has not."""

    if not (a == b == c and a in (types.float32, types.float64)):
        return None  # callers pass three float32s or three float64s
    name, ir_type = (
        ("llvm.fmuladd.f32", llvm_ir.FloatType())
        if a == types.float32
        else ("llvm.fmuladd.f64", llvm_ir.DoubleType())
    )

    def codegen(context, builder, signature, args):
        fnty = llvm_ir.FunctionType(ir_type, [ir_type] * 3)
        return builder.call(cgutils.get_or_insert_function(builder.module, fnty, name), args)

    return a(a, a, a), codegen


def _float_layout(x):
    """(float LLVM type, int LLVM type, mantissa bits, exponent bias) of a numba float type."""
    if x == types.float32:
        return llvm_ir.FloatType(), llvm_ir.IntType(32), 23, 127
    if x == types.float64:
        return llvm_ir.DoubleType(), llvm_ir.IntType(64), 52, 1023
    return None


@intrinsic
def _split(typingctx, x):
    """x = 2^k (1 + f) with 1 + f in [sqrt(2)/2, sqrt(2)), for positive normal x: (k, f) in x's
    precision. Bit arithmetic in LLVM IR: numba would widen int32 to int64, halving the lanes."""
    layout = _float_layout(x)
    if layout is None:
        return None
    ftype, itype, mantissa_bits, _ = layout
    # the bit pattern of sqrt(2)/2 in x's precision: mantissas are reduced around it
    sqrt_half_bits = int(np.array(math.sqrt(0.5), dtype=str(x)).view(f"int{itype.width}"))

    def codegen(context, builder, signature, args):
        bits = builder.bitcast(args[0], itype)
        t = builder.sub(bits, itype(sqrt_half_bits))
        k = builder.ashr(t, itype(mantissa_bits))
        high = builder.and_(t, itype(-(1 << mantissa_bits)))
        f = builder.fsub(builder.bitcast(builder.sub(bits, high), ftype), ftype(1.0))
        return context.make_tuple(builder, signature.return_type, [builder.sitofp(k, ftype), f])

    return types.UniTuple(x, 2)(x), codegen


@intrinsic
def _ldexp(typingctx, x, k):
    """x * 2^k for an integral k of x's type, down to 2^-1100 (float64) or 2^-150 (float32),
    in two steps so that subnormal results come out right."""
    layout = _float_layout(x)
    if layout is None or k != x:
        return None
    ftype, itype, mantissa_bits, bias = layout

    def codegen(context, builder, signature, args):
        n = builder.fptosi(args[1], itype)
        half = builder.ashr(n, itype(1))
        scales = [
            builder.bitcast(builder.shl(builder.add(e, itype(bias)), itype(mantissa_bits)), ftype)
            for e in (half, builder.sub(n, half))
        ]
        return builder.fmul(builder.fmul(args[0], scales[0]), scales[1])

    return x(x, k), codegen


# ---------------------------------------------------------------------------------------------
# 1. Vectorizable math (fdlibm, e_log.c / s_log1p.c / e_exp.c, Sun Microsystems 1993)
# ---------------------------------------------------------------------------------------------
_LN2_HI = 6.93147180369123816490e-01  # ln 2 split so that k * _LN2_HI is exact for |k| < 2^11
_LN2_LO = 1.90821492927058770002e-10
_LN2 = 0.6931471805599453
_INV_LN2 = 1.44269504088896338700e00
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01


@numba.njit(**_HELPER)
def _log_poly(k: float, f: float, s: float, c: float) -> float:
    """log(2^k (1 + f)) + c, given s = f / (2 + f) (callers share that division).

    log1p(f) = 2s + s R(s^2), R fdlibm's minimax polynomial (error < 2^-58 for 1 + f in
    [sqrt(2)/2, sqrt(2))); c is a small correction the caller adds in the right place.
    """
    z = s * s
    w = z * z
    t1 = w * _fma(w, _fma(w, _LG6, _LG4), _LG2)
    t2 = z * _fma(w, _fma(w, _fma(w, _LG7, _LG5), _LG3), _LG1)
    hfsq = 0.5 * f * f
    return k * _LN2_HI - ((hfsq - (s * (hfsq + t2 + t1) + (k * _LN2_LO + c))) - f)


@numba.njit(**_HELPER)
def _log1p_recip(x: float) -> tuple[float, float]:
    """(log(1 + x), 1 / (1 + x)) for -1 < x <= 1: callers need both, so 1 / u is shared.

    1 + x is rounded; c = x - (u - 1) (or 1 - (u - x)) is what the rounding lost, and c / u
    puts it back (fdlibm s_log1p.c): log1p stays exact to an ulp or two for tiny x.
    """
    u = 1.0 + x
    k, f = _split(u)
    c = (1.0 - (u - x)) if k > 0.0 else (x - (u - 1.0))
    recip = 1.0 / u
    return _log_poly(k, f, f / (2.0 + f), c * recip), recip


@numba.njit(**_HELPER)
def _bce_logs(p: float) -> tuple[float, float, float]:
    """(log p, log(1 - p), 1 / (p (1 - p))) for p in (0, 1).

    log(1 - p) is taken as log1p(-p): exact where p is tiny and 1 - p rounds.
    """
    k1, f1 = _split(p)
    u = 1.0 - p
    k2, f2 = _split(u)
    c = (1.0 - u) - p  # what rounding 1 - p lost; 0 for p >= 1/2
    recip_pu = 1.0 / (p * u)  # serves the correction c / u and the gradient
    log_p = _log_poly(k1, f1, f1 / (2.0 + f1), 0.0)
    log_1mp = _log_poly(k2, f2, f2 / (2.0 + f2), c * p * recip_pu)
    return log_p, log_1mp, recip_pu


_INV_FACTORIAL = tuple(1.0 / math.factorial(i) for i in range(16))


@numba.njit(**_HELPER)
def _exp_nonpositive(x: float) -> float:
    """exp(x) for x <= 0 (0 below -746, where it underflows).

    x = k ln2 + r with |r| <= ln2 / 2; exp(r) by its Taylor series to r^13 (error < 2^-57).
    """
    x = max(x, -746.0)  # keeps k within int range for any input, even -1e300
    k = np.floor(x * _INV_LN2 + 0.5)
    r = _fma(-k, _LN2_LO, _fma(-k, _LN2_HI, x))
    p = _INV_FACTORIAL[13]
    for i in range(12, -1, -1):  # Horner; LLVM unrolls the constant trip count
        p = _fma(r, p, _INV_FACTORIAL[i])
    return _ldexp(p, k)


@numba.njit(**_HELPER)
def _expm1_half(x: float) -> float:
    """exp(x) - 1 for 0 <= x <= 0.5: x times the Taylor series of (e^x - 1)/x to x^14.

    Every term is positive, so there is no cancellation for tiny x (error a few ulps).
    """
    p = _INV_FACTORIAL[15]
    for i in range(14, 0, -1):
        p = _fma(x, p, _INV_FACTORIAL[i])
    return x * p


# float32 versions (fdlibm e_logf.c / s_log1pf.c / e_expf.c): 16 lanes per AVX-512 register
# instead of 8, for the transcendental-bound losses. Every constant is a float32 so
# that numba keeps the arithmetic in single precision. Error: about 1 ulp (6e-8).
_F32 = np.float32
_ZERO_F, _HALF_F, _ONE_F, _TWO_F = _F32(0.0), _F32(0.5), _F32(1.0), _F32(2.0)
_NAN_F = _F32(np.nan)
_LN2_HI_F = _F32(6.9313812256e-01)  # 0x3f317180
_LN2_LO_F = _F32(9.0580006145e-06)  # 0x3717f7d1
_LG1_F = _F32(6.6666662693e-01)
_LG2_F = _F32(4.0000972152e-01)
_LG3_F = _F32(2.8498786688e-01)
_LG4_F = _F32(2.4279078841e-01)
_EXP_LN2_HI_F = _F32(6.9314575195e-01)  # 0x3f317200: k * hi exact for |k| < 2^8
_EXP_LN2_LO_F = _F32(1.4286067653e-06)  # 0x35bfbe8e
_INV_LN2_F = _F32(1.4426950216e00)
_EXP_MIN_F = _F32(-104.0)  # exp underflows to 0 below
_INV_FACTORIAL_F = tuple(_F32(1.0 / math.factorial(i)) for i in range(8))


@numba.njit(**_HELPER)
def _log_poly_f32(k, f, s, c):
    """float32 `_log_poly`: fdlibm's 4-term polynomial suffices for single precision."""
    z = s * s
    w = z * z
    t1 = w * _fma(w, _LG4_F, _LG2_F)
    t2 = z * _fma(w, _LG3_F, _LG1_F)
    hfsq = _HALF_F * f * f
    return k * _LN2_HI_F - ((hfsq - (s * (hfsq + t2 + t1) + (k * _LN2_LO_F + c))) - f)


@numba.njit(**_HELPER)
def _log1p_recip_f32(x):
    """float32 `_log1p_recip`."""
    u = _ONE_F + x
    k, f = _split(u)
    c = (_ONE_F - (u - x)) if k > _ZERO_F else (x - (u - _ONE_F))
    recip = _ONE_F / u
    return _log_poly_f32(k, f, f / (_TWO_F + f), c * recip), recip


@numba.njit(**_HELPER)
def _bce_logs_f32(p):
    """float32 `_bce_logs`."""
    k1, f1 = _split(p)
    u = _ONE_F - p
    k2, f2 = _split(u)
    c = (_ONE_F - u) - p
    recip_pu = _ONE_F / (p * u)
    log_p = _log_poly_f32(k1, f1, f1 / (_TWO_F + f1), _ZERO_F)
    log_1mp = _log_poly_f32(k2, f2, f2 / (_TWO_F + f2), c * p * recip_pu)
    return log_p, log_1mp, recip_pu


@numba.njit(**_HELPER)
def _exp_nonpositive_f32(x):
    """float32 `_exp_nonpositive`: Taylor series to r^7, 0 below -104."""
    x = max(x, _EXP_MIN_F)
    k = np.floor(x * _INV_LN2_F + _HALF_F)
    r = _fma(-k, _EXP_LN2_LO_F, _fma(-k, _EXP_LN2_HI_F, x))
    p = _INV_FACTORIAL_F[7]
    for i in range(6, -1, -1):
        p = _fma(r, p, _INV_FACTORIAL_F[i])
    return _ldexp(p, k)


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
#    a, b are the loss's parameters (delta, eps), unused ones passed as 0. Both value and check
#    must come out non-finite for bad input (a non-finite input, a label outside [0, 1]).
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
    v = _log1p_recip(2.0 * sinh_half * sinh_half)[0] if small else (ar - _LN2) + _log1p_recip(e)[0]
    tanh_abs = em2 / (em2 + 2.0) if small else (1.0 - e) / (1.0 + e)
    return v, -tanh_abs if r > 0.0 else tanh_abs, r


@numba.njit(**_HELPER)
def _bce_element(y, p, eps, b):
    pc = min(max(p, eps), 1.0 - eps)
    log_p, log_1mp, recip = _bce_logs(pc)
    # 0, or NaN for a label outside [0, 1] or a non-finite p (which clipping would hide). It is
    # added, not selected: a branch around the value would keep the loop from vectorizing.
    poison = (p - p) + (0.0 if (y >= 0.0) & (y <= 1.0) else np.nan)
    v = -(y * log_p + (1.0 - y) * log_1mp) + poison
    inside = (p >= eps) & (p <= 1.0 - eps)  # outside, the clipped loss is flat: gradient 0
    d = (pc - y) * recip if inside else 0.0
    return v, d, poison


@numba.njit(**_HELPER)
def _bce_logits_element(y, z, a, b):
    # softplus(z) - y z = max(z, 0) - y z + log1p(exp(-|z|)): exp never overflows
    e = _exp_nonpositive(-abs(z))
    log1p_e, recip = _log1p_recip(e)
    poison = (z - z) + (0.0 if (y >= 0.0) & (y <= 1.0) else np.nan)  # see `_bce_element`
    v = max(z, 0.0) - z * y + log1p_e + poison
    sigmoid = (1.0 if z >= 0.0 else e) * recip
    return v, sigmoid - y, poison


@numba.njit(**_HELPER)
def _huber_element_f32(y, p, delta, b):
    """`_huber_element` in single precision: float64 arithmetic cannot keep pace with float32
    memory traffic here, and the float32 reference computes in float32 too."""
    d32 = _F32(delta)
    r = y - p
    ar = abs(r)
    v = _HALF_F * r * r if ar <= d32 else d32 * (ar - _HALF_F * d32)
    d = -(d32 if r > d32 else (-d32 if r < -d32 else r))
    return v, d, r


@numba.njit(**_HELPER)
def _bce_element_f32(y, p, eps, b):
    """`_bce_element` in single precision, for float32 inputs."""
    e = _F32(eps)
    pc = min(max(p, e), _ONE_F - e)
    log_p, log_1mp, recip = _bce_logs_f32(pc)
    poison = (p - p) + (_ZERO_F if (y >= _ZERO_F) & (y <= _ONE_F) else _NAN_F)
    v = -(y * log_p + (_ONE_F - y) * log_1mp) + poison
    inside = (p >= e) & (p <= _ONE_F - e)
    d = (pc - y) * recip if inside else _ZERO_F
    return v, d, poison


@numba.njit(**_HELPER)
def _bce_logits_element_f32(y, z, a, b):
    """`_bce_logits_element` in single precision, for float32 inputs."""
    e = _exp_nonpositive_f32(-abs(z))
    log1p_e, recip = _log1p_recip_f32(e)
    poison = (z - z) + (_ZERO_F if (y >= _ZERO_F) & (y <= _ONE_F) else _NAN_F)
    v = max(z, _ZERO_F) - z * y + log1p_e + poison
    sigmoid = (_ONE_F if z >= _ZERO_F else e) * recip
    return v, sigmoid - y, poison


_ELEMENTS = {
    "mse": _mse_element,
    "mae": _mae_element,
    "huber": _huber_element,
    "pseudo_huber": _pseudo_huber_element,
    "log_cosh": _log_cosh_element,
    "bce": _bce_element,
    "bce_logits": _bce_logits_element,
}
# Losses whose float64 arithmetic is slower than float32 memory traffic get single-precision
# elements for float32 inputs; the others compute in float64 at no cost in speed.
_ELEMENTS_F32 = {
    "huber": _huber_element_f32,
    "bce": _bce_element_f32,
    "bce_logits": _bce_logits_element_f32,
}


# Second derivatives d² value / d y_pred², for boosting (`Loss.gradient_and_hessian`): the
# closed forms of the numpy reference (`lossbench.losses.builtin`), in float64 for either dtype.
@numba.njit(**_HELPER)
def _mse_second(y, p, a, b):
    return 2.0


@numba.njit(**_HELPER)
def _mae_second(y, p, a, b):
    return 0.0  # wherever it exists (everywhere but r = 0)


@numba.njit(**_HELPER)
def _huber_second(y, p, delta, b):
    return 1.0 if abs(y - p) <= delta else 0.0


@numba.njit(**_HELPER)
def _pseudo_huber_second(y, p, delta, b):
    t = (y - p) / delta
    q = math.sqrt(1.0 + t * t)
    return 1.0 / (q * q * q)


@numba.njit(**_HELPER)
def _log_cosh_second(y, p, a, b):
    e = _exp_nonpositive(-2.0 * abs(y - p))  # sech² r without cosh's overflow
    return 4.0 * e / ((1.0 + e) * (1.0 + e))


@numba.njit(**_HELPER)
def _bce_second(y, p, eps, b):
    pc = min(max(p, eps), 1.0 - eps)
    q = 1.0 - pc
    inside = (p >= eps) & (p <= 1.0 - eps)  # outside, the clipped loss is flat
    return y / (pc * pc) + (1.0 - y) / (q * q) if inside else 0.0


@numba.njit(**_HELPER)
def _bce_logits_second(y, z, a, b):
    e = _exp_nonpositive(-abs(z))
    return e / ((1.0 + e) * (1.0 + e))  # sigmoid(z)(1 − sigmoid(z))


_SECONDS = {
    "mse": _mse_second,
    "mae": _mae_second,
    "huber": _huber_second,
    "pseudo_huber": _pseudo_huber_second,
    "log_cosh": _log_cosh_second,
    "bce": _bce_second,
    "bce_logits": _bce_logits_second,
}


def _second(kind, y, p, a, b):
    """Dispatch at compile time to the loss's second derivative, in float64."""


@overload(_second, jit_options=_KERNEL, inline="always")
def _second_overload(kind, y, p, a, b):
    if not isinstance(kind, types.StringLiteral):
        return None
    second = _SECONDS[kind.literal_value]

    def impl(kind, y, p, a, b):
        return second(np.float64(y), np.float64(p), a, b)

    return impl


def _element(kind, y, p, a, b):
    """Dispatch at compile time (kind is a string literal) to the element function for the
    input dtype; returns (value as float64, derivative, check as float64)."""


@overload(_element, jit_options=_KERNEL, inline="always")
def _element_overload(kind, y, p, a, b):
    if not isinstance(kind, types.StringLiteral):
        return None
    single = _ELEMENTS_F32.get(kind.literal_value)
    if y == types.float32 and single is not None:

        def impl(kind, y, p, a, b):
            v, d, c = single(y, p, a, b)
            return np.float64(v), d, np.float64(c)

        return impl
    element = _ELEMENTS[kind.literal_value]

    def impl(kind, y, p, a, b):
        return element(np.float64(y), np.float64(p), a, b)

    return impl


# ---------------------------------------------------------------------------------------------
# 3. Kernel templates. `kind` is a closure constant: numba types it as a literal, so each loss
#    gets its own machine code, and the cache key stays stable across processes.
# ---------------------------------------------------------------------------------------------
class Kernels:
    """The six fused kernels of one loss; all take 1-D arrays of one dtype.

    - ``value_sum(y_true, y_pred, a, b) -> sum``
    - ``value_each(y_true, y_pred, out, a, b) -> sum``
    - ``gradient(y_true, y_pred, out, scale, a, b) -> check``
    - ``value_sum_and_gradient(y_true, y_pred, out, scale, a, b) -> sum``
    - ``value_each_and_gradient(y_true, y_pred, values, grads, a, b) -> sum``
    - ``gradient_and_hessian(y_true, y_pred, grads, hessians, scale, a, b) -> check``

    An element's value is non-finite whenever its inputs are bad, so a non-finite sum is the
    signal to look for a culprit; the gradient kernel sums the elements' checks instead.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._parallel: ParallelKernels | None = None
        (
            self.value_sum,
            self.value_each,
            self.gradient,
            self.value_sum_and_gradient,
            self.value_each_and_gradient,
            self.gradient_and_hessian,
        ) = _make_kernels(kind)

    @property
    def parallel(self) -> ParallelKernels:
        """The all-core variants of the reduced kernels (compiled on first use)."""
        if self._parallel is None:
            self._parallel = ParallelKernels(self.kind, self.gradient, self.gradient_and_hessian)
        return self._parallel

    def __repr__(self) -> str:
        return f"Kernels({self.kind!r})"


class ParallelKernels:
    """`value_sum`, `gradient`, `value_sum_and_gradient` and `gradient_and_hessian` of one
    loss on every core: the
    blocks of the serial kernels in a numba ``prange``, each block summed as there, and the
    block sums combined in order with the same compensation, so a sum is the serial one
    (to the last bit where LLVM vectorizes the block loops alike). Same signatures."""

    def __init__(self, kind: str, serial_gradient, serial_hessian) -> None:
        self.kind = kind
        made = _make_parallel(kind, serial_gradient, serial_hessian)
        (self.value_sum, self.gradient, self.value_sum_and_gradient, self.gradient_and_hessian) = (
            made
        )

    def __repr__(self) -> str:
        return f"ParallelKernels({self.kind!r})"


def _make_kernels(kind: str):
    @numba.njit(**_KERNEL)
    def value_sum(y_true, y_pred, a, b):
        total = 0.0
        compensation = 0.0
        for start in range(0, y_true.size, _BLOCK):
            block = 0.0
            yt = y_true[start : start + _BLOCK]  # slices: a loop from 0 needs no index
            yp = y_pred[start : start + _BLOCK]  # wraparound, which would force gathers
            for i in range(yt.size):
                v, _, _ = _element(kind, yt[i], yp[i], a, b)
                block = _add_reassoc(block, v)
            total, compensation = _neumaier_add(total, compensation, block)
        return total + compensation

    @numba.njit(**_KERNEL)
    def value_each(y_true, y_pred, out, a, b):
        total = 0.0
        for i in range(y_true.size):
            v, _, _ = _element(kind, y_true[i], y_pred[i], a, b)
            out[i] = v
            total = _add_reassoc(total, v)
        return total

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
        target, moved = _gradient_target(out, y_true, y_pred)
        total = 0.0
        compensation = 0.0
        for start in range(0, y_true.size, _BLOCK):
            block = 0.0
            yt = y_true[start : start + _BLOCK]
            yp = y_pred[start : start + _BLOCK]
            grads = target[start : start + _BLOCK]
            for i in range(yt.size):
                v, d, _ = _element(kind, yt[i], yp[i], a, b)
                grads[i] = d * scale
                block = _add_reassoc(block, v)
            total, compensation = _neumaier_add(total, compensation, block)
        if moved:
            out[:] = target
        return total + compensation

    @numba.njit(**_KERNEL)
    def value_each_and_gradient(y_true, y_pred, values, grads, a, b):
        total = 0.0
        for i in range(y_true.size):
            v, d, _ = _element(kind, y_true[i], y_pred[i], a, b)
            values[i] = v
            grads[i] = d
            total = _add_reassoc(total, v)
        return total

    @numba.njit(**_KERNEL)
    def gradient_and_hessian(y_true, y_pred, grads, hessians, scale, a, b):
        check = 0.0
        for i in range(y_true.size):
            _, d, c = _element(kind, y_true[i], y_pred[i], a, b)
            grads[i] = d * scale
            hessians[i] = _second(kind, y_true[i], y_pred[i], a, b) * scale
            check = _add_reassoc(check, c)
        return check

    return (
        value_sum,
        value_each,
        gradient,
        value_sum_and_gradient,
        value_each_and_gradient,
        gradient_and_hessian,
    )


_PARALLEL = dict(_KERNEL, parallel=True)


def _make_parallel(kind: str, block_gradient, block_hessian):
    # Each block is a call of its own: a block's loop written inside the prange body was not
    # vectorized (the all-core read probe ran 2.7x slower than the serial one), a call is.
    # A block's gradient is the serial gradient kernel on its slice (one loop, no blocks).
    @numba.njit(**_KERNEL)
    def block_value(yt, yp, a, b):
        block = 0.0
        for i in range(yt.size):
            v, _, _ = _element(kind, yt[i], yp[i], a, b)
            block = _add_reassoc(block, v)
        return block

    @numba.njit(**_KERNEL)
    def block_value_and_gradient(yt, yp, grads, scale, a, b):
        block = 0.0
        for i in range(yt.size):
            v, d, _ = _element(kind, yt[i], yp[i], a, b)
            grads[i] = d * scale
            block = _add_reassoc(block, v)
        return block

    @numba.njit(**_PARALLEL)
    def value_sum(y_true, y_pred, a, b):
        sums = np.empty((y_true.size + _BLOCK - 1) // _BLOCK)
        for j in numba.prange(sums.size):
            s = slice(j * _BLOCK, (j + 1) * _BLOCK)
            sums[j] = block_value(y_true[s], y_pred[s], a, b)
        return _compensated(sums)

    @numba.njit(**_PARALLEL)
    def gradient(y_true, y_pred, out, scale, a, b):
        checks = np.empty((y_true.size + _BLOCK - 1) // _BLOCK)
        for j in numba.prange(checks.size):
            s = slice(j * _BLOCK, (j + 1) * _BLOCK)
            checks[j] = block_gradient(y_true[s], y_pred[s], out[s], scale, a, b)
        return _compensated(checks)

    @numba.njit(**_PARALLEL)
    def value_sum_and_gradient(y_true, y_pred, out, scale, a, b):
        target, moved = _gradient_target(out, y_true, y_pred)
        sums = np.empty((y_true.size + _BLOCK - 1) // _BLOCK)
        for j in numba.prange(sums.size):
            s = slice(j * _BLOCK, (j + 1) * _BLOCK)
            sums[j] = block_value_and_gradient(y_true[s], y_pred[s], target[s], scale, a, b)
        if moved:
            out[:] = target
        return _compensated(sums)

    @numba.njit(**_PARALLEL)
    def gradient_and_hessian(y_true, y_pred, grads, hessians, scale, a, b):
        checks = np.empty((y_true.size + _BLOCK - 1) // _BLOCK)
        for j in numba.prange(checks.size):
            s = slice(j * _BLOCK, (j + 1) * _BLOCK)
            checks[j] = block_hessian(y_true[s], y_pred[s], grads[s], hessians[s], scale, a, b)
        return _compensated(checks)

    return value_sum, gradient, value_sum_and_gradient, gradient_and_hessian


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
            kernels.gradient_and_hessian(y, y, out, out.copy(), 1.0, 1.0, 1e-7)
            seconds[(kind, np.dtype(dtype).name)] = time.perf_counter() - start
    return seconds
