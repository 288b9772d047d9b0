"""Exact optima of the linear model where one is within reach of a direct method, on
standardized data (`lossbench.experiments.fitting`): least squares, ridge included, by a
least-squares solve, and least absolute deviations by linear programming (scipy's HiGHS, as
scikit-learn's ``QuantileRegressor(quantile=0.5, alpha=0, solver="highs")``). A kinked loss
such as MAE leaves a gradient method short of its optimum (L-BFGS stopped a median 58% above
it on longley); these have no iterations to stop early.

Parameters are theta = (w, b); the penalty is (l2 / 2) ‖w‖², not on the intercept, added to
the loss's mean over the rows.
"""

from __future__ import annotations

import numpy as np

__all__ = ["least_absolute", "least_squares"]


def least_squares(X: np.ndarray, y: np.ndarray, l2: float = 0.0) -> np.ndarray:
    """theta minimizing mean((y − X w − b)²) + (l2 / 2) ‖w‖² (the minimum-norm one when X is
    rank deficient and l2 = 0)."""
    n, d = X.shape
    design = np.hstack([X, np.ones((n, 1))])
    target = y
    if l2 > 0:  # the penalty as d extra rows: mean(r²) + l2/2 ‖w‖² = (1/n) ‖[r; √(n l2/2) w]‖²
        ridge = np.hstack([np.sqrt(n * l2 / 2) * np.eye(d), np.zeros((d, 1))])
        design, target = np.vstack([design, ridge]), np.concatenate([y, np.zeros(d)])
    theta, *_ = np.linalg.lstsq(design, target, rcond=None)
    return theta


def least_absolute(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, bool, int]:
    """(theta, solved, iterations) minimizing mean(|y − X w − b|): the linear program
    min Σ (u + v) / n subject to X w + b + u − v = y, u, v ≥ 0."""
    from scipy import sparse
    from scipy.optimize import linprog

    n, d = X.shape
    cost = np.concatenate([np.zeros(d + 1), np.full(2 * n, 1.0 / n)])
    identity = sparse.identity(n, format="csr")
    constraints = sparse.hstack(
        [sparse.csr_matrix(X), sparse.csr_matrix(np.ones((n, 1))), identity, -identity],
        format="csr",
    )
    bounds = [(None, None)] * (d + 1) + [(0, None)] * (2 * n)
    result = linprog(cost, A_eq=constraints, b_eq=y, bounds=bounds, method="highs")
    if result.x is None:
        return np.zeros(d + 1), False, int(getattr(result, "nit", 0))
    return result.x[: d + 1], result.status == 0, int(result.nit)
