"""The loss base class: the fixed family of methods, parameters, and the conventions.

Conventions, written once:

- r = y_true - y_pred. Each loss is a per-element function reduced by ``reduction``: ``"mean"``
  (default), ``"sum"`` or ``"none"`` (the per-element values, in the input's shape).
- ``gradient`` is the derivative of the reduced value with respect to each y_pred element, so
  for ``"mean"`` it carries the 1/m; for ``"none"`` it is each element's own derivative.
- MSE follows the seed: mean(r²), gradient -2r/m (no ½; scikit-learn's "half" squared error
  differs by exactly that factor).
- ``impl="numpy"`` is the reference: vectorized numpy that mirrors the formula. ``impl="fused"``
  runs `lossbench.losses.fused`: one pass over memory, value and gradient together. They agree to
  1e-12 relative in float64 and 1e-5 in float32.
- The output dtype is y_pred's (float32 or float64); sums accumulate in float64.
- Bad input raises `LossbenchError`: the numpy reference checks its inputs in separate
  vectorized passes; the fused kernels fold the check into their single pass and look for the
  culprit only when it fails.

References: Huber, "Robust estimation of a location parameter" (1964); Charbonnier et al.,
"Two deterministic half-quadratic regularization algorithms" (1997) for pseudo-Huber.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from lossbench.errors import LossbenchError
from lossbench.losses import impls as _impls
from lossbench.losses._checks import as_loss_inputs, check_choice, locate_bad_input
from lossbench.losses.labels import format_label
from lossbench.losses.links import IDENTITY, SIGMOID, Link
from lossbench.params import Range

__all__ = ["IMPLS", "REDUCTIONS", "Loss", "Parameter"]

REDUCTIONS = ("mean", "sum", "none")
IMPLS = _impls.own()  # the implementations the loss API runs (see lossbench.losses.impls)


@dataclass(frozen=True)
class Parameter:
    """A loss hyperparameter: its name, default (None: set by the loss), meaning, and the
    range of its values (`lossbench.params.Range`, the check datasets use too)."""

    name: str
    default: float | None
    doc: str
    range: Range


class Loss:
    """A loss function with the fixed family of methods `value`, `gradient`,
    `value_and_gradient`; subclasses supply per-element numpy kernels and a fused kernel."""

    name: str
    formula: str
    summary: str
    parameters: ClassVar[tuple[Parameter, ...]] = ()
    prediction: str = "real"  # what y_pred is: real | probability | logit
    labels: bool = False  # y_true must lie in [0, 1]
    # "elements": y_pred has y_true's shape, the value a sum over elements; "rows": y_pred is
    # (n, K) logits, the value a sum over rows (`lossbench.losses.softmax`, multiclass fits)
    over: ClassVar[str] = "elements"
    impls: ClassVar[tuple[str, ...]] = IMPLS
    # the parameter measured in units of y (a residual scale), if any: fits may rescale it
    scale_parameter: ClassVar[str | None] = None

    def __init__(self, **params: Any) -> None:
        self.params = self._resolve_params(params)
        self._fused: dict[np.dtype, tuple[Any, float, float]] = {}

    # -- identity -------------------------------------------------------------------------------
    def __str__(self) -> str:
        return format_label(self.name, self.params)

    def __repr__(self) -> str:
        params = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"lossbench.losses.get({self.name!r}{params})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Loss) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def fit_label(self, scale: str, task: str) -> str:
        """The label of this loss as fitted: ``huber(delta=1.345, scale=mad)`` when its scale
        parameter is measured in a residual scale (linear fits), else ``str(self)``."""
        if self.scale_parameter is None or task != "regression":
            return str(self)
        return format_label(self.name, self.params, scale=scale)

    def with_scale(self, scale: float) -> Loss:
        """The same loss with its scale parameter multiplied by `scale`: ρ_δ(r / s) equals
        ρ_{δ s}(r) / s², so a fit with δ in units of a residual scale s is a fit with δ·s."""
        if self.scale_parameter is None:
            return self
        name = self.scale_parameter
        scaled = self.params[name] * scale
        if not (math.isfinite(scaled) and scaled > 0):
            raise LossbenchError(f"{self}: a residual scale of {scale:g} makes {name} {scaled:g}")
        # not re-checked against the config's range: δ·s for a near-exact fit may be 1e-13
        rescaled = object.__new__(type(self))
        rescaled.params, rescaled._fused = {**self.params, name: scaled}, {}
        return rescaled

    def link(self, task: str) -> Link:
        """What this loss sees of a model's linear predictor z: a binary model's probability
        sigmoid(z), unless the loss works on logits; z itself in regression."""
        return SIGMOID if task == "classification" and self.prediction != "logit" else IDENTITY

    # -- the public family ----------------------------------------------------------------------
    def value(self, y_true, y_pred, *, reduction: str = "mean", impl: str = "numpy"):
        """The loss, reduced: a float for "mean" and "sum", an array for "none".

        >>> import numpy as np
        >>> from lossbench import losses
        >>> y_true, y_pred = np.array([0.0, 1.0, 2.0]), np.array([0.5, 2.0, 3.0])
        >>> losses.get("mse").value(y_true, y_pred)  # mean(r²), no ½
        0.75
        >>> huber = losses.get("huber", delta=1.0)
        >>> huber.value(y_true, y_pred, reduction="sum"), huber.value(y_true, y_pred, impl="fused")
        (1.125, 0.375)
        >>> huber.value(y_true, y_pred, reduction="none")
        array([0.125, 0.5  , 0.5  ])
        >>> losses.get("bce_logits").value(np.array([0.0]), np.array([1e300]))  # stable
        1e+300
        """
        return self._compute(y_true, y_pred, reduction, impl, True, False)[0]

    def gradient(self, y_true, y_pred, *, reduction: str = "mean", impl: str = "numpy"):
        """d(reduced loss)/d(y_pred), an array of y_pred's shape and dtype; for "mean" it
        carries the 1/m.

        >>> import numpy as np
        >>> from lossbench import losses
        >>> y_true, y_pred = np.array([0.0, 1.0, 2.0]), np.array([0.5, 2.0, 3.0])
        >>> losses.get("mse").gradient(y_true, y_pred)  # −2r/m
        array([0.33333333, 0.66666667, 0.66666667])
        >>> losses.get("mse").gradient(y_true, y_pred.astype(np.float32)).dtype
        dtype('float32')
        """
        return self._compute(y_true, y_pred, reduction, impl, False, True)[1]

    def value_and_gradient(self, y_true, y_pred, *, reduction: str = "mean", impl: str = "numpy"):
        """`(value, gradient)` from one evaluation (one pass over memory with impl="fused").

        >>> import numpy as np
        >>> from lossbench import losses
        >>> y_true, y_pred = np.array([0.0, 1.0, 2.0]), np.array([0.5, 2.0, 3.0])
        >>> losses.get("mse").value_and_gradient(y_true, y_pred, impl="fused")
        (0.75, array([0.33333333, 0.66666667, 0.66666667]))
        >>> losses.get("bce").value(np.array([2.0]), np.array([0.5]))
        Traceback (most recent call last):
        ...
        lossbench.errors.LossbenchError: y_true[0] is 2.0; expected labels in [0, 1]
        """
        return self._compute(y_true, y_pred, reduction, impl, True, True)

    def hessian(self, y_true, y_pred, *, reduction: str = "mean"):
        """d²(reduced loss)/d(y_pred)², per element: the Hessian's diagonal, which for an
        elementwise loss is all of it. y_pred's shape and dtype; for "mean" it carries the 1/m.
        Where the loss has no second derivative it is the one it has almost everywhere: 0 for
        mae, and for huber beyond δ (a booster needs its own treatment there).

        >>> import numpy as np
        >>> from lossbench import losses
        >>> y_true, y_pred = np.array([0.0, 1.0, 2.0]), np.array([0.5, 2.0, 4.0])
        >>> losses.get("mse").hessian(y_true, y_pred, reduction="sum")
        array([2., 2., 2.])
        >>> losses.get("huber", delta=1.0).hessian(y_true, y_pred, reduction="none")
        array([1., 1., 0.])
        """
        if reduction not in REDUCTIONS:
            check_choice("reduction", reduction, REDUCTIONS)
        yt, yp, shape = as_loss_inputs(y_true, y_pred)
        self._check_finite(yt, yp, shape)
        h = np.asarray(self._second_derivatives(yt, yp), dtype=yp.dtype)
        if reduction == "mean":
            h = h * (1.0 / yp.size)
        return h.reshape(shape)

    def gradient_and_hessian(self, y_true, y_pred, *, reduction: str = "mean", impl: str = "numpy"):
        """`(gradient, hessian)`: what a booster asks of its objective. ``impl="fused"``
        computes both in one pass over memory (the numpy reference otherwise)."""
        self._check_impl(impl)
        if impl != "fused":
            return (
                self.gradient(y_true, y_pred, reduction=reduction),
                self.hessian(y_true, y_pred, reduction=reduction),
            )
        if reduction not in REDUCTIONS:
            check_choice("reduction", reduction, REDUCTIONS)
        yt, yp, shape = as_loss_inputs(y_true, y_pred)
        return self._fused_hessian(yt, yp, shape, reduction)

    def _fused_hessian(self, yt, yp, shape, reduction, parallel=False):
        kernels, a, b = self._fused.get(yp.dtype) or self._bind_fused(yp.dtype)
        kernels = kernels.parallel if parallel else kernels
        grad, hess = np.empty(yp.size, yp.dtype), np.empty(yp.size, yp.dtype)
        scale = 1.0 / yp.size if reduction == "mean" else 1.0
        check = kernels.gradient_and_hessian(yt, yp, grad, hess, scale, a, b)
        if not math.isfinite(check):
            locate_bad_input(yt, yp, shape, labels=self.labels)
        return grad.reshape(shape), hess.reshape(shape)

    # -- what a subclass provides ---------------------------------------------------------------
    def _values(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """Per-element loss values (numpy reference)."""
        raise NotImplementedError

    def _derivatives(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """Per-element d loss / d y_pred (numpy reference); a new array the caller may modify."""
        raise NotImplementedError

    def _values_and_derivatives(self, y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
        return self._values(y_true, y_pred), self._derivatives(y_true, y_pred)

    def _second_derivatives(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """Per-element d² loss / d y_pred² (numpy reference); by default central differences
        of `_derivatives` (a loss with a closed form overrides this)."""
        h = np.finfo(y_pred.dtype).eps ** (1 / 3) * np.maximum(1.0, np.abs(y_pred))
        up = self._derivatives(y_true, y_pred + h)
        down = self._derivatives(y_true, y_pred - h)
        return (up - down) / (2.0 * h)

    def _fused_args(self, dtype: np.dtype) -> tuple[float, float]:
        """The two float parameters the fused element function takes (unused ones are 0)."""
        return 0.0, 0.0

    # -- machinery ------------------------------------------------------------------------------
    def _resolve_params(self, given: dict[str, Any]) -> dict[str, Any]:
        known = {p.name: p for p in self.parameters}
        unknown = sorted(set(given) - set(known))
        if unknown:
            expected = ", ".join(known) if known else "no parameters"
            raise LossbenchError(
                f"{self.name} has no parameter {unknown[0]!r}; expected {expected}"
            )
        params = {}
        for p in self.parameters:
            v = given.get(p.name, p.default)
            if v is not None:
                v = p.range.check(v, name=f"{self.name}: {p.name}")
            params[p.name] = v
        return params

    def _compute(self, y_true, y_pred, reduction, impl, want_value, want_grad):
        if reduction not in REDUCTIONS:
            check_choice("reduction", reduction, REDUCTIONS)
        self._check_impl(impl)
        yt, yp, shape = as_loss_inputs(y_true, y_pred)
        return _impls.get(impl).compute(self, yt, yp, shape, reduction, want_value, want_grad)

    def _check_impl(self, impl: str) -> None:
        if impl not in self.impls:
            if impl in IMPLS:
                raise LossbenchError(
                    f"{self} has no {impl!r} implementation; expected impl in {self.impls}"
                )
            check_choice("impl", impl, IMPLS)

    def _check_finite(self, yt, yp, shape) -> None:
        bad = not (math.isfinite(yt.sum()) and math.isfinite(yp.sum()))
        if self.labels:
            bad = bad or yt.min() < 0 or yt.max() > 1
        if bad:
            locate_bad_input(yt, yp, shape, labels=self.labels)

    def _compute_numpy(self, yt, yp, shape, reduction, want_value, want_grad):
        self._check_finite(yt, yp, shape)
        if want_value and want_grad:
            values, grad = self._values_and_derivatives(yt, yp)
        elif want_value:
            values, grad = self._values(yt, yp), None
        else:
            values, grad = None, self._derivatives(yt, yp)
        value = None
        if values is not None:
            if reduction == "none":
                value = values.reshape(shape)
            else:
                value = float(np.sum(values, dtype=np.float64))
                value = value / yp.size if reduction == "mean" else value
        if grad is not None:
            if reduction == "mean":
                grad *= 1.0 / yp.size
            grad = grad.reshape(shape)
        return value, grad

    def _compute_fused(self, yt, yp, shape, reduction, want_value, want_grad, parallel=False):
        kernels, a, b = self._fused.get(yp.dtype) or self._bind_fused(yp.dtype)
        if parallel and reduction != "none":  # every core: the same sums (timing's `@all`)
            kernels = kernels.parallel
        n = yp.size
        value = grad = None
        if want_grad:
            grad = np.empty(n, yp.dtype)
        if reduction == "none" and want_value:
            values = np.empty(n, yp.dtype)
            if want_grad:
                check = kernels.value_each_and_gradient(yt, yp, values, grad, a, b)
            else:
                check = kernels.value_each(yt, yp, values, a, b)
            value = values if len(shape) == 1 else values.reshape(shape)
        else:
            scale = 1.0 / n if reduction == "mean" else 1.0
            if want_value:
                if want_grad:
                    check = kernels.value_sum_and_gradient(yt, yp, grad, scale, a, b)
                else:
                    check = kernels.value_sum(yt, yp, a, b)
                value = check / n if reduction == "mean" else check
            else:
                check = kernels.gradient(yt, yp, grad, scale, a, b)
        if not math.isfinite(check):
            locate_bad_input(yt, yp, shape, labels=self.labels)
        return value, grad if grad is None or len(shape) == 1 else grad.reshape(shape)

    def _bind_fused(self, dtype: np.dtype) -> tuple[Any, float, float]:
        """(kernels, a, b) for this loss and dtype, remembered: small calls are hot."""
        from lossbench.losses.fused import (
            KERNELS,  # numba loads only when a fused kernel is asked for
        )

        bound = (KERNELS[self.name], *self._fused_args(dtype))
        self._fused[dtype] = bound
        return bound
