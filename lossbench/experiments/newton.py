"""Newton's method, safeguarded by iteratively reweighted least squares, for the linear model
with a symmetric robust loss that has a second derivative almost everywhere (huber,
pseudo_huber, log_cosh), on standardized data (`lossbench.experiments.fitting`).

The objective is F(θ) = mean ρ(y − X w − b) + (l2 / 2) ‖w‖², θ = (w, b), A = [X, 1]. Each
iteration takes Newton's full step where it lowers F enough, else the better of two:

- Newton's, solving (Aᵀ diag(ρ''(r)) A / n + l2) d = −∇F. For huber ρ'' is 1 within δ and 0
  beyond, so F is piecewise quadratic and, once the set of residuals within δ stops changing,
  one full step lands on the optimum itself (the semismooth Newton method of Qi & Sun, 1993);
- IRLS's, the same solve with the weights ρ'(r) / r in place of ρ''(r) (Huber & Ronchetti
  2009, §7.8). Those weights make a quadratic that lies above F and touches it at θ, so the
  step lowers F whatever the data; it needs no residual within δ, where Newton's matrix,
  with fewer residuals within δ than parameters, is singular and its step may not descend.

Both are searched along for the longest of 1, ½, ¼, ... that lowers F enough (Armijo). The
iteration ends where neither step can lower F by more than rounding; near a smooth optimum
full Newton steps then go on while they shrink the gradient, which can still tell a better
point when F no longer can. That exactness is what a scale found by root-finding over refits
needs (`lossbench.experiments.scales`): L-BFGS stopped at a gradient of 1e-7 left the
residuals' median noisy at 1e-8 of the scale, and the root could not be found closer.

References: Qi & Sun, "A nonsmooth version of Newton's method", Math. Programming 58 (1993);
Huber & Ronchetti, *Robust Statistics* (2009), §7.8; Nocedal & Wright, *Numerical
Optimization* (2006), §3.1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lossbench.losses import Loss, builtin

__all__ = ["MAX_COLUMNS", "Newton", "newton", "suits"]

# a step costs n·p² for the matrix; beyond this many columns L-BFGS's n·p steps are cheaper
MAX_COLUMNS = 256
_ARMIJO = 1e-4
_HALVINGS = 60
_ROUNDING = 64 * np.finfo(np.float64).eps  # a decrease of F below this (relative) is noise
_SUITED = (builtin.Huber, builtin.PseudoHuber, builtin.LogCosh)


@dataclass(frozen=True)
class Newton:
    theta: np.ndarray
    value: float
    gradient: np.ndarray  # ∇F at theta
    iterations: int
    stopped: str  # "optimum": no step lowers F or its gradient; "max_iter": the budget ran out


def suits(loss: Loss, X: np.ndarray) -> bool:
    """Whether this is the fit for `loss` on X: a built-in convex, symmetric loss with a
    closed-form second derivative, and fewer than `MAX_COLUMNS` columns."""
    return type(loss) in _SUITED and X.shape[1] < MAX_COLUMNS


def newton(
    loss: Loss, X: np.ndarray, y: np.ndarray, theta: np.ndarray, l2: float, max_iter: int
) -> Newton:
    """Minimize mean ρ(y − X w − b) + (l2 / 2) ‖w‖² from `theta` until no step lowers it
    or its gradient (the optimum, to rounding) or `max_iter` iterations are taken."""
    impl = "fused" if "fused" in loss.impls else "numpy"
    penalty = np.append(np.full(X.shape[1], l2), 0.0)

    def value_at(theta: np.ndarray, fitted: np.ndarray) -> float:
        w = theta[:-1]
        return float(loss.value(y, fitted, impl=impl)) + 0.5 * l2 * float(w @ w)

    def derivatives(theta: np.ndarray, fitted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        _, du = loss.value_and_gradient(y, fitted, impl=impl)
        return np.append(X.T @ du, du.sum()) + penalty * theta, du

    theta = np.array(theta, dtype=np.float64)
    fitted = X @ theta[:-1] + theta[-1]
    value = value_at(theta, fitted)
    gradient, du = derivatives(theta, fitted)

    def attempt(step: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray] | None:
        """(t, F there, step, X·step) for the longest step that lowers F enough; None where
        none does, or where what it could gain is below rounding."""
        slope = float(gradient @ step)
        if not -slope > _ROUNDING * abs(value):
            return None
        moved = X @ step[:-1] + step[-1]
        t, candidate = _searched(value_at, theta, fitted, step, moved, value, slope)
        return (t, candidate, step, moved) if candidate < value else None

    for iteration in range(max_iter):
        newtons, singular = _solved(loss.hessian(y, fitted), X, gradient, penalty)
        taken = attempt(newtons)
        # a singular matrix leaves the gradient's part off its range untouched, however
        # often its full step is taken: IRLS's step then moves along it too
        if taken is None or taken[0] < 1.0 or singular:
            irls_step, _ = _solved(_irls_weights(loss, y, fitted, du), X, gradient, penalty)
            irls = attempt(irls_step)
            if irls is not None and (taken is None or irls[1] < taken[1]):
                taken = irls
        if taken is None:
            moved = X @ newtons[:-1] + newtons[-1]
            after, du_after = derivatives(theta + newtons, fitted + moved)
            if not np.max(np.abs(after)) < np.max(np.abs(gradient)):
                return Newton(theta, value, gradient, iteration, "optimum")
            theta, fitted, gradient, du = theta + newtons, fitted + moved, after, du_after
            value = value_at(theta, fitted)
            continue
        t, value, step, moved = taken
        theta, fitted = theta + t * step, fitted + t * moved
        gradient, du = derivatives(theta, fitted)
    return Newton(theta, value, gradient, max_iter, "max_iter")


def _irls_weights(loss, y, fitted, du) -> np.ndarray:
    """ρ'(r) / r per row, r = y − fitted (over n, as `loss.hessian` is; du = −ρ'(r) / n, the
    loss's gradient), ρ''(0) where r = 0."""
    residual = y - fitted
    n = len(residual)
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = -du / residual
    at_zero = ~np.isfinite(weights) | (residual == 0)
    if np.any(at_zero):
        weights[at_zero] = loss.hessian(y[at_zero], fitted[at_zero], reduction="sum") / n
    return weights


