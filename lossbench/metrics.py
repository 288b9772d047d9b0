"""Quality metrics of a fitted model, one name each (these spellings are a contract).

Regression, against the truth: ``coef_error`` (Euclidean norm of the error over all fitted
parameters, intercept included), ``test_rmse`` and ``test_mae`` (against the noise-free target on
fresh test points). Classification, on fresh test points whose labels are drawn from the true
probabilities: ``accuracy``, ``auc``, ``log_loss``, ``brier``, ``ece`` (expected calibration error,
10 equal-width bins), and ``coef_cosine`` (cosine between fitted and true coefficients, intercept
excluded). Every fit also reports ``iterations``, ``converged`` (0/1) and ``fit_seconds``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from scipy.stats import rankdata

from lossbench.datasets import Sample
from lossbench.fit import FitResult

__all__ = [
    "CLASSIFICATION",
    "FIT",
    "HIGHER_IS_BETTER",
    "METRICS",
    "REGRESSION",
    "classification",
    "regression",
]

REGRESSION = ("coef_error", "test_rmse", "test_mae")
CLASSIFICATION = ("accuracy", "auc", "log_loss", "brier", "ece", "coef_cosine")
FIT = ("iterations", "converged", "fit_seconds")
METRICS = {
    "coef_error": "‖fitted − true‖ over coefficients and intercept",
    "test_rmse": "RMSE against the noise-free target on fresh points",
    "test_mae": "mean absolute error against the noise-free target on fresh points",
    "accuracy": "share of fresh labels predicted right (threshold 0.5)",
    "auc": "area under the ROC curve on fresh points",
    "log_loss": "mean cross-entropy of the predicted probabilities on fresh labels",
    "brier": "mean squared error of the predicted probabilities on fresh labels",
    "ece": "expected calibration error, 10 equal-width bins, against the true probabilities",
    "coef_cosine": "cosine between fitted and true coefficients (intercept excluded)",
    "iterations": "optimizer iterations",
    "converged": "1 if the optimizer reported convergence, else 0",
    "fit_seconds": "wall time of the fit",
}
HIGHER_IS_BETTER = frozenset({"accuracy", "auc", "coef_cosine", "converged"})


def _fit_metrics(result: FitResult) -> dict[str, float]:
    return {
        "iterations": float(result.iterations),
        "converged": float(result.converged),
        "fit_seconds": result.seconds,
    }


def regression(result: FitResult, sample: Sample) -> dict[str, float]:
    truth = np.append(sample.coef, sample.intercept)
    residual = sample.X_test @ result.coef + result.intercept - sample.f_test
    return {
        "coef_error": float(np.linalg.norm(result.theta - truth)),
        "test_rmse": float(np.sqrt(np.mean(residual**2))),
        "test_mae": float(np.mean(np.abs(residual))),
        **_fit_metrics(result),
    }


def classification(result: FitResult, sample: Sample, rng: np.random.Generator) -> dict[str, float]:
    p = expit(sample.X_test @ result.coef + result.intercept)
    labels = (rng.random(p.size) < sample.f_test).astype(np.float64)
    clipped = np.clip(p, 1e-15, 1 - 1e-15)
    norm = np.linalg.norm(result.coef) * np.linalg.norm(sample.coef)
    return {
        "accuracy": float(np.mean((p >= 0.5) == (labels == 1.0))),
        "auc": _auc(labels, p),
        "log_loss": float(-np.mean(labels * np.log(clipped) + (1 - labels) * np.log1p(-clipped))),
        "brier": float(np.mean((p - labels) ** 2)),
        "ece": _ece(p, sample.f_test),
        "coef_cosine": float(result.coef @ sample.coef / norm) if norm > 0 else 0.0,
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
