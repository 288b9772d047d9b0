"""The built-in losses: per-element numpy reference kernels (the fused ones are in
`lossbench.losses.fused`), each with its formula and what it is for; `LOSSES` by name.

References: Huber, "Robust estimation of a location parameter" (1964); Charbonnier et al.,
"Two deterministic half-quadratic regularization algorithms" (1997) for pseudo-Huber.
"""

from __future__ import annotations

import math
from types import MappingProxyType

import numpy as np

from lossbench.losses.base import Loss, Parameter
from lossbench.params import Range

__all__ = ["LOSSES"]


_DELTA = Parameter(
    "delta",
    1.0,
    "where the quadratic part turns linear",
    # δ² must stay a normal number and δ·r finite: a δ of 1e-320 made a fit "converge" at
    # its start, every gradient below the tolerance
    Range(1e-8, 1e12, "a number in [1e-08, 1e+12] (in units of the residual scale)"),
)


class MSE(Loss):
    name = "mse"
    formula = "mean(r²),  r = y_true − y_pred"
    summary = "mean squared error: efficient under Gaussian noise, dragged by outliers"

    def _values(self, y_true, y_pred):
        r = y_true - y_pred
        return np.square(r, out=r)

    def _derivatives(self, y_true, y_pred):
        r = y_true - y_pred
        return np.multiply(r, -2.0, out=r)

    def _values_and_derivatives(self, y_true, y_pred):
        r = y_true - y_pred
        return r * r, np.multiply(r, -2.0, out=r)

    def _second_derivatives(self, y_true, y_pred):
        return np.full_like(y_pred, 2.0)


class MAE(Loss):
    name = "mae"
    formula = "mean(|r|)"
    summary = "mean absolute error: the median's loss, robust but not smooth at 0"

    def _values(self, y_true, y_pred):
        r = y_true - y_pred
        return np.abs(r, out=r)

    def _derivatives(self, y_true, y_pred):
        r = y_true - y_pred
        return np.negative(np.sign(r, out=r), out=r)  # sign(0) = 0: the subgradient at 0

    def _second_derivatives(self, y_true, y_pred):
        return np.zeros_like(y_pred)  # 0 wherever it exists (everywhere but r = 0)


class Huber(Loss):
    name = "huber"
    formula = "mean(½r² if |r| ≤ δ else δ(|r| − ½δ))"
    summary = "quadratic near 0, linear in the tails: robust with most of MSE's efficiency"
    parameters = (_DELTA,)
    scale_parameter = "delta"

    def _values(self, y_true, y_pred):
        delta = self.params["delta"]
        r = np.abs(y_true - y_pred)
        return np.where(r <= delta, 0.5 * r * r, delta * (r - 0.5 * delta))

    def _derivatives(self, y_true, y_pred):
        delta = self.params["delta"]
        r = y_true - y_pred
        return np.negative(np.clip(r, -delta, delta, out=r), out=r)

    def _second_derivatives(self, y_true, y_pred):
        inside = np.abs(y_true - y_pred) <= self.params["delta"]
        return inside.astype(y_pred.dtype)  # 1 on the quadratic part, 0 on the linear tails

    def _fused_args(self, dtype):
        return self.params["delta"], 0.0


class PseudoHuber(Loss):
    name = "pseudo_huber"
    formula = "mean(δ²(√(1 + (r/δ)²) − 1))"
    summary = "a smooth Huber: ½r² near 0, δ|r| in the tails, derivatives of every order"
    parameters = (_DELTA,)
    scale_parameter = "delta"

    def _values(self, y_true, y_pred):
        return self._values_and_derivatives(y_true, y_pred)[0]

    def _derivatives(self, y_true, y_pred):
        return self._values_and_derivatives(y_true, y_pred)[1]

    def _values_and_derivatives(self, y_true, y_pred):
        delta = self.params["delta"]
        r = y_true - y_pred
        t2 = np.square(r / delta)
        q = np.sqrt(1.0 + t2)
        # δ²(q − 1) as δ² t² / (q + 1): the subtraction would cancel for small r
        return delta * delta * t2 / (q + 1.0), np.negative(r, out=r) / q

    def _second_derivatives(self, y_true, y_pred):
        q = np.sqrt(1.0 + np.square((y_true - y_pred) / self.params["delta"]))
        return 1.0 / (q * q * q)

    def _fused_args(self, dtype):
        return self.params["delta"], 0.0


