"""Synthetic datasets: linear regression under several noise laws, and logistic classification.

Every dataset draws X ~ N(0, I), true coefficients and intercept ~ N(0, 1) per trial, and a
noise-free test set of `n_test` fresh points. Noise (σ = `noise`):

- ``gaussian``: σ N(0, 1)          - ``student_t``: σ t(df)        - ``cauchy``: σ Cauchy
- ``laplace``: σ Laplace(0, 1)     - ``contaminated``: N(0, σ²) with probability 1 − fraction,
  N(0, (outlier_scale σ)²) with probability fraction
- ``logistic``: y ~ Bernoulli(sigmoid(X w + b)), then `label_noise` of the labels flipped.

A parameter given as a list is a grid: `expand` makes one dataset per combination.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossbench.errors import LossbenchError

__all__ = ["KINDS", "Dataset", "Sample", "expand"]

_COMMON = {"n_samples": 500, "n_features": 5, "noise": 1.0, "n_test": 1000}
# kind -> (its own parameters with defaults, what it is)
KINDS: dict[str, tuple[dict[str, float], str]] = {
    "gaussian": ({}, "linear target + σ N(0, 1) noise: where MSE is the efficient choice"),
    "student_t": (
        {"df": 3.0},
        "linear target + σ t(df) noise: heavy tails, df ≤ 2 has no variance",
    ),
    "cauchy": ({}, "linear target + σ Cauchy noise: no mean, MSE breaks"),
    "laplace": ({}, "linear target + σ Laplace noise: MAE's natural law"),
    "contaminated": (
        {"fraction": 0.1, "outlier_scale": 10.0},
        "Gaussian noise with a fraction of gross outliers (outlier_scale σ)",
    ),
    "logistic": ({"label_noise": 0.0}, "binary labels from a logistic model, some flipped"),
}
_LIMITS = {
    "n_samples": (2, 10_000_000, "an integer ≥ 2"),
    "n_features": (1, 10_000, "an integer ≥ 1"),
    "n_test": (1, 10_000_000, "an integer ≥ 1"),
    "noise": (0.0, float("inf"), "a number ≥ 0"),
    "df": (1e-9, float("inf"), "a number > 0"),
    "fraction": (0.0, 1.0, "a number in [0, 1]"),
    "outlier_scale": (0.0, float("inf"), "a number ≥ 0"),
    "label_noise": (0.0, 0.5, "a number in [0, 0.5]"),
}
_INTEGERS = {"n_samples", "n_features", "n_test"}


@dataclass(frozen=True)
class Sample:
    """One trial's data: train (X, y), test (X_test, f_test = the noise-free target, or the true
    P(y = 1 | x) with label flips included), and the true parameters (coef, intercept)."""

    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    f_test: np.ndarray
    coef: np.ndarray
    intercept: float


@dataclass(frozen=True)
class Dataset:
    """A fully specified dataset: a kind and every parameter resolved to one value."""

    kind: str
    params: dict[str, Any]
    label: str = field(compare=False)

    @property
    def task(self) -> str:
        return "classification" if self.kind == "logistic" else "regression"

    def sample(self, rng: np.random.Generator) -> Sample:
        """Draw one trial's data from `rng` (the trial's own generator)."""
        p = self.params
        n, d = p["n_samples"], p["n_features"]
        coef = rng.standard_normal(d)
        intercept = float(rng.standard_normal())
        X = rng.standard_normal((n, d))
        X_test = rng.standard_normal((p["n_test"], d))
        signal, signal_test = X @ coef + intercept, X_test @ coef + intercept
        if self.kind == "logistic":
            prob = _sigmoid(signal)
            y = (rng.random(n) < prob).astype(np.float64)
            flip = rng.random(n) < p["label_noise"]
            y[flip] = 1.0 - y[flip]
            # test labels come from the same process, flips included: P(y = 1 | x) is this
            noise = p["label_noise"]
            prob_test = noise + (1.0 - 2.0 * noise) * _sigmoid(signal_test)
            return Sample(X, y, X_test, prob_test, coef, intercept)
        return Sample(
            X, signal + p["noise"] * self._noise(rng, n), X_test, signal_test, coef, intercept
        )

    def _noise(self, rng: np.random.Generator, n: int) -> np.ndarray:
        p = self.params
        if self.kind == "gaussian":
            return rng.standard_normal(n)
        if self.kind == "student_t":
            return rng.standard_t(p["df"], n)
        if self.kind == "cauchy":
            return rng.standard_cauchy(n)
        if self.kind == "laplace":
            return rng.laplace(0.0, 1.0, n)
        outlier = rng.random(n) < p["fraction"]  # contaminated
        return rng.standard_normal(n) * np.where(outlier, p["outlier_scale"], 1.0)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(z)


def expand(spec: dict[str, Any], where: str = "dataset") -> list[Dataset]:
    """The datasets a config entry names: one per combination of its list-valued parameters.

    `where` names the entry in error messages (e.g. "experiments[0].datasets[1]").
    """
    if not isinstance(spec, dict) or "kind" not in spec:
        raise LossbenchError(f"{where}: expected a mapping with a 'kind'; got {spec!r}")
    kind = spec["kind"]
    if kind not in KINDS:
        raise LossbenchError(
            f"{where}.kind: unknown dataset {kind!r}; expected one of {', '.join(KINDS)}"
        )
    own = KINDS[kind][0]
    common = {k: v for k, v in _COMMON.items() if not (kind == "logistic" and k == "noise")}
    allowed = {**common, **own}
    given = {k: v for k, v in spec.items() if k != "kind"}
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise LossbenchError(
            f"{where}: {kind} has no parameter {unknown[0]!r}; expected {', '.join(allowed)}"
        )
    grid = {k: v if isinstance(v, list) else [v] for k, v in given.items()}
    for key, values in grid.items():
        if not values:
            raise LossbenchError(f"{where}.{key}: an empty list makes no dataset")
        grid[key] = [_check_value(f"{where}.{key}", key, v) for v in values]
    shown = [k for k in allowed if k in own or len(grid.get(k, ())) > 1]
    datasets = []
    for combo in itertools.product(*grid.values()):
        params = {**allowed, **dict(zip(grid, combo, strict=True))}
        label = kind + (
            "(" + ", ".join(f"{k}={_format(params[k])}" for k in shown) + ")" if shown else ""
        )
        datasets.append(Dataset(kind, params, label))
    return datasets


def _check_value(where: str, key: str, value: Any) -> float | int:
    low, high, expected = _LIMITS[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LossbenchError(f"{where}: expected {expected}; got {value!r}")
    if key in _INTEGERS and not float(value).is_integer():
        raise LossbenchError(f"{where}: expected {expected}; got {value!r}")
    if not low <= value <= high:
        raise LossbenchError(f"{where}: expected {expected}; got {value!r}")
    return int(value) if key in _INTEGERS else float(value)


def _format(value: float | int) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)
