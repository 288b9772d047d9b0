"""Synthetic datasets: linear regression under several noise laws, and logistic classification.

Every kind draws X ~ N(0, I), true coefficients and intercept ~ N(0, 1) per trial, and a
noise-free test set of `n_test` fresh points, so metrics can be taken against the truth.
Noise (σ = `noise`):

- ``gaussian``: σ N(0, 1)          - ``student_t``: σ t(df)        - ``cauchy``: σ Cauchy
- ``laplace``: σ Laplace(0, 1)     - ``contaminated``: N(0, σ²) with probability 1 − fraction,
  N(0, (outlier_scale σ)²) with probability fraction
- ``logistic``: y ~ Bernoulli(sigmoid(X w + b)), then `label_noise` of the labels flipped.

Two classes no linear rule separates, for networks (no true coefficients; test labels drawn
from the same process): ``moons`` (two interleaved half circles, σ·N(0, I) added) and ``xor``
(four Gaussian blobs at (±1, ±1) of sd σ, the class the sign of x₁x₂).
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from lossbench.errors import LossbenchError
from lossbench.experiments.datasets.base import Choice, Dataset, Param, Sample, register
from lossbench.losses import SIGMOID

__all__ = [
    "Cauchy",
    "Contaminated",
    "Gaussian",
    "Laplace",
    "Logistic",
    "Moons",
    "StudentT",
    "Xor",
    "friedman1",
]

_SIZE = {
    "n_samples": Param(500, 2, 10_000_000, "an integer ≥ 2", integer=True),
    "n_features": Param(5, 1, 10_000, "an integer ≥ 1", integer=True),
}
# beyond a million times the signal's scale the targets are noise alone; far beyond it
# (1e308) they overflow mid-run, after the run directory exists
_NOISE = {"noise": Param(1.0, 0.0, 1e6, "a number in [0, 1e6]")}
_TEST = {"n_test": Param(1000, 1, 10_000_000, "an integer ≥ 1", integer=True)}


class _LinearRegression(Dataset):
    """y = f(X) + σ ε, ε from the kind's noise law (`_noise`); f is linear, X w + b (the
    default), or Friedman's #1 (``target: friedman1``), where a linear model is wrong."""

    parameters: ClassVar[dict[str, Param | Choice]] = {
        **_SIZE,
        **_NOISE,
        **_TEST,
        "target": Choice("linear", ("linear", "friedman1")),
    }

    def __init__(self, params: dict, label: str | None = None) -> None:
        super().__init__(params, label)
        self.truth = self.params["target"] == "linear"  # friedman1: no coefficients to find
        if not self.truth and self.params["n_features"] < 5:
            raise LossbenchError(
                "target: friedman1 uses five features; got n_features = "
                f"{self.params['n_features']}"
            )

    def _noise(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """n draws of the kind's noise law, before scaling by σ."""
        raise NotImplementedError

    def sample(self, rng: np.random.Generator) -> Sample:
        if self.params["target"] == "friedman1":
            return self._friedman1(rng)
        coef, intercept, X, X_test = _draw_design(self.params, rng)
        signal, signal_test = X @ coef + intercept, X_test @ coef + intercept
        y = signal + self.params["noise"] * self._noise(rng, len(signal))
        return Sample(X, y, X_test, f_test=signal_test, coef=coef, intercept=intercept)

    def _friedman1(self, rng: np.random.Generator) -> Sample:
        """Friedman (1991): X ~ U(0, 1)^d, f = 10 sin(π x₁x₂) + 20(x₃ − ½)² + 10x₄ + 5x₅
        (features beyond five are noise to the target), as scikit-learn's make_friedman1."""
        d = self.params["n_features"]
        X = rng.random((self.params["n_samples"], d))
        X_test = rng.random((self.params["n_test"], d))
        y = friedman1(X) + self.params["noise"] * self._noise(rng, len(X))
        return Sample(X, y, X_test, f_test=friedman1(X_test))


def friedman1(X: np.ndarray) -> np.ndarray:
    """Friedman's #1 regression function of the first five columns of X."""
    x1, x2, x3, x4, x5 = X[:, :5].T
    return 10 * np.sin(np.pi * x1 * x2) + 20 * (x3 - 0.5) ** 2 + 10 * x4 + 5 * x5

    def _noise(self, rng: np.random.Generator, n: int) -> np.ndarray:
        raise NotImplementedError


def _draw_design(params: dict, rng: np.random.Generator, classes: int | None = None):
    """(coefficients, intercept, X, X_test), all N(0, 1); a (d, K) matrix and K intercepts
    for `classes` outputs."""
    n, d = params["n_samples"], params["n_features"]
    coef = rng.standard_normal(d if classes is None else (d, classes))
    intercept = float(rng.standard_normal()) if classes is None else rng.standard_normal(classes)
    X = rng.standard_normal((n, d))
    X_test = rng.standard_normal((params["n_test"], d))
    return coef, intercept, X, X_test


@register
class Gaussian(_LinearRegression):
    kind = "gaussian"
    summary = "linear target + σ N(0, 1) noise: where MSE is the efficient choice"

    def _noise(self, rng, n):
        return rng.standard_normal(n)


@register
class StudentT(_LinearRegression):
    kind = "student_t"
    summary = "linear target + σ t(df) noise: heavy tails, df ≤ 2 has no variance"
    parameters: ClassVar[dict[str, Param | Choice]] = {
        **_LinearRegression.parameters,
        "df": Param(3.0, 1e-9, math.inf, "a number > 0"),
    }
    shown = ("df",)

    @property
    def statistic(self) -> str:  # type: ignore[override]
        """The median at df ≤ 2, where the noise has no variance and MSE's coefficient error
        no finite variance either (declared from df, never from the sample): an audit found
        the t on its mean calling a difference in 2.5% of null comparisons at 1.25%."""
        return "median" if self.params["df"] <= 2 else "mean"

    def _noise(self, rng, n):
        return rng.standard_t(self.params["df"], n)


@register
class Cauchy(_LinearRegression):
    kind = "cauchy"
    summary = "linear target + σ Cauchy noise: no mean, MSE breaks"
    statistic = "median"  # MSE's coefficient error has no mean here

    def _noise(self, rng, n):
        return rng.standard_cauchy(n)


@register
class Laplace(_LinearRegression):
    kind = "laplace"
    summary = "linear target + σ Laplace noise: MAE's natural law"

    def _noise(self, rng, n):
        return rng.laplace(0.0, 1.0, n)


@register
class Contaminated(_LinearRegression):
    kind = "contaminated"
    summary = "Gaussian noise with a fraction of gross outliers (outlier_scale σ)"
    parameters: ClassVar[dict[str, Param | Choice]] = {
        **_LinearRegression.parameters,
        "fraction": Param(0.1, 0.0, 1.0, "a number in [0, 1]"),
        "outlier_scale": Param(10.0, 0.0, 1e6, "a number in [0, 1e6]"),
    }
    shown = ("fraction", "outlier_scale")

    def _noise(self, rng, n):
        outlier = rng.random(n) < self.params["fraction"]
        return rng.standard_normal(n) * np.where(outlier, self.params["outlier_scale"], 1.0)


@register
class Logistic(Dataset):
    kind = "logistic"
    summary = "binary labels from a logistic model, some flipped"
    task = "classification"
    parameters: ClassVar[dict[str, Param | Choice]] = {
        **_SIZE,
        **_TEST,
        "label_noise": Param(0.0, 0.0, 0.5, "a number in [0, 0.5]"),
    }
    shown = ("label_noise",)

    def sample(self, rng: np.random.Generator) -> Sample:
        coef, intercept, X, X_test = _draw_design(self.params, rng)
        n, noise = len(X), self.params["label_noise"]
        y = (rng.random(n) < SIGMOID(X @ coef + intercept)).astype(np.float64)
        flip = rng.random(n) < noise
        y[flip] = 1.0 - y[flip]
        # test labels come from the same process, flips included: P(y = 1 | x) is this
        prob_test = noise + (1.0 - 2.0 * noise) * SIGMOID(X_test @ coef + intercept)
        return Sample(X, y, X_test, f_test=prob_test, coef=coef, intercept=intercept)


@register
class Softmax(Dataset):
    kind = "softmax"
    summary = "3+ classes from a softmax-linear model, some relabeled, optionally imbalanced"
    task = "multiclass"
    parameters: ClassVar[dict[str, Param | Choice]] = {
        **_SIZE,
        **_TEST,
        "classes": Param(3, 3, 50, "an integer in [3, 50]", integer=True),
        "label_noise": Param(0.0, 0.0, 1.0, "a number in [0, 1]"),
        # the most frequent class's prior over the least frequent's, log-spaced between
        "imbalance": Param(1.0, 1.0, 1e6, "a number in [1, 1e6]"),
    }
    shown = ("classes", "label_noise", "imbalance")

    @property
    def classes(self) -> int:
        return int(self.params["classes"])

    def sample(self, rng: np.random.Generator) -> Sample:
        """Logits X W + b + log prior (W, b ~ N(0, 1)); a label drawn from their softmax,
        then with probability `label_noise` replaced by one of the other classes at random.
        Test labels come from the same process."""
        k = self.classes
        W, b, X, X_test = _draw_design(self.params, rng, k)
        b += -np.log(self.params["imbalance"]) * np.arange(k) / (k - 1)  # log priors
        return Sample(
            X, self._labels(X @ W + b, rng), X_test, y_test=self._labels(X_test @ W + b, rng)
        )

    def _labels(self, logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        gumbel = -np.log(-np.log(rng.random(logits.shape)))  # argmax: a draw of the softmax
        labels = np.argmax(logits + gumbel, axis=1)
        moved = rng.random(len(labels)) < self.params["label_noise"]
        shift = rng.integers(1, self.classes, len(labels))  # another class, uniformly
        labels[moved] = (labels[moved] + shift[moved]) % self.classes
        return labels.astype(np.float64)


class _Shapes(Dataset):
    """Two classes in the plane drawn from a fixed shape: train and test alike."""

    task = "classification"
    truth = False
    parameters: ClassVar[dict[str, Param | Choice]] = {
        "n_samples": _SIZE["n_samples"],
        **_TEST,
        "noise": Param(0.2, 0.0, 10.0, "a number in [0, 10]"),
    }
    shown = ("noise",)

    def sample(self, rng: np.random.Generator) -> Sample:
        X, y = self._draw(rng, int(self.params["n_samples"]))
        X_test, y_test = self._draw(rng, int(self.params["n_test"]))
        return Sample(X, y, X_test, y_test=y_test)

    def _draw(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


@register
class Moons(_Shapes):
    kind = "moons"
    summary = "two interleaved half circles (scikit-learn's make_moons), no linear rule"

    def _draw(self, rng, n):
        y = rng.integers(0, 2, n)
        t = rng.uniform(0.0, math.pi, n)
        X = np.where(
            y[:, None] == 0, np.c_[np.cos(t), np.sin(t)], np.c_[1.0 - np.cos(t), 0.5 - np.sin(t)]
        )
        return X + self.params["noise"] * rng.standard_normal((n, 2)), y.astype(np.float64)


@register
class Xor(_Shapes):
    kind = "xor"
    summary = "four blobs at (±1, ±1), the class the sign of x1·x2: no linear rule"

    def _draw(self, rng, n):
        centres = rng.choice([-1.0, 1.0], (n, 2))
        X = centres + self.params["noise"] * rng.standard_normal((n, 2))
        return X, (centres[:, 0] * centres[:, 1] > 0).astype(np.float64)
