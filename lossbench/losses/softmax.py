"""Softmax cross-entropy on (n, K) logits: the loss of multiclass classification.

For logits z (n rows, K ≥ 2 classes) and targets t (n, K), each row class probabilities (one-hot
for observed classes; given as class indices y ∈ {0, ..., K−1} they are made one-hot):

    value_i      = logsumexp(z_i) − Σ_k t_ik z_ik  = −Σ_k t_ik log softmax(z_i)_k
    gradient_ik  = softmax(z_i)_k − t_ik
    hessian_ik   = softmax(z_i)_k (1 − softmax(z_i)_k)      (the diagonal, as a booster asks)

reduced over rows: ``"mean"`` (1/n on the value and every derivative), ``"sum"``, ``"none"``
(the value per row; derivatives per element). This is torch's ``cross_entropy`` and
scikit-learn's ``log_loss`` of softmax(z), computed without ever taking exp of a positive
number: logsumexp(z) = m + log Σ exp(z − m), m = max_k z_ik, so any finite logits give a
finite loss (a row at ±1e300 included), and softmax = exp(z − logsumexp(z)).

``impl="numpy"`` is the reference; ``impl="fused"`` (numba) computes value, gradient and
Hessian diagonal together in float64, outputs in z's dtype (float32 or float64): with class
labels, `lossbench.losses.softmax_fused`'s blocked kernels (bound by one exp per element;
``all_cores`` there); with class probabilities, one pass per row. They agree to 1e-12
relative in float64 and 1e-5 in float32.

Configs name it ``cross_entropy`` in fit experiments on multiclass data and in timing
(`lossbench.losses.get` resolves it, from `ROW_LOSSES`); it is a loss over rows
(``over = "rows"``), so what is drawn or run per element (the loss figures, the other
experiment kinds) does not take it.

Reference: Bishop, *Pattern Recognition and Machine Learning* (2006), §4.3.4.
"""

from __future__ import annotations

import functools

import numpy as np

from lossbench.errors import LossbenchError
from lossbench.losses._checks import check_choice

__all__ = ["ROW_LOSSES", "CrossEntropy", "one_hot", "softmax"]

_REDUCTIONS = ("mean", "sum", "none")
_IMPLS = ("numpy", "fused")


def one_hot(labels: np.ndarray, classes: int, dtype=np.float64) -> np.ndarray:
    """(n, classes) rows with 1 at each label's column; labels are integers in [0, classes)."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise LossbenchError(
            f"class labels must be a 1-D array of integers; got {labels.dtype} "
            f"with shape {labels.shape}"
        )
    labels = _labels(labels, classes)
    targets = np.zeros((labels.size, classes), dtype=dtype)
    targets[np.arange(labels.size), labels] = 1.0
    return targets


class CrossEntropy:
    """Softmax cross-entropy on (n, K) logits (``cross_entropy``); the family of methods of
    `lossbench.losses.Loss`, on rows."""

    name = "cross_entropy"
    formula = "mean over rows i of log Σ_k e^z_ik − Σ_k t_ik z_ik,  z logits (n, K)"
    summary = "multiclass cross-entropy on logits (softmax), computed stably"
    prediction = "logits"
    labels = True  # needs classes: n/a on continuous targets
    over = "rows"
    scale_parameter = None
    impls = _IMPLS

    def __init__(self, **params) -> None:
        if params:
            raise LossbenchError(f"cross_entropy has no parameter {next(iter(params))!r}")
        self.params: dict = {}

    def __str__(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(self.name)

    def fit_label(self, scale: str, task: str) -> str:
        return self.name

    def value(self, y_true, z, *, reduction: str = "mean", impl: str = "numpy", all_cores=False):
        return self._computed(y_true, z, reduction, impl, all_cores=all_cores)[0]

    def gradient(self, y_true, z, *, reduction: str = "mean", impl: str = "numpy", all_cores=False):
        return self._computed(y_true, z, reduction, impl, gradient=True, all_cores=all_cores)[1]

    def value_and_gradient(
        self, y_true, z, *, reduction: str = "mean", impl: str = "numpy", all_cores=False
    ):
        """(reduced value, gradient (n, K)) at logits `z` for targets `y_true` (class indices
        (n,) or class probabilities (n, K)). `all_cores`: the fused kernel on every core."""
        value, gradient, _ = self._computed(
            y_true, z, reduction, impl, gradient=True, all_cores=all_cores
        )
        return value, gradient

    def gradient_and_hessian(
        self, y_true, z, *, reduction: str = "mean", impl: str = "numpy", all_cores=False
    ):
        """(gradient, diagonal of the Hessian), both (n, K): what a booster asks per round."""
        _, gradient, hessian = self._computed(
            y_true, z, reduction, impl, gradient=True, hessian=True, all_cores=all_cores
        )
        return gradient, hessian

    def hessian(self, y_true, z, *, reduction: str = "mean", impl: str = "numpy"):
        """The diagonal of the Hessian of the reduced value in z: p (1 − p), p = softmax(z),
        times each row's target mass (1 for class probabilities); over n for "mean"."""
        return self._computed(y_true, z, reduction, impl, hessian=True)[2]

    def _computed(
        self, y_true, z, reduction, impl, *, gradient=False, hessian=False, all_cores=False
    ):
        check_choice("reduction", reduction, _REDUCTIONS)
        check_choice("impl", impl, _IMPLS)
        labels, targets, z = _inputs(y_true, z)
        scale = 1.0 / len(z) if reduction == "mean" else 1.0
        if impl == "fused" and labels is not None:
            from lossbench.losses import softmax_fused

            total, finite, grad, hess, rows = softmax_fused.kernel(
                z,
                labels,
                scale,
                gradient=gradient,
                hessian=hessian,
                values=reduction == "none",
                all_cores=all_cores,
            )
            if not finite:
                _refuse_non_finite(z)
            value = rows if reduction == "none" else total * scale
            return value, grad, hess
        if not np.all(np.isfinite(z)):
            _refuse_non_finite(z)
        if targets is None:
            targets = one_hot(labels, z.shape[1])
        if impl == "fused":
            rows, grad = np.empty(len(z)), np.empty_like(z)
            _kernel()(targets, z, rows, grad)
        else:
            rows, grad = _reference(targets, z)
        if not np.all(np.isfinite(rows)):
            _refuse_non_finite(z)
        value, grad = _reduced(rows, grad, reduction, z.dtype)
        hess = None
        if hessian:
            p = softmax(z.astype(np.float64))
            hess = (p * (1.0 - p) * targets.sum(axis=1, keepdims=True) * scale).astype(z.dtype)
        return value, grad, hess


