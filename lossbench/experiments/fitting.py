"""Fit a linear or logistic model with intercept by minimizing a loss.

Parameters are packed as theta = (w_1, ..., w_d, b). The linear model predicts X w + b; the
logistic model predicts p = sigmoid(X w + b), except that a loss on logits (``bce_logits``) sees
z = X w + b itself. The objective and its gradient come from the loss's `value_and_gradient`
(fused kernels for built-in losses) and the chain rule.

Methods: ``lbfgs`` (scipy's L-BFGS-B) and ``gd``, textbook gradient descent with a fixed step
``lr`` or, without one, a backtracking (Armijo) line search; ``gd`` records the objective at
every iteration. A fit that does not converge is reported as such, never dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from lossbench.losses import Loss

__all__ = ["FitResult", "fit", "objective"]


@dataclass
class FitResult:
    theta: np.ndarray  # (w, b)
    objective: float
    iterations: int
    converged: bool
    seconds: float
    curve: list[float] = field(default_factory=list)  # gd: objective per iteration

    @property
    def coef(self) -> np.ndarray:
        return self.theta[:-1]

    @property
    def intercept(self) -> float:
        return float(self.theta[-1])


def objective(
    loss: Loss, X: np.ndarray, y: np.ndarray, model: str
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """theta -> (loss, d loss / d theta) for `model` ("linear" or "logistic") on (X, y)."""
    impl = "fused" if "fused" in loss.impls else "numpy"
    link = loss.link("classification" if model == "logistic" else "regression")

    def value_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        u = link(X @ theta[:-1] + theta[-1])
        value, du = loss.value_and_gradient(y, u, impl=impl)
        dz = link.chain(du, u)
        return value, np.append(X.T @ dz, dz.sum())

    return value_and_gradient


def fit(
    loss: Loss,
    X: np.ndarray,
    y: np.ndarray,
    *,
    model: str = "linear",
    method: str = "lbfgs",
    max_iter: int = 1000,
    tol: float = 1e-10,
    lr: float | None = None,
    theta0: np.ndarray | None = None,
) -> FitResult:
    """Minimize `loss` over the model's parameters, starting from `theta0` (default zeros)."""
    f = objective(loss, X, y, model)
    theta = np.zeros(X.shape[1] + 1) if theta0 is None else np.asarray(theta0, dtype=float)
    start = time.perf_counter()
    if method == "lbfgs":
        result = minimize(
            f,
            theta,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": max_iter, "gtol": tol, "ftol": tol},
        )
        return FitResult(
            result.x,
            float(result.fun),
            int(result.nit),
            bool(result.success),
            time.perf_counter() - start,
        )
    theta, value, iterations, converged, curve = _gradient_descent(f, theta, max_iter, tol, lr)
    return FitResult(theta, value, iterations, converged, time.perf_counter() - start, curve)


def _gradient_descent(f, theta, max_iter, tol, lr):
    """Plain gradient descent; stops when the step changes the objective by less than
    tol (relative) or the gradient's norm falls below tol."""
    value, grad = f(theta)
    curve = [value]
    step = 1.0 if lr is None else lr
    for iteration in range(1, max_iter + 1):
        if np.linalg.norm(grad) < tol:
            return theta, value, iteration - 1, True, curve
        if lr is None:  # backtracking: halve until the Armijo condition holds
            step = min(step * 2.0, 1e6)
            while True:
                candidate = theta - step * grad
                new_value, new_grad = f(candidate)
                if new_value <= value - 1e-4 * step * (grad @ grad) or step < 1e-16:
                    break
                step *= 0.5
        else:
            candidate = theta - step * grad
            new_value, new_grad = f(candidate)
        change = abs(value - new_value)
        theta, value, grad = candidate, new_value, new_grad
        curve.append(value)
        if not np.isfinite(value):
            return theta, value, iteration, False, curve
        if change <= tol * max(1.0, abs(value)):
            return theta, value, iteration, True, curve
    return theta, value, max_iter, False, curve
