"""Is a binary dataset (quasi-)completely separable by a hyperplane? Then logistic regression
has no finite maximum-likelihood fit: the coefficients diverge while the loss goes to zero.

The test is Konis's linear program (*Linear programming algorithms for detecting separated
data in binary logistic regression models*, 2007): with s_i = ±1 the label's sign, maximize
Σ s_i (x_i·w + b) subject to s_i (x_i·w + b) ≥ 0 and −1 ≤ w, b ≤ 1. The optimum is 0 unless
some hyperplane puts every point on its own side (or on it, with at least one strictly),
solved by scipy's HiGHS.
"""

from __future__ import annotations

import numpy as np

from lossbench.experiments.fitting import Standardized

__all__ = ["classes_separated", "separated"]


def separated(X: np.ndarray, y: np.ndarray, tol: float = 1e-7) -> bool:
    """Whether labels `y` (0/1) are completely or quasi-completely separable in X."""
    from scipy.optimize import linprog

    y = np.asarray(y, dtype=float)
    if np.all(y == y[0]):
        return True  # one class: any threshold separates, and the MLE is infinite
    standardized, _ = Standardized.of(X, y, "logistic").data(X, y)  # conditioning, as fits
    design = np.column_stack([standardized, np.ones(len(X))])
    signed = design * np.where(y > 0.5, 1.0, -1.0)[:, None]
    result = linprog(
        -signed.sum(axis=0),
        A_ub=-signed,
        b_ub=np.zeros(len(X)),
        bounds=[(-1.0, 1.0)] * design.shape[1],
        method="highs",
    )
    return bool(result.status == 0 and -result.fun > tol * len(X))


def classes_separated(X: np.ndarray, labels: np.ndarray, classes: int, tol: float = 1e-7) -> bool:
    """Whether K classes are (quasi-)completely separated in X: some logits z = X W + b rank
    every row's own class at least as high as every other (strictly for one), so that
    multinomial logistic regression has no finite maximum-likelihood fit (Albert & Anderson,
    Biometrika 71, 1984). Konis's program on the margins z_iy − z_ik, k ≠ y = labels[i]:
    maximize their sum subject to each ≥ 0 and −1 ≤ W, b ≤ 1."""
    from scipy import sparse
    from scipy.optimize import linprog

    labels = np.asarray(labels, dtype=np.int64)
    if len(np.unique(labels)) < 2:
        return True
    standardized, _ = Standardized.of(X, labels, "logistic").data(X, labels)
    design = np.column_stack([standardized, np.ones(len(X))])  # (n, p); θ is (p, K)
    n, p = design.shape
    rows, others = np.nonzero(np.arange(classes)[None, :] != labels[:, None])
    own = labels[rows]
    # margin (i, k) = a_i · (θ_own − θ_k): +a_i in the own class's block, −a_i in k's
    values = np.concatenate([design[rows], -design[rows]], axis=1).ravel()
    columns = np.concatenate(
        [own[:, None] * p + np.arange(p), others[:, None] * p + np.arange(p)], axis=1
    ).ravel()
    line = np.repeat(np.arange(len(rows)), 2 * p)
    margins = sparse.csr_matrix((values, (line, columns)), shape=(len(rows), p * classes))
    result = linprog(
        -np.asarray(margins.sum(axis=0)).ravel(),
        A_ub=-margins,
        b_ub=np.zeros(len(rows)),
        bounds=[(-1.0, 1.0)] * (p * classes),
        method="highs",
    )
    return bool(result.status == 0 and -result.fun > tol * n)
