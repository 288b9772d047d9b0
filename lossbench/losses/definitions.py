"""Loss functions: definitions, numpy reference kernels, and the name registry.

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

import difflib
import importlib
import math
import re
import reprlib
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from lossbench.errors import LossbenchError
from lossbench.losses import impls as _impls
from lossbench.losses._checks import as_loss_inputs, check_choice, locate_bad_input
from lossbench.losses.links import IDENTITY, SIGMOID, Link

__all__ = ["IMPLS", "LOSSES", "REDUCTIONS", "Loss", "Parameter", "UserLoss", "get", "names"]

REDUCTIONS = ("mean", "sum", "none")
IMPLS = _impls.own()  # the implementations the loss API runs (see lossbench.losses.impls)


@dataclass(frozen=True)
class Parameter:
    """A loss hyperparameter: its name, default, meaning, and allowed values."""

    name: str
    default: float | None
    doc: str
    valid: Callable[[float], bool]
    expected: str  # how `valid` reads in an error message: "a number > 0"


class Loss:
    """A loss function with the fixed family of methods `value`, `gradient`,
    `value_and_gradient`; subclasses supply per-element numpy kernels and a fused kernel."""

    name: ClassVar[str]
    formula: ClassVar[str]
    summary: ClassVar[str]
    parameters: ClassVar[tuple[Parameter, ...]] = ()
    prediction: ClassVar[str] = "real"  # what y_pred is: real | probability | logit
    labels: ClassVar[bool] = False  # y_true must lie in [0, 1]
    impls: ClassVar[tuple[str, ...]] = IMPLS
    # the parameter measured in units of y (a residual scale), if any: fits may rescale it
    scale_parameter: ClassVar[str | None] = None

    def __init__(self, **params: Any) -> None:
        self.params = self._resolve_params(params)
        self._fused: dict[np.dtype, tuple[Any, float, float]] = {}

    # -- identity -------------------------------------------------------------------------------
    def __str__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.params.items() if v is not None)
        return f"{self.name}({shown})" if shown else self.name

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
        return f"{str(self)[:-1]}, scale={scale})"

    def with_scale(self, scale: float) -> Loss:
        """The same loss with its scale parameter multiplied by `scale`: ρ_δ(r / s) equals
        ρ_{δ s}(r) / s², so a fit with δ in units of a residual scale s is a fit with δ·s."""
        if self.scale_parameter is None:
            return self
        name = self.scale_parameter
        return type(self)(**{**self.params, name: self.params[name] * scale})

    def link(self, task: str) -> Link:
        """What this loss sees of a model's linear predictor z: a binary model's probability
        sigmoid(z), unless the loss works on logits; z itself in regression."""
        return SIGMOID if task == "classification" and self.prediction != "logit" else IDENTITY

    # -- the public family ----------------------------------------------------------------------
    def value(self, y_true, y_pred, *, reduction: str = "mean", impl: str = "numpy"):
        """The loss, reduced: a float for "mean" and "sum", an array for "none"."""
        return self._compute(y_true, y_pred, reduction, impl, True, False)[0]

    def gradient(self, y_true, y_pred, *, reduction: str = "mean", impl: str = "numpy"):
        """d(reduced loss)/d(y_pred), an array of y_pred's shape and dtype."""
        return self._compute(y_true, y_pred, reduction, impl, False, True)[1]

    def value_and_gradient(self, y_true, y_pred, *, reduction: str = "mean", impl: str = "numpy"):
        """`(value, gradient)` from one evaluation (one pass over memory with impl="fused")."""
        return self._compute(y_true, y_pred, reduction, impl, True, True)

    # -- what a subclass provides ---------------------------------------------------------------
    def _values(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """Per-element loss values (numpy reference)."""
        raise NotImplementedError

    def _derivatives(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """Per-element d loss / d y_pred (numpy reference); a new array the caller may modify."""
        raise NotImplementedError

    def _values_and_derivatives(self, y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
        return self._values(y_true, y_pred), self._derivatives(y_true, y_pred)

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
                if isinstance(v, bool) or not isinstance(v, int | float | np.number):
                    raise LossbenchError(f"{self.name}: {p.name} must be {p.expected}; got {v!r}")
                v = float(v)
                if not (math.isfinite(v) and p.valid(v)):
                    raise LossbenchError(f"{self.name}: {p.name} must be {p.expected}; got {v!r}")
            params[p.name] = v
        return params

    def _compute(self, y_true, y_pred, reduction, impl, want_value, want_grad):
        if reduction not in REDUCTIONS:
            check_choice("reduction", reduction, REDUCTIONS)
        if impl not in self.impls:
            if impl in IMPLS:
                raise LossbenchError(
                    f"{self} has no {impl!r} implementation; expected impl in {self.impls}"
                )
            check_choice("impl", impl, IMPLS)
        yt, yp, shape = as_loss_inputs(y_true, y_pred)
        return _impls.get(impl).compute(self, yt, yp, shape, reduction, want_value, want_grad)

    def _compute_numpy(self, yt, yp, shape, reduction, want_value, want_grad):
        bad = not (math.isfinite(yt.sum()) and math.isfinite(yp.sum()))
        if self.labels:
            bad = bad or yt.min() < 0 or yt.max() > 1
        if bad:
            locate_bad_input(yt, yp, shape, labels=self.labels)
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

    def _compute_fused(self, yt, yp, shape, reduction, want_value, want_grad):
        kernels, a, b = self._fused.get(yp.dtype) or self._bind_fused(yp.dtype)
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


def _positive(x: float) -> bool:
    return x > 0


_DELTA = Parameter("delta", 1.0, "where the quadratic part turns linear", _positive, "a number > 0")


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


class BCE(Loss):
    name = "bce"
    formula = "mean(−[y log p + (1 − y) log(1 − p)]),  p clipped to [ε, 1 − ε]"
    summary = "binary cross-entropy on probabilities: punishes confident mistakes without bound"
    parameters = (
        Parameter(
            "eps",
            None,
            "p is clipped to [eps, 1 − eps]; default: the dtype's machine epsilon",
            lambda x: 0 < x < 0.5,
            "a number in (0, 0.5)",
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


class UserLoss(Loss):
    """A loss written by the user, named ``"package.module:function"``.

    ``function(y_true, y_pred, **params)`` returns per-element losses as a numpy array. If it has
    an attribute ``gradient`` (same signature, per-element d loss / d y_pred) that is used;
    otherwise the derivative is taken by central differences. Optional attributes ``labels``
    (bool) and ``prediction`` ("real", "probability", "logit") describe its inputs. Naming a
    user loss imports and runs that code. Only ``impl="numpy"`` is available.
    """

    formula = "user code"
    summary = "a user-defined loss"
    impls = ("numpy",)

    def __init__(self, spec: str, **params: Any) -> None:
        self.name = spec
        self.params = dict(params)
        self._function = _import_function(spec)
        self._gradient = getattr(self._function, "gradient", None)
        self.labels = bool(getattr(self._function, "labels", False))
        self.prediction = str(getattr(self._function, "prediction", "real"))
        self.summary = (
            (self._function.__doc__ or "").strip().splitlines() or ["a user-defined loss"]
        )[0]
        self._dry_run()

    def _dry_run(self) -> None:
        """Call the code once on four elements, so that a loss that fails does so before a run
        starts (a function that raises, returns strings or the wrong shape)."""
        y_true = np.array([0.0, 1.0, 1.0, 0.0]) if self.labels else np.array([0.5, -1.0, 2.0, 0.0])
        y_pred = np.array([0.2, 0.7, 0.9, 0.4]) if self.prediction == "probability" else (
            np.array([-1.0, 0.5, 2.0, 0.1]))  # fmt: skip
        self._values(y_true, y_pred)
        if self._gradient is not None:
            self._call(self._gradient, y_true, y_pred)

    def _call(self, function, y_true, y_pred) -> np.ndarray:
        try:
            out = function(y_true, y_pred, **self.params)
        except Exception as error:  # the user's code: any failure is theirs to see
            raise LossbenchError(
                f"user loss {self.name} raised {type(error).__name__}: {str(error)[:200]}"
            ) from None
        try:
            out = np.array(out, dtype=y_pred.dtype, copy=True)
        except (TypeError, ValueError):
            raise LossbenchError(
                f"user loss {self.name} must return numbers; got {reprlib.repr(out)}"
            ) from None
        if out.shape != y_pred.shape:
            raise LossbenchError(
                f"user loss {self.name} must return one value per element, shape "
                f"{y_pred.shape}; got shape {out.shape}"
            )
        return out

    def _values(self, y_true, y_pred):
        return self._call(self._function, y_true, y_pred)

    def _derivatives(self, y_true, y_pred):
        if self._gradient is not None:
            return self._call(self._gradient, y_true, y_pred)
        # elementwise losses make the Jacobian diagonal: two calls give every derivative
        h = np.finfo(y_pred.dtype).eps ** (1 / 3) * np.maximum(1.0, np.abs(y_pred))
        up = self._call(self._function, y_true, y_pred + h)
        down = self._call(self._function, y_true, y_pred - h)
        return ((up - down) / (2.0 * h)).astype(y_pred.dtype)


def _import_function(spec: str) -> Callable:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise LossbenchError(f"a user loss is named 'package.module:function'; got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise LossbenchError(
            f"user loss {spec!r}: cannot import {module_name!r} ({error})"
        ) from None
    except SyntaxError as error:
        raise LossbenchError(
            f"user loss {spec!r}: {error.filename}, line {error.lineno}: {error.msg}"
        ) from None
    except Exception as error:  # the module's own code failed as it was imported
        raise LossbenchError(
            f"user loss {spec!r}: importing {module_name} raised {type(error).__name__}: "
            f"{str(error)[:200]}"
        ) from None
    function = getattr(module, attribute, None)
    if not callable(function):
        raise LossbenchError(f"user loss {spec!r}: {module_name} has no function {attribute!r}")
    return function


LOSSES: MappingProxyType[str, type[Loss]] = MappingProxyType(
    {cls.name: cls for cls in (MSE, MAE, Huber, PseudoHuber, LogCosh, BCE, BCEWithLogits)}
)

_LABEL = re.compile(r"^\s*([\w.:]+)\s*\((.*)\)\s*$")


def names() -> list[str]:
    """The built-in loss names, sorted."""
    return sorted(LOSSES)


def get(name: str, **params: Any) -> Loss:
    """The loss called `name`, with `params` (keyword-only hyperparameters).

    `name` is a built-in name (see `names()`), a label such as ``"huber(delta=1.345)"`` (as
    lossbench writes them in result files), or ``"package.module:function"`` for a user loss.
    """
    if not isinstance(name, str):
        raise LossbenchError(f"a loss name must be a string; got {name!r}")
    label = _LABEL.match(name)
    if label:
        name, params = label.group(1), {**_parse_label_params(label.group(2), name), **params}
        params.pop("scale", None)  # a fit's label ("huber(delta=1.345, scale=mad)"): the loss
    if ":" in name:
        return UserLoss(name, **params)
    cls = LOSSES.get(name)
    if cls is None:
        close = difflib.get_close_matches(name, LOSSES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise LossbenchError(
            f"unknown loss {name!r}{hint}; expected one of {', '.join(names())} "
            "or 'package.module:function'"
        )
    return cls(**params)


def _parse_label_params(text: str, name: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, raw = item.partition("=")
        if not sep:
            raise LossbenchError(
                f"cannot read loss label {name!r}: expected key=value, got {item!r}"
            )
        if key.strip() == "scale":  # how a fit measured δ, not a loss parameter
            params["scale"] = raw.strip()
            continue
        try:
            params[key.strip()] = None if raw.strip() == "None" else float(raw)
        except ValueError:
            raise LossbenchError(
                f"cannot read loss label {name!r}: {key.strip()} must be a number, got {raw!r}"
            ) from None
    return params
