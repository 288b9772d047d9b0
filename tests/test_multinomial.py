"""Multinomial logistic regression (issue 34, second step): cross-entropy fits agree with
scikit-learn's LogisticRegression; a loss on probabilities is fitted through the softmax
(mse: the multiclass Brier score); separable classes without a penalty have no finite
optimum and are not called converged."""

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.datasets import load_digits, load_iris, load_wine
from sklearn.linear_model import LogisticRegression

from lossbench import LossbenchError, losses
from lossbench.experiments.multinomial import _objective, fit_multinomial
from lossbench.losses.softmax import CrossEntropy, one_hot


def _standardized(X):
    sd = X.std(axis=0)
    sd[sd == 0] = 1.0
    return (X - X.mean(axis=0)) / sd


@pytest.mark.parametrize(("loader", "l2"), [(load_iris, 0.01), (load_wine, 0.01),
                                            (load_digits, 0.1)])  # fmt: skip
def test_cross_entropy_fits_are_scikit_learns_logistic_regression(loader, l2):
    X, y = loader(return_X_y=True)
    if loader is load_digits:
        X, y = X[:400], y[:400]
    X = _standardized(X)
    peer = LogisticRegression(C=1 / (len(y) * l2), tol=1e-12, max_iter=100_000).fit(X, y)
    ours = fit_multinomial(CrossEntropy(), X, y, len(set(y)), l2=l2)
    assert ours.converged
    np.testing.assert_allclose(ours.coef, peer.coef_.T, rtol=1e-5,
                               atol=1e-5 * np.abs(peer.coef_).max())  # fmt: skip
    # logits are defined up to a constant per row: intercepts compared centred
    centred = peer.intercept_ - peer.intercept_.mean()
    np.testing.assert_allclose(ours.intercept, centred, atol=1e-5 * np.abs(centred).max())
    np.testing.assert_allclose(softmax(ours.predict(X), axis=1), peer.predict_proba(X),
                               atol=1e-6)  # fmt: skip


def test_a_loss_on_probabilities_is_differentiated_through_the_softmax():
    rng = np.random.default_rng(2)
    X, labels = rng.standard_normal((30, 3)), rng.integers(0, 4, 30)
    targets = one_hot(labels, 4)
    f = _objective(losses.get("mse"), X, targets, 0.3)
    theta = rng.standard_normal(4 * 4)
    value, gradient = f(theta)
    W, b = theta[:12].reshape(3, 4), theta[12:]
    brier = np.mean(np.sum((softmax(X @ W + b, axis=1) - targets) ** 2, axis=1))
    assert value == pytest.approx(brier + 0.15 * np.sum(W * W), rel=1e-12)
    h = 1e-6
    for i in range(len(theta)):
        step = np.zeros_like(theta)
        step[i] = h
        assert gradient[i] == pytest.approx((f(theta + step)[0] - f(theta - step)[0]) / (2 * h),
                                            abs=1e-7)  # fmt: skip


def test_mse_on_three_classes_fits_and_predicts_above_chance():
    X, y = load_iris(return_X_y=True)
    fitted = fit_multinomial(losses.get("mse"), _standardized(X), y, 3, l2=0.01)
    assert fitted.converged
    assert np.mean(np.argmax(fitted.predict(_standardized(X)), axis=1) == y) > 0.8


def test_separable_classes_without_a_penalty_are_not_converged_and_a_penalty_fixes_it():
    X, y = load_iris(return_X_y=True)  # setosa is linearly separable from the others
    unpenalized = fit_multinomial(CrossEntropy(), _standardized(X), y, 3)
    # the gradient alone would pass it: the loss flattens as the coefficients run off
    assert unpenalized.gradient < 1e-6
    assert not unpenalized.converged and "set fit.l2" in unpenalized.note
    assert fit_multinomial(CrossEntropy(), _standardized(X), y, 3, l2=0.01).converged


@pytest.mark.parametrize("columns", [slice(0, 4), slice(2, 4)])
def test_class_separation_agrees_with_the_binary_test_on_two_classes(columns):
    from lossbench.experiments.separation import classes_separated, separated

    X, y = load_iris(return_X_y=True)
    X, y = X[50:, columns], y[50:] - 1  # versicolor against virginica
    assert classes_separated(X, y, 2) == separated(X, y)
    wine_X, wine_y = load_wine(return_X_y=True)
    assert classes_separated(wine_X, wine_y, 3) and not classes_separated(wine_X[:, :2], wine_y, 3)


def test_one_class_is_refused():
    with pytest.raises(LossbenchError, match="2 classes or more"):
        fit_multinomial(CrossEntropy(), np.zeros((3, 1)), np.zeros(3, int), 1)


@pytest.mark.parametrize("classes", [2, 3, 10])
def test_folds_are_stratified_over_every_class(classes):
    from lossbench.experiments.datasets.observed import Observed

    rng = np.random.default_rng(classes)
    labels = rng.integers(0, classes, 203).astype(float)
    task = "classification" if classes == 2 else "multiclass"
    data = Observed({}, "d", rng.standard_normal((203, 2)), labels, task)
    data.check_folds(5)
    tested = np.zeros(203, dtype=int)
    for fold in range(5):
        sample = data.split(fold, 5, seed=1)
        tested += _held_out(data, sample)
        for c in range(classes):  # each class's rows dealt evenly: counts differ by ≤ 1
            share = np.sum(sample.y_test == c) / max(1, np.sum(labels == c))
            assert abs(share - 0.2) <= 1 / max(1, np.sum(labels == c))
    assert (tested == 1).all()  # every row held out exactly once per repeat
    few = Observed({}, "d", np.zeros((12, 1)), np.array([0.0] * 6 + [1.0] * 4 + [2.0] * 2),
                   "multiclass")  # fmt: skip
    with pytest.raises(LossbenchError, match="smallest class has 2 rows"):
        few.check_folds(3)


def _held_out(data, sample) -> np.ndarray:
    """Which of `data`'s rows `sample` tests on (rows are unique here)."""
    return np.isin(data.X[:, 0], sample.X_test[:, 0])
