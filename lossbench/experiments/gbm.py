"""Gradient-boosted trees (LightGBM, the `gbm` extra) with any lossbench loss as the objective.

LightGBM grows each tree from the per-element gradient and second derivative of the loss at
the current predictions; lossbench's `Loss.gradient` and `Loss.hessian` (reduction "sum")
are exactly those. Two treatments make every loss usable, both LightGBM's own:

- where the loss has no second derivative (mae everywhere, huber beyond δ) or it is not
  positive (a loss on probabilities seen through the sigmoid can curve the wrong way), the
  hessian is the constant 1, as LightGBM's ``huber`` and ``regression_l1`` objectives use;
  for mae each new tree's leaves are then renewed to the median of their rows' residuals
  (times the learning rate), as LightGBM's ``regression_l1`` does: sign gradients alone move
  a leaf by at most the learning rate;
- boosting starts from the constant that minimizes the loss on the training targets (the
  mean for mse, the median for mae, the log-odds of the labels' mean for cross-entropy: what
  LightGBM's ``boost_from_average`` does), given as each row's init score.

Fits are deterministic: one thread, LightGBM's ``deterministic`` mode, the trial's seed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from lossbench.errors import require
from lossbench.experiments.fitting import FitResult
from lossbench.experiments.scales import mad_of
from lossbench.losses import SIGMOID, Loss

__all__ = [
    "BoostedFit",
    "GbmOptions",
    "fit_gbm",
    "fitted",
    "objective",
    "require_lightgbm",
    "starting_score",
]

_INSTALL = "model: gbm needs LightGBM: pip install 'lossbench[gbm]'"


def require_lightgbm():
    """LightGBM, or a one-line `LossbenchError` naming the install command."""
    return require("lightgbm", _INSTALL)


@dataclass(frozen=True)
class GbmOptions:
    """The booster's settings (LightGBM's names and defaults)."""

    n_estimators: int = 100
    learning_rate: float = 0.1
    num_leaves: int = 31
    min_data_in_leaf: int = 20


def objective(loss: Loss, task: str, rescaled: bool = False, scales: list | None = None):
    """LightGBM's custom objective for `loss`: (raw scores, Dataset) -> (gradient, hessian)
    per row, with respect to the raw score (in classification the logit z: a loss of
    p = sigmoid(z) through the chain rule). `rescaled`: the loss's scale parameter (huber's
    δ) in units of the current residuals' normalized MAD, re-measured every round (and each
    round's scale appended to `scales`)."""
    # as in linear fits (`Loss.link`): in classification every loss but one on logits sees p
    on_probability = task == "classification" and loss.prediction != "logit"
    # numpy, not the fused kernel: at table sizes numba's import (about 100 MB and seconds,
    # measured on the 100,000-row benchmark) costs more than the kernel saves

    def gradient_and_hessian(scores: np.ndarray, data) -> tuple[np.ndarray, np.ndarray]:
        y = data.get_label()
        used = loss
        if rescaled:
            spread = residual_scale(y - scores)
            used = loss.with_scale(spread)
            if scales is not None:
                scales.append(spread)
        if on_probability:
            p = SIGMOID(scores)
            slope = p * (1.0 - p)  # dp/dz
            g_p, h_p = used.gradient_and_hessian(y, p, reduction="sum")
            gradient = g_p * slope
            hessian = h_p * slope * slope + g_p * slope * (1.0 - 2.0 * p)
        else:
            gradient, hessian = used.gradient_and_hessian(y, scores, reduction="sum")
        return gradient, np.where(hessian > 0.0, hessian, 1.0)

    return gradient_and_hessian


def residual_scale(residual: np.ndarray) -> float:
    """The residuals' normalized MAD, median |r| / 0.6745 as in linear fits (1 where they
    have none: a perfect fit)."""
    spread = mad_of(residual)
    return spread if spread > 0 else 1.0


def starting_score(loss: Loss, y: np.ndarray, task: str) -> float:
    """The constant raw score that minimizes `loss` on `y`."""
    from scipy.optimize import minimize_scalar

    if task == "classification":
        mean = float(np.clip(np.mean(y), 1e-12, 1 - 1e-12))
        if loss.name in ("bce", "bce_logits"):
            return math.log(mean / (1.0 - mean))

        def on_logit(z: float) -> float:
            shown = SIGMOID(np.array([z]))[0] if loss.prediction != "logit" else z
            return loss.value(y, np.full_like(y, shown))

        return float(minimize_scalar(on_logit, bounds=(-30.0, 30.0), method="bounded").x)
    if loss.name == "mse":
        return float(np.mean(y))
    if loss.name == "mae":
        return float(np.median(y))
    low, high = float(np.min(y)), float(np.max(y))
    if low == high:
        return low
    found = minimize_scalar(
        lambda c: loss.value(y, np.full_like(y, c)),
        bounds=(low, high),
        method="bounded",
        options={"xatol": 1e-10 * max(1.0, high - low)},
    )
    return float(found.x)