class LogCosh(Loss):
    name = "log_cosh"
    formula = "mean(log cosh r)"
    summary = "≈ ½r² near 0 and |r| − log 2 in the tails, smooth everywhere"

    def _values(self, y_true, y_pred):
        a = np.abs(y_true - y_pred)
        # small |r|: log1p(2 sinh²(r/2)) keeps the ½r² that |r| − log 2 + log1p(e^-2|r|) cancels
        small = np.log1p(2.0 * np.sinh(0.5 * np.minimum(a, 1.0)) ** 2)
        large = (a - math.log(2.0)) + np.log1p(np.exp(-2.0 * a))
        return np.where(a < 1.0, small, large)

    def _derivatives(self, y_true, y_pred):
        r = y_true - y_pred
        return np.negative(np.tanh(r, out=r), out=r)

    def _second_derivatives(self, y_true, y_pred):
        # sech² r = 4e^(−2|r|) / (1 + e^(−2|r|))²: cosh r would overflow beyond |r| ≈ 710
        e = np.exp(-2.0 * np.abs(y_true - y_pred))
        return 4.0 * e / np.square(1.0 + e)


class BCE(Loss):
    name = "bce"
    formula = "mean(−[y log p + (1 − y) log(1 − p)]),  p clipped to [ε, 1 − ε]"
    summary = "binary cross-entropy on probabilities: punishes confident mistakes without bound"
    parameters = (
        Parameter(
            "eps",
            None,
            "p is clipped to [eps, 1 − eps]; default: the dtype's machine epsilon",
            Range(0.0, 0.5, "a number in (0, 0.5)", low_open=True, high_open=True),
        ),
    )
    prediction = "probability"
    labels = True

    def _eps(self, dtype: np.dtype) -> float:
        eps = self.params["eps"]
        return float(np.finfo(dtype).eps) if eps is None else eps

    def _values(self, y_true, y_pred):
        eps = self._eps(y_pred.dtype)
        p = np.clip(y_pred, eps, 1.0 - eps)
        # log(1 − p) as log1p(−p): exact where p is tiny and 1 − p would round
        return -(y_true * np.log(p) + (1.0 - y_true) * np.log1p(-p))

    def _derivatives(self, y_true, y_pred):
        eps = self._eps(y_pred.dtype)
        p = np.clip(y_pred, eps, 1.0 - eps)
        inside = (y_pred >= eps) & (y_pred <= 1.0 - eps)  # outside, the clipped loss is flat
        return np.where(inside, (p - y_true) / (p * (1.0 - p)), 0.0).astype(
            y_pred.dtype, copy=False
        )

    def _second_derivatives(self, y_true, y_pred):
        eps = self._eps(y_pred.dtype)
        p = np.clip(y_pred, eps, 1.0 - eps)
        inside = (y_pred >= eps) & (y_pred <= 1.0 - eps)
        curvature = y_true / (p * p) + (1.0 - y_true) / np.square(1.0 - p)
        return np.where(inside, curvature, 0.0)

    def _fused_args(self, dtype):
        return self._eps(dtype), 0.0


class BCEWithLogits(Loss):
    name = "bce_logits"
    formula = "mean(max(z, 0) − y z + log(1 + e^−|z|)),  z a logit"
    summary = "binary cross-entropy on logits, computed stably: finite for any finite z"
    prediction = "logit"
    labels = True

    def _values(self, y_true, y_pred):
        z = y_pred
        # log(1 + e^z) − y z rewritten so that exp never sees a positive argument
        return np.maximum(z, 0.0) - z * y_true + np.log1p(np.exp(-np.abs(z)))

    def _derivatives(self, y_true, y_pred):
        z = y_pred
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1.0, e) / (1.0 + e) - y_true  # sigmoid(z) − y, stably

    def _second_derivatives(self, y_true, y_pred):
        e = np.exp(-np.abs(y_pred))
        return e / np.square(1.0 + e)  # sigmoid(z)(1 − sigmoid(z)), stably


LOSSES: MappingProxyType[str, type[Loss]] = MappingProxyType(
    {cls.name: cls for cls in (MSE, MAE, Huber, PseudoHuber, LogCosh, BCE, BCEWithLogits)}
)
