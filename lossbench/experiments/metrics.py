"""Quality metrics of a fitted model, one name each (these spellings are a contract).

Regression, against the truth: ``coef_error`` (Euclidean norm of the error over all fitted
parameters, intercept included), ``test_rmse`` and ``test_mae`` (against the noise-free target on
fresh test points). Classification, on fresh test points whose labels are drawn from the true
probabilities: ``accuracy``, ``auc``, ``log_loss``, ``brier``, ``ece`` (expected calibration error,
10 equal-width bins), and ``coef_cosine`` (cosine between fitted and true coefficients, intercept
excluded). Every fit also reports ``iterations``, ``converged`` (0/1) and ``fit_seconds``.

Data that does not know the truth is scored on its observed test targets; a metric that needs
the truth is NaN there, with a note (`score`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from scipy.stats import rankdata

from lossbench.experiments.datasets import Sample
from lossbench.experiments.fitting import FitResult
from lossbench.losses import SIGMOID

__all__ = [
    "CLASSIFICATION",
    "FIT",
    "HEADLINE_ORDER",
    "HIGHER_IS_BETTER",
    "METRICS",
    "MULTICLASS",
    "REGRESSION",
    "classification",
    "headline",
    "regression",
    "score",
    "scores_of",
]

REGRESSION = ("coef_error", "test_rmse", "test_mae")
HELD_OUT = ("test_median_ae", "r2")  # real data only
CLASSIFICATION = ("accuracy", "auc", "log_loss", "brier", "ece", "coef_cosine", "separated")
FIT = ("iterations", "converged", "fit_seconds")
MULTICLASS = ("log_loss", "accuracy", "brier", "macro_f1", "ece")  # `multiclass_scores`
METRICS = {
    "coef_error": "‖fitted − true‖ over coefficients and intercept",
    "test_rmse": "RMSE against the noise-free target on fresh points",
    "test_mae": "mean absolute error against the noise-free target on fresh points",
    "test_median_ae": "median absolute error on held-out points (real data)",
    "r2": "1 − SSE / SST on held-out points (real data; higher is better)",
    "accuracy": "share of fresh labels predicted right (threshold 0.5)",
    "auc": "area under the ROC curve on fresh points",
    "log_loss": "mean cross-entropy of the predicted probabilities on fresh labels",
    "brier": "mean squared error of the predicted probabilities on fresh labels",
    "ece": "expected calibration error, 10 equal-width bins, against the true probabilities",
    "coef_cosine": "cosine between fitted and true coefficients (intercept excluded)",
    "macro_f1": "mean over classes of each class's F1 on held-out labels (multiclass)",
    "separated": "1 if the training labels are separable (no finite logistic MLE), else 0",
    "iterations": "optimizer iterations",
    "n_train": "rows in a cross-validation trial's training folds",
    "n_test": "rows in a cross-validation trial's held-out fold",
    "converged": "1 if the optimizer reported convergence, else 0",
    "fit_seconds": "wall time of the fit",
}
HIGHER_IS_BETTER = frozenset({"accuracy", "auc", "coef_cosine", "converged", "r2", "macro_f1"})


# metrics that need what only synthetic data knows, and what they need
_NEEDS_TRUTH = {"coef_error": "coef", "coef_cosine": "coef"}
# the metric a fit is judged by, in order of preference among those a run has
HEADLINE_ORDER = ("coef_error", "log_loss", "test_mae", "test_rmse", "accuracy")


def scores_of(task: str, truth: bool, observed: bool) -> list[str]:
    """The metrics a fit on data of this task can be judged by (`score:`): what `score`
    computes for it (held-out errors and R² on `observed` data), less what needs true
    coefficients when the data has none (`truth`)."""
    if task == "multiclass":
        return list(MULTICLASS)
    made = (
        ["coef_error", "test_rmse", "test_mae", *(HELD_OUT if observed else [])]
        if task == "regression"
        else ["accuracy", "auc", "log_loss", "brier", "ece", "coef_cosine"]
    )
    return [m for m in made if truth or m not in _NEEDS_TRUTH]


def headline(metrics: Iterable[str]) -> str | None:
    """The metric that judges a fit among `metrics`: the first of `HEADLINE_ORDER` present,
    else the first quality metric (not iterations, converged or fit_seconds); None if none."""
    present = list(dict.fromkeys(metrics))
    for metric in HEADLINE_ORDER:
        if metric in present:
            return metric
    return next((m for m in present if m in METRICS and m not in FIT), None)


def score(
    result: FitResult, sample: Sample, task: str, rng: np.random.Generator
) -> tuple[dict[str, float], dict[str, str]]:
    """(metric -> value, metric -> note) of a fit: the task's metrics and the fit's own. A metric
    that needs the truth the sample does not know is NaN, with a note saying why."""
    values = (
        regression(result, sample) if task == "regression" else classification(result, sample, rng)
    )
    notes = {"converged": result.note} if result.note else {}
    for metric, needed in _NEEDS_TRUTH.items():
        if metric in values and getattr(sample, needed) is None:
            notes[metric] = f"n/a: {metric} needs the true parameters; this data has none"
    return values, notes


def _fit_metrics(result: FitResult) -> dict[str, float]:
    return {
        "iterations": float(result.iterations),
        "converged": float(result.converged),
        "fit_seconds": result.seconds,
    }


def regression(result: FitResult, sample: Sample) -> dict[str, float]:
    """Against the noise-free target when the sample knows it, else the observed test targets."""
    target = sample.f_test if sample.f_test is not None else sample.y_test
    assert target is not None, "a sample holds the noise-free or the observed test targets"
    residual = result.predict(sample.X_test) - target
    coef_error = math.nan
    if sample.coef is not None and sample.intercept is not None:
        coef_error = float(np.linalg.norm(result.theta - np.append(sample.coef, sample.intercept)))
    values = {
        "coef_error": coef_error,
        "test_rmse": float(np.sqrt(np.mean(residual**2))),
        "test_mae": float(np.mean(np.abs(residual))),
    }
    if sample.f_test is None:  # held-out observations: also the median error and R²
        spread = np.sum((target - np.mean(target)) ** 2)
        values["test_median_ae"] = float(np.median(np.abs(residual)))
        values["r2"] = float(1.0 - np.sum(residual**2) / spread) if spread > 0 else math.nan
    return {**values, **_fit_metrics(result)}


def classification(result: FitResult, sample: Sample, rng: np.random.Generator) -> dict[str, float]:
    """On observed test labels, or on labels drawn from the true probabilities with `rng`."""
    p = SIGMOID(result.predict(sample.X_test))
    if sample.y_test is not None:
        labels = sample.y_test
    else:
        assert sample.f_test is not None, "a sample holds observed or true test labels"
        labels = (rng.random(p.size) < sample.f_test).astype(np.float64)
    clipped = np.clip(p, 1e-15, 1 - 1e-15)
    cosine = math.nan
    if sample.coef is not None:
        norm = np.linalg.norm(result.coef) * np.linalg.norm(sample.coef)
        cosine = float(result.coef @ sample.coef / norm) if norm > 0 else 0.0
    return {
        "accuracy": float(np.mean((p >= 0.5) == (labels == 1.0))),
        "auc": _auc(labels, p),
        "log_loss": float(-np.mean(labels * np.log(clipped) + (1 - labels) * np.log1p(-clipped))),
        "brier": float(np.mean((p - labels) ** 2)),
        # against the true probabilities where known, else the observed labels
        "ece": _ece(p, sample.f_test if sample.f_test is not None else labels),
        "coef_cosine": cosine,
        **_fit_metrics(result),
    }


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) identity; ties count half."""
    positives = labels == 1.0
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _ece(p: np.ndarray, truth: np.ndarray, bins: int = 10) -> float:
    """Σ_bins (share of points) × |mean predicted − mean true probability|."""
    index = np.minimum((p * bins).astype(int), bins - 1)
    gap = np.bincount(index, weights=p - truth, minlength=bins)
    return float(np.sum(np.abs(gap)) / p.size)