def _refuse_non_finite(z: np.ndarray):
    if not np.all(np.isfinite(z)):
        raise LossbenchError("z must be finite (a logit is infinite or NaN)")
    raise LossbenchError("the loss overflows: a row's logits differ by more than 1.8e308")


def _inputs(y_true, z) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray]:
    """(labels as int64 or None, class probabilities or None, z C-contiguous)."""
    z = np.asarray(z)
    if z.ndim != 2 or z.shape[1] < 2 or z.shape[0] == 0:
        raise LossbenchError(
            f"z must be logits of shape (n, K) with n ≥ 1 and K ≥ 2 classes; got shape {z.shape}"
        )
    if z.dtype not in (np.float32, np.float64):
        raise LossbenchError(f"z must have dtype float32 or float64; got {z.dtype}")
    y = np.asarray(y_true)
    if y.ndim == 1:
        if len(y) != len(z):
            raise LossbenchError(f"y_true holds {len(y)} labels for {len(z)} rows of z")
        return _labels(y, z.shape[1]), None, np.ascontiguousarray(z)
    if y.shape == z.shape:
        targets = y.astype(np.float64)
        if not (np.all(np.isfinite(targets)) and np.all(targets >= 0)):
            raise LossbenchError("y_true as class probabilities must be finite and ≥ 0")
        return None, targets, np.ascontiguousarray(z)
    raise LossbenchError(
        f"y_true must be class labels (n,) or probabilities of z's shape "
        f"{z.shape}; got shape {y.shape}"
    )


def _labels(labels: np.ndarray, classes: int) -> np.ndarray:
    """Class indices as int64, checked to be integers in [0, classes)."""
    if not (
        np.issubdtype(labels.dtype, np.integer)
        or (np.issubdtype(labels.dtype, np.floating) and np.all(labels == np.round(labels)))
    ):
        raise LossbenchError(
            f"class labels must be a 1-D array of integers; got {labels.dtype} "
            f"with shape {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise LossbenchError(
            f"class labels must lie in [0, {classes - 1}]; got {labels.min():g} to {labels.max():g}"
        )
    return np.ascontiguousarray(labels, dtype=np.int64)


def softmax(z: np.ndarray) -> np.ndarray:
    """Each row's class probabilities from its logits, stably."""
    with np.errstate(over="ignore"):  # z − max reaching −inf only makes a 0
        shifted = z - z.max(axis=1, keepdims=True)  # exp never sees a positive number
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def _reference(targets: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(per-row values, per-element gradient) in float64, mirroring the formulas."""
    with np.errstate(over="ignore"):  # logits 1.8e308 apart: said by the caller
        return _rows_and_gradient(targets, z.astype(np.float64))


def _rows_and_gradient(targets: np.ndarray, z64: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = z64.max(axis=1, keepdims=True)
    log_sum = m[:, 0] + np.log(np.exp(z64 - m).sum(axis=1))
    mass = targets.sum(axis=1)
    rows = log_sum * mass - (targets * z64).sum(axis=1)
    gradient = softmax(z64) * mass[:, None] - targets
    return rows, gradient


@functools.cache
def _kernel():
    """The fused kernel, compiled on first use: numba is imported only by those who ask for
    it (a timing worker timing numpy kernels imports nothing it does not need)."""
    import numba

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def fused(targets, z, rows, gradient):  # pragma: no cover - compiled
        """One pass per row: its maximum, log-sum-exp, value and gradient (in float64)."""
        n, k = z.shape
        for i in range(n):
            m = np.float64(z[i, 0])
            for j in range(1, k):
                m = max(m, np.float64(z[i, j]))
            total = 0.0
            for j in range(k):
                total += np.exp(np.float64(z[i, j]) - m)
            log_sum = m + np.log(total)
            mass, dot = 0.0, 0.0
            for j in range(k):
                mass += targets[i, j]
                dot += targets[i, j] * np.float64(z[i, j])
            rows[i] = log_sum * mass - dot
            for j in range(k):
                gradient[i, j] = np.exp(np.float64(z[i, j]) - log_sum) * mass - targets[i, j]

    return fused


def _reduced(rows: np.ndarray, gradient: np.ndarray, reduction: str, dtype):
    if reduction == "none":
        return rows.astype(dtype), gradient.astype(dtype, copy=False)
    total = float(np.sum(rows))
    if reduction == "mean":
        return total / len(rows), (gradient / len(rows)).astype(dtype, copy=False)
    return total, gradient.astype(dtype, copy=False)


# the losses over rows of (n, K) logits, by name: `lossbench.losses.get` resolves them beside
# the elementwise `LOSSES`; what takes elementwise losses only asks ``loss.over``
ROW_LOSSES = {CrossEntropy.name: CrossEntropy}