@dataclass
class Booster:
    """A fitted booster: raw scores are the trees' sum plus the starting score."""

    trees: Any  # a lightgbm.Booster: lightgbm is imported where it is used
    start: float
    scale: float = math.nan  # the residual scale of the last round, where δ was rescaled

    def raw(self, X: np.ndarray) -> np.ndarray:
        return self.trees.predict(X, raw_score=True) + self.start


def fit_gbm(
    loss: Loss,
    X: np.ndarray,
    y: np.ndarray,
    task: str,
    options: GbmOptions,
    seed: int,
    categorical: tuple[int, ...] = (),
    rescaled: bool = False,
) -> Booster:
    """Boost `options.n_estimators` trees on (X, y) with `loss` as the objective; the columns
    `categorical` hold level codes, split on as LightGBM's categorical features. `rescaled`:
    the loss's scale parameter is in units of the residual scale, re-measured every round
    (`objective`), the starting constant's residuals the first."""
    lightgbm = require_lightgbm()
    first = loss.with_scale(residual_scale(y - np.median(y))) if rescaled else loss
    start = starting_score(first, y, task)
    params = _params(
        options, seed, objective=objective(loss, task, rescaled, scales := list[float]())
    )
    data = lightgbm.Dataset(
        X,
        label=y,
        init_score=np.full(len(y), start),
        free_raw_data=False,
        categorical_feature=list(categorical) or "auto",
    )
    if loss.name != "mae":
        trees = lightgbm.train(params, data, num_boost_round=options.n_estimators)
        return Booster(trees, start, scales[-1] if scales else math.nan)
    return Booster(_renewed(lightgbm, loss, X, y, data, params, options, start), start)


def _params(options: GbmOptions, seed: int, **more) -> dict:
    """LightGBM's parameters for `options`: one thread, deterministic, the trial's seed."""
    return {
        "learning_rate": options.learning_rate,
        "num_leaves": options.num_leaves,
        "min_data_in_leaf": options.min_data_in_leaf,
        "num_threads": 1,
        "deterministic": True,
        "force_col_wise": True,
        "seed": seed,
        "verbose": -1,
        **more,
    }


def _renewed(lightgbm, loss, X, y, data, params, options, start):
    """Boosting for mae with each tree's leaves set to the median residual of their rows.
    The scores are kept here: LightGBM's own training scores do not see a renewed leaf."""
    gradients = objective(loss, "regression")
    scores = np.full(len(y), start)
    trees = lightgbm.Booster({k: v for k, v in params.items() if k != "objective"}, data)
    for i in range(options.n_estimators):
        trees.update(fobj=lambda _stale, train, now=scores: gradients(now, train))
        leaves = trees.predict(X, pred_leaf=True, start_iteration=i, num_iteration=1)
        leaves = np.asarray(leaves).reshape(len(y), -1)[:, 0]
        residual, step = y - scores, np.empty(len(y))
        order = np.argsort(leaves, kind="stable")  # each leaf's rows, together
        for rows in np.split(order, np.flatnonzero(np.diff(leaves[order])) + 1):
            value = options.learning_rate * float(np.median(residual[rows]))
            trees.set_leaf_output(i, int(leaves[rows[0]]), value)
            step[rows] = value
        scores = scores + step
    return trees


@dataclass
class BoostedFit(FitResult):
    """A booster as the fit kind scores it: its predictions, no coefficients (NaN)."""

    booster: Booster | None = None

    def predict(self, X: np.ndarray) -> np.ndarray:
        assert self.booster is not None, "a boosted fit holds its booster"
        return self.booster.raw(X)


