"""Multinomial logistic regression: K classes, logits z = X W + b (W of shape (d, K), b of K),
fitted by minimizing a loss plus (l2 / 2) ‖W‖² (issue 34, second step).

The loss is softmax cross-entropy on the logits (`lossbench.losses.softmax.CrossEntropy`), or
an elementwise loss on the class probabilities p = softmax(z) against one-hot targets (mse:
the multiclass Brier score, Σ_k (p_ik − y_ik)² averaged over rows; huber, ...), its gradient
taken through the softmax: dL/dz_ik = p_ik (g_ik − Σ_j p_ij g_ij), g = dL/dp.

Softmax logits are defined up to a constant added to every class: the intercepts are, and
without a penalty W is too. With l2 > 0 the penalty picks the W whose columns sum to 0 (any
shift adds to ‖W‖²); the intercepts, unpenalized, are reported centred (Σ_k b_k = 0), so
that two fits of one model compare. Without l2, classes that a linear rule separates leave
no finite optimum: the loss falls towards 0 as W grows, and its gradient with it, so a
gradient test would pass; they are found by a linear program instead
(`separation.classes_separated`) and such a fit is not converged, said in its note.

The optimizer sees standardized columns of X (`fitting.Standardized`), as linear fits do;
coefficients are reported in the original units. Convergence is judged on the gradient
(`fitting.minimized`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from lossbench.errors import LossbenchError
from lossbench.experiments.fitting import Standardized, minimized, why_unconverged
from lossbench.experiments.separation import classes_separated
from lossbench.losses import Loss
from lossbench.losses.softmax import CrossEntropy, one_hot, softmax

__all__ = ["MultinomialFit", "fit_multinomial"]

_SEPARATED = (
    "the classes are separable: the fit has no finite maximum-likelihood solution; "
    "set fit.l2 (a ridge penalty) for one"
)


@dataclass
class MultinomialFit:
    coef: np.ndarray  # (d, K), original units
    intercept: np.ndarray  # (K,), centred
    objective: float
    iterations: int
    converged: bool
    seconds: float
    gradient: float  # the largest gradient entry at the end (standardized units)
    note: str = ""  # why the fit is not converged
    separated: bool = False  # the training classes are separable (checked without l2 only)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The logits (n, K) on X."""
        return X @ self.coef + self.intercept


def fit_multinomial(
    loss: Loss | CrossEntropy,
    X: np.ndarray,
    labels: np.ndarray,
    classes: int,
    *,
    l2: float = 0.0,
    max_iter: int = 1000,
    tol: float = 1e-10,
) -> MultinomialFit:
    """Minimize `loss` + (l2 / 2) ‖W‖² over (W, b) for class `labels` in [0, classes)."""
    if classes < 2:
        raise LossbenchError(f"a multinomial fit needs 2 classes or more; got {classes}")
    start = time.perf_counter()
    targets = one_hot(labels, classes)
    units = Standardized.of(X, labels, "logistic")  # y is not shifted for classes
    Xs, _ = units.data(X, labels)
    d = X.shape[1]
    theta = np.zeros((d + 1) * classes)
    split = not l2 and classes_separated(X, labels, classes)
    if loss.over != "rows" and not split:
        # a loss on the probabilities starts from the cross-entropy fit (convex, quick): from
        # 0, L-BFGS stalled on 1 of digits' 20 folds (configs/multiclass.yaml) and on 3 of
        # anes96's 5 without l2; from there, on none of digits' and 2 of anes96's
        theta = minimized(
            _objective(CrossEntropy(), Xs, targets, l2), theta, "lbfgs", max_iter, tol, None
        ).theta
    f = _objective(loss, Xs, targets, l2)
    result = minimized(f, theta, "lbfgs", max_iter, tol, None)
    W = result.theta[: d * classes].reshape(d, classes) / units.sd[:, None]
    b = result.theta[d * classes :] - units.mean @ W
    converged, note = result.converged, ""
    if split:  # its gradient vanishes at infinity: the gradient test would pass it
        converged, note = False, _SEPARATED
    elif not converged:  # (no loss named: mae's exact solver is for linear fits only)
        note = why_unconverged(None, result, max_iter, l2)
    seconds = time.perf_counter() - start
    return MultinomialFit(
        W,
        b - b.mean(),
        result.objective,
        result.iterations,
        converged,
        seconds,
        result.gradient,
        note,
        split,
    )


def _objective(loss, X: np.ndarray, targets: np.ndarray, l2: float):
    """theta = (W.ravel(), b) -> (loss + (l2 / 2) ‖W‖², its gradient)."""
    n, k = targets.shape
    d = X.shape[1]

    def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
        W, b = theta[: d * k].reshape(d, k), theta[d * k :]
        z = X @ W + b
        if loss.over == "rows":  # cross_entropy: on the logits
            value, dz = loss.value_and_gradient(targets, z)
        else:  # on probabilities, summed over classes: mse is the multiclass Brier score
            p = softmax(z)
            value, dp = loss.value_and_gradient(targets.ravel(), p.ravel())
            value, dp = value * k, dp.reshape(n, k) * k
            dz = p * (dp - np.sum(p * dp, axis=1, keepdims=True))
        gradient = np.concatenate([(X.T @ dz + l2 * W).ravel(), dz.sum(axis=0)])
        return float(value) + 0.5 * l2 * float(np.sum(W * W)), gradient

    return f
