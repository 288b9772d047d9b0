"""Multiclass scores (issue 34): each against scikit-learn's where it has one, ECE against
its definition on a hand-checked example and its bounds."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics

from lossbench.experiments import multiclass_scores


def _problem(rows, classes, seed):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((rows, classes)) * 2
    P = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return rng.integers(0, classes, rows), P


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 60), st.integers(2, 6), st.integers(0, 2**32 - 1))
def test_the_scores_are_scikit_learns(rows, classes, seed):
    labels, P = _problem(rows, classes, seed)
    found = multiclass_scores.scores(labels, P)
    everyone = list(range(classes))
    assert found["log_loss"] == pytest.approx(metrics.log_loss(labels, P, labels=everyone),
                                              rel=1e-12)  # fmt: skip
    assert found["accuracy"] == pytest.approx(metrics.accuracy_score(labels, P.argmax(axis=1)))
    assert found["brier"] == pytest.approx(
        metrics.brier_score_loss(labels, P, labels=everyone, scale_by_half=False), rel=1e-12
    )
    f1 = metrics.f1_score(labels, P.argmax(axis=1), labels=everyone, average="macro",
                          zero_division=0)  # fmt: skip
    assert found["macro_f1"] == pytest.approx(f1, rel=1e-12)
    assert 0.0 <= found["ece"] <= 1.0


def test_ece_is_the_top_label_gap_per_bin():
    labels = np.array([0, 1, 1, 2])
    P = np.array([[0.95, 0.03, 0.02],   # bin 9, right
                  [0.90, 0.05, 0.05],   # bin 9, wrong
                  [0.30, 0.45, 0.25],   # bin 4, right
                  [0.10, 0.35, 0.55]])  # bin 5, right  # fmt: skip
    # bin 9: accuracy 1/2, confidence 0.925; bin 4: 1 vs 0.45; bin 5: 1 vs 0.55
    expected = (2 * abs(0.5 - 0.925) + abs(1 - 0.45) + abs(1 - 0.55)) / 4
    assert multiclass_scores.ece(labels, P) == pytest.approx(expected, rel=1e-12)
    perfect = np.eye(3)[labels]
    assert multiclass_scores.ece(labels, perfect) == 0.0