def fitted(
    loss: Loss,
    X,
    y,
    task: str,
    options: GbmOptions,
    seed: int,
    scale: str,
    categorical: tuple[int, ...] = (),
) -> BoostedFit:
    """Boost on (X, y) for the fit kind: the fixed number of rounds as its iterations. Huber's
    δ is in units of the residuals' normalized MAD, re-measured each round, unless `scale`
    is fixed: as in linear fits (`lossbench.experiments.fitting`), the scale of the fit's
    own residuals. The fit records the last round's residual scale."""
    began = time.perf_counter()
    rescaled = task == "regression" and loss.scale_parameter is not None and scale != "fixed"
    booster = fit_gbm(loss, X, y, task, options, seed, categorical, rescaled)
    spread = booster.scale
    return BoostedFit(
        theta=np.full(X.shape[1] + 1, math.nan),
        objective=math.nan,
        iterations=options.n_estimators,
        converged=True,
        seconds=time.perf_counter() - began,
        scale=spread,
        booster=booster,
    )


# -- multiclass: K raw scores per row, one tree per class per round ------------------------------
def multiclass_objective(loss, classes: int):
    """LightGBM's custom multiclass objective for `loss`: (raw scores (n, K), Dataset) ->
    (gradient, hessian), each (n, K), with respect to the logits z.

    Softmax cross-entropy: p − y, and the Hessian's diagonal p (1 − p) times K / (K − 1), the
    factor LightGBM's ``multiclass`` objective applies (Friedman's: K − 1 free scores per row
    among K). A loss on the probabilities p = softmax(z) (mse: the Brier score): its gradient
    through the softmax, p (g − Σ_j p_j g_j), and the Gauss–Newton diagonal
    Σ_j h_j (dp_j / dz_k)², which is never negative (the exact diagonal can be); 1 where it
    is 0, as for two classes."""
    from lossbench.losses.softmax import one_hot, softmax

    factor = classes / (classes - 1.0)

    def gradient_and_hessian(scores: np.ndarray, data) -> tuple[np.ndarray, np.ndarray]:
        labels = data.get_label().astype(np.int64)
        z = np.asarray(scores, dtype=np.float64).reshape(len(labels), classes)
        if loss.over == "rows":  # cross_entropy: on the logits
            gradient, hessian = loss.gradient_and_hessian(labels, z, reduction="sum")
            return gradient, hessian * factor
        p, targets = softmax(z), one_hot(labels, classes)
        g, h = loss.gradient_and_hessian(targets.ravel(), p.ravel(), reduction="sum")
        g, h = g.reshape(p.shape), h.reshape(p.shape)
        gradient = p * (g - np.sum(p * g, axis=1, keepdims=True))
        # dp_j/dz_k = p_j (δ_jk − p_k): Σ_j h_j p_j² (δ_jk − p_k)²
        hp2 = h * p * p
        hessian = hp2 * (1.0 - 2.0 * p) + np.sum(hp2, axis=1, keepdims=True) * p * p
        return gradient, np.where(hessian > 0.0, hessian, 1.0)

    return gradient_and_hessian


@dataclass
class MulticlassBooster:
    """A fitted multiclass booster: raw scores (n, K) are the trees' sums plus the starting
    scores (the log class frequencies, as LightGBM's ``boost_from_average``)."""

    trees: Any  # a lightgbm.Booster: lightgbm is imported where it is used
    start: np.ndarray

    def raw(self, X: np.ndarray) -> np.ndarray:
        return self.trees.predict(X, raw_score=True) + self.start


def fit_gbm_multiclass(
    loss,
    X: np.ndarray,
    labels: np.ndarray,
    classes: int,
    options: GbmOptions,
    seed: int,
    categorical: tuple[int, ...] = (),
) -> MulticlassBooster:
    """Boost `options.n_estimators` rounds of K trees on (X, labels in [0, K)) with `loss` on
    the logits (cross_entropy) or on the softmax probabilities (any other loss). Every loss
    starts from the log class frequencies: the best constant for cross-entropy and for the
    Brier score alike (both are proper scoring rules)."""
    lightgbm = require_lightgbm()
    counts = np.bincount(labels, minlength=classes)
    start = np.log(np.maximum(counts / len(labels), 1e-12))
    start -= start.mean()
    params = _params(
        options, seed, objective=multiclass_objective(loss, classes), num_class=classes
    )
    data = lightgbm.Dataset(
        X,
        label=labels.astype(np.float64),
        init_score=np.tile(start, (len(labels), 1)),
        free_raw_data=False,
        categorical_feature=list(categorical) or "auto",
    )
    trees = lightgbm.train(params, data, num_boost_round=options.n_estimators)
    return MulticlassBooster(trees, start)
