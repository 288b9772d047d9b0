"""Scores of class probabilities P (n, K) against class labels y ∈ {0, ..., K−1} (issue 34):
the multiclass forms of the classification metrics, one name each as in `metrics`.

- ``log_loss``: mean −log P[i, y_i] (P clipped to [1e-15, 1], as the binary score is);
- ``accuracy``: the share of rows whose most probable class is y_i (ties: the first);
- ``brier``: mean Σ_k (P_ik − [y_i = k])², Brier's original multiclass score (0 to 2);
- ``macro_f1``: the mean over classes of each class's F1 (a class never predicted nor present
  scores 0, as scikit-learn's ``zero_division=0``);
- ``ece``: top-label expected calibration error (Guo et al., 2017): rows binned by their
  highest probability into 10 equal-width bins, Σ_bins (share of rows) × |accuracy − mean
  confidence| in the bin. Where MSE and cross-entropy differ most is how well calibrated
  their probabilities are.

Reference: Guo, Pleiss, Sun & Weinberger, "On calibration of modern neural networks" (2017).
"""

from __future__ import annotations

import numpy as np

__all__ = ["SCORES", "accuracy", "brier", "ece", "log_loss", "macro_f1", "scores"]

SCORES = ("accuracy", "log_loss", "brier", "macro_f1", "ece")


def log_loss(labels: np.ndarray, P: np.ndarray) -> float:
    own = np.clip(P[np.arange(len(labels)), labels], 1e-15, 1.0)
    return float(-np.mean(np.log(own)))


def accuracy(labels: np.ndarray, P: np.ndarray) -> float:
    return float(np.mean(np.argmax(P, axis=1) == labels))


def brier(labels: np.ndarray, P: np.ndarray) -> float:
    gap = P.copy()
    gap[np.arange(len(labels)), labels] -= 1.0
    return float(np.mean(np.sum(gap * gap, axis=1)))


def macro_f1(labels: np.ndarray, P: np.ndarray) -> float:
    predicted = np.argmax(P, axis=1)
    classes = P.shape[1]
    hits = np.bincount(labels[predicted == labels], minlength=classes)
    said = np.bincount(predicted, minlength=classes)
    present = np.bincount(labels, minlength=classes)
    both = said + present
    f1 = np.divide(2.0 * hits, both, out=np.zeros(classes), where=both > 0)
    return float(np.mean(f1))


def ece(labels: np.ndarray, P: np.ndarray, bins: int = 10) -> float:
    confidence = P.max(axis=1)
    correct = (np.argmax(P, axis=1) == labels).astype(np.float64)
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    gap = np.bincount(index, weights=correct - confidence, minlength=bins)
    return float(np.sum(np.abs(gap)) / len(labels))


def scores(labels: np.ndarray, P: np.ndarray) -> dict[str, float]:
    """Every score of `SCORES`, by name."""
    labels = np.asarray(labels, dtype=np.int64)
    chosen = {
        "accuracy": accuracy,
        "log_loss": log_loss,
        "brier": brier,
        "macro_f1": macro_f1,
        "ece": ece,
    }
    return {name: chosen[name](labels, P) for name in SCORES}