def _solved(weights, X, gradient, penalty) -> tuple[np.ndarray, bool]:
    """(−M⁺∇F, whether M is singular) for M = Aᵀ diag(weights) A + diag(penalty): the
    least-squares (minimum-norm) solution where M is singular."""
    weighted = X * weights[:, None]
    d = X.shape[1]
    matrix = np.empty((d + 1, d + 1))
    matrix[:d, :d] = X.T @ weighted
    matrix[:d, d] = matrix[d, :d] = weighted.sum(axis=0)
    matrix[d, d] = weights.sum()
    matrix[np.diag_indices(d + 1)] += penalty
    solution, _, rank, _ = np.linalg.lstsq(matrix, gradient, rcond=None)
    if not np.all(np.isfinite(solution)):
        return np.zeros_like(gradient), True
    return -solution, rank < d + 1


def _searched(value_at, theta, fitted, step, moved, value, slope) -> tuple[float, float]:
    """(t, F at t) for the longest t of 1, ½, ¼, ... with an Armijo decrease ((0, ∞) if
    none); where the full step does, t doubles while F keeps falling. F can be linear over
    a long way (huber at a small δ, with fewer residuals within δ than parameters), and
    neither Newton's nor IRLS's quadratic sees how far: doubling goes there in log steps."""
    t = 1.0
    for _ in range(_HALVINGS):
        candidate = value_at(theta + t * step, fitted + t * moved)
        if candidate <= value + _ARMIJO * t * slope:
            break
        t *= 0.5
    else:
        return 0.0, np.inf
    if t < 1.0:
        return t, candidate
    for _ in range(_HALVINGS):
        longer = value_at(theta + 2 * t * step, fitted + 2 * t * moved)
        if not longer < candidate:
            break
        t, candidate = 2 * t, longer
    return t, candidate
