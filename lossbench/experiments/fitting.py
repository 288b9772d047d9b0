"""Fit a linear or logistic model with intercept by minimizing a loss.

Parameters are packed as theta = (w_1, ..., w_d, b). The linear model predicts X w + b; the
logistic model predicts p = sigmoid(X w + b), except that a loss on logits (``bce_logits``) sees
z = X w + b itself (`Loss.link`). The objective and its gradient come from the loss's
`value_and_gradient` (fused kernels for built-in losses) and the chain rule.

Conditioning: the optimizer works on standardized columns of X (and, for the linear model,
centred y); coefficients are reported in the original units. Ill-conditioned raw X otherwise
lets L-BFGS stop on its relative-objective test far from the optimum.

Convergence is judged on the gradient, not on the optimizer's word: a fit is ``converged`` when
the largest gradient entry (standardized units) is at most 1e-7 of the largest at the
zero-coefficient model (which predicts the mean, or p = ½): a bound in the problem's own units,
whatever the units of y. L-BFGS that stops early on its objective test is restarted from where
it stopped (up to 5 times) before the fit is called unconverged.

Robust losses with a scale parameter (huber, pseudo_huber: ``Loss.scale_parameter``) are fitted
on a residual scale (``scale``):

- ``fixed``: δ in the units of y, as the loss API takes it;
- ``mad``: δ in units of the normalized MAD of the residuals, median(|r|) / 0.6745, re-estimated
  until coefficients and scale agree (the fixed point of statsmodels' ``RLM`` with its default
  ``scale_est="mad"``);
- ``joint``: scale estimated jointly with the coefficients by minimizing
  n σ + 2 σ Σ ρ(r_i / σ) (Owen's concomitant scale; scikit-learn's ``HuberRegressor``).

Methods: ``lbfgs`` (scipy's L-BFGS-B) and ``gd``, textbook gradient descent with a fixed step
``lr`` or, without one, a backtracking (Armijo) line search; ``gd`` records the objective at
every iteration. A fit that does not converge is reported as such, never dropped.

References: Huber & Ronchetti, *Robust Statistics* (2009), §7.7 (scale); Owen, "A robust hybrid
of lasso and ridge regression" (2007) for the concomitant scale.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from lossbench.errors import LossbenchError
from lossbench.experiments import exact
from lossbench.losses import Loss, builtin

__all__ = ["SCALES", "FitResult", "Standardized", "fit", "objective"]

SCALES = ("mad", "joint", "fixed")
MAD_TO_SIGMA = 0.6744897501960817  # the normal's MAD: median |N(0, 1)|
_RESTARTS = 5
_GRADIENT_TOL = 1e-7


@dataclass
class FitResult:
    theta: np.ndarray  # (w, b) in the original units
    objective: float
    iterations: int
    converged: bool
    seconds: float
    curve: list[float] = field(default_factory=list)  # gd: objective per iteration
    scale: float = math.nan  # the residual scale δ was measured in (mad, joint)
    gradient: float = math.nan  # the largest gradient entry at the end (standardized units)

    @property
    def coef(self) -> np.ndarray:
        return self.theta[:-1]

    @property
    def intercept(self) -> float:
        return float(self.theta[-1])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The model's linear predictor (a logit in classification) on X."""
        return X @ self.coef + self.intercept


def objective(
    loss: Loss, X: np.ndarray, y: np.ndarray, model: str, l2: float = 0.0
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """theta -> (loss + (l2 / 2) ‖w‖², its gradient in theta) for `model` ("linear" or
    "logistic") on (X, y)."""
    impl = "fused" if "fused" in loss.impls else "numpy"
    link = loss.link("classification" if model == "logistic" else "regression")

    def value_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w = theta[:-1]
        u = link(X @ w + theta[-1])
        value, du = loss.value_and_gradient(y, u, impl=impl)
        dz = link.chain(du, u)
        if l2:
            return value + 0.5 * l2 * float(w @ w), np.append(X.T @ dz + l2 * w, dz.sum())
        return value, np.append(X.T @ dz, dz.sum())

    return value_and_gradient


@dataclass(frozen=True)
class Standardized:
    """X's columns centred and scaled to unit variance (constant columns only centred), y
    centred for the linear model; maps parameters between the two sets of units."""

    mean: np.ndarray
    sd: np.ndarray
    shift: float  # subtracted from y

    @classmethod
    def of(cls, X: np.ndarray, y: np.ndarray, model: str) -> Standardized:
        sd = X.std(axis=0)
        sd[~(sd > 0)] = 1.0
        shift = float(np.mean(y)) if model == "linear" else 0.0
        return cls(X.mean(axis=0), sd, shift)

    def data(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (X - self.mean) / self.sd, y - self.shift

    def inward(self, theta: np.ndarray) -> np.ndarray:
        w, b = theta[:-1], theta[-1]
        return np.append(w * self.sd, b + w @ self.mean - self.shift)

    def outward(self, theta: np.ndarray) -> np.ndarray:
        w = theta[:-1] / self.sd
        return np.append(w, theta[-1] + self.shift - w @ self.mean)


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
    scale: str = "fixed",
    l2: float = 0.0,
) -> FitResult:
    """Minimize `loss` + (l2 / 2) ‖w‖² over the model's parameters (w in standardized units,
    the intercept unpenalized), starting from `theta0` (original units; default zeros).
    `scale` applies to linear fits of losses with a scale parameter. With ``lbfgs``, linear
    mse and mae fits are solved exactly (`lossbench.experiments.exact`; mae without l2)."""
    if scale not in SCALES:
        raise LossbenchError(f"fit.scale: expected one of {', '.join(SCALES)}; got {scale!r}")
    start = time.perf_counter()
    units = Standardized.of(X, y, model)
    Xs, ys = units.data(X, y)
    theta = np.zeros(X.shape[1] + 1) if theta0 is None else units.inward(np.asarray(theta0, float))
    robust = model == "linear" and loss.scale_parameter is not None and scale != "fixed"
    direct = _exact(loss, Xs, ys, l2) if method == "lbfgs" and model == "linear" else None
    if direct is not None:
        result = direct
    elif robust and scale == "joint":
        if method != "lbfgs":
            raise LossbenchError("fit.scale: joint needs fit.method: lbfgs")
        result = _joint(loss, Xs, ys, theta, max_iter, tol, l2)
    elif robust:
        result = _mad(loss, Xs, ys, theta, method, max_iter, tol, lr, l2)
    else:
        f = objective(loss, Xs, ys, model, l2)
        result = _minimize(f, theta, method, max_iter, tol, lr)
    result.theta = units.outward(result.theta)
    result.seconds = time.perf_counter() - start
    return result


def _exact(loss: Loss, X: np.ndarray, y: np.ndarray, l2: float) -> FitResult | None:
    """The exact linear fit of a built-in mse (any l2) or mae (l2 = 0); None for others."""
    if isinstance(loss, builtin.MSE):
        theta, solved, iterations = exact.least_squares(X, y, l2), True, 1
    elif isinstance(loss, builtin.MAE) and not l2:
        theta, solved, iterations = exact.least_absolute(X, y)
    else:
        return None
    value, grad = objective(loss, X, y, "linear", l2)(theta)
    largest = float(np.max(np.abs(grad))) if grad.size else 0.0
    return FitResult(theta, float(value), iterations, solved and math.isfinite(value), 0.0,
                     gradient=largest)  # fmt: skip


def _minimize(f, theta, method, max_iter, tol, lr) -> FitResult:
    reference = float(np.max(np.abs(f(np.zeros_like(theta))[1])))
    if method == "gd":
        gtol = _GRADIENT_TOL * max(reference, 1e-300)
        theta, _, iterations, _, curve = _gradient_descent(f, theta, max_iter, tol, lr, gtol)
        return _judged(f, theta, iterations, reference, curve)
    iterations, before, ftol = 0, (math.inf, math.inf), tol
    for _ in range(1 + _RESTARTS):  # a restart drops L-BFGS's stale curvature pairs
        result = minimize(
            f, theta, jac=True, method="L-BFGS-B",
            options={"maxiter": max(1, max_iter - iterations), "gtol": tol, "ftol": ftol},
        )  # fmt: skip
        theta, iterations = result.x, iterations + int(result.nit)
        done = _judged(f, theta, iterations, reference)
        # restarts stop helping when neither the objective nor the gradient moves (a run
        # toward an infimum at infinity, say)
        stalled = (
            before[0] - done.objective <= ftol * abs(done.objective)
            and done.gradient > 0.9 * before[1]
        )
        ftol = min(tol, 1e-15)  # a restart goes on while the gradient says so
        if done.converged or stalled or iterations >= max_iter or not math.isfinite(done.objective):
            return done
        before = (done.objective, done.gradient)
    return done


def _judged(f, theta, iterations, reference, curve=None) -> FitResult:
    """A FitResult whose `converged` comes from the gradient at theta, against `reference`
    (the largest gradient entry where all coefficients are zero)."""
    value, grad = f(theta)
    largest = float(np.max(np.abs(grad))) if grad.size else 0.0
    converged = math.isfinite(value) and largest <= _GRADIENT_TOL * max(reference, 1e-300)
    return FitResult(theta, float(value), iterations, converged, 0.0, curve or [], gradient=largest)


def _mad_scale(residuals: np.ndarray) -> float:
    return float(np.median(np.abs(residuals)) / MAD_TO_SIGMA)


def _mad(loss, X, y, theta, method, max_iter, tol, lr, l2, rounds: int = 60) -> FitResult:
    """δ in units of the residuals' normalized MAD: start from least squares (as RLM does),
    then find the scale s at which refitting with δ·s reproduces s. The plain fixed-point
    iteration converges slowly on ill-conditioned data (100 rounds leave longley 5e-4 away),
    so after two plain steps the secant method solves mad(r(s)) / 0.6745 − s = 0."""
    least_squares = _exact(builtin.MSE(), X, y, l2)
    start = least_squares.theta
    state = {"theta": start, "result": least_squares, "iterations": 0}

    def gap(s: float) -> float:
        """mad(r) / 0.6745 − s after refitting with δ·s (warm-started)."""
        result = _minimize(objective(loss.with_scale(s), X, y, "linear", l2), state["theta"],
                           method, max_iter, tol, lr)  # fmt: skip
        state.update(theta=result.theta, result=result)
        state["iterations"] += result.iterations
        return _mad_scale(y - X @ result.theta[:-1] - result.theta[-1]) - s

    s = _mad_scale(y - X @ start[:-1] - start[-1])
    previous = None
    settled = False
    for step in range(rounds):
        if not s > 0:  # an exact fit: no residual scale to measure δ in
            break
        h = gap(s)
        if abs(h) <= 1e-10 * s:
            settled = True
            break
        if step < 2 or previous is None or h == previous[1]:
            following = s + h  # a plain fixed-point step
        else:
            following = s - h * (s - previous[0]) / (h - previous[1])
            if not (following > 0 and math.isfinite(following)):
                following = s + h
        previous, s = (s, h), following
    result = state["result"]
    result.converged = result.converged and settled
    result.iterations, result.scale = state["iterations"], s
    return result


def _joint(loss, X, y, theta, max_iter, tol, l2) -> FitResult:
    """Coefficients and scale together: minimize σ + 2σ mean ρ(r / σ) + (l2 / 2) ‖w‖² (per
    sample; the concomitant scale of HuberRegressor)."""
    impl = "fused" if "fused" in loss.impls else "numpy"
    residual = y - X @ theta[:-1] - theta[-1]
    sigma0 = _mad_scale(residual) or float(np.std(y)) or 1.0

    def f(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b, sigma = params[:-2], params[-2], params[-1]
        fitted = X @ w + b
        value, g = loss.value_and_gradient(y / sigma, fitted / sigma, impl=impl)
        # d/dθ: 2σ Σ g_i x_i / σ;  d/dσ: 1 + 2 mean ρ + (2/σ) Σ g_i r_i
        d_sigma = 1.0 + 2.0 * value + 2.0 / sigma * float(g @ (y - fitted))
        penalty = 0.5 * l2 * float(w @ w)
        return sigma + 2.0 * sigma * value + penalty, np.concatenate(
            [2.0 * (X.T @ g) + l2 * w, [2.0 * g.sum()], [d_sigma]]
        )

    params = np.append(theta, sigma0)
    reference = float(np.max(np.abs(f(np.append(np.zeros_like(theta), sigma0))[1])))
    bounds = [(None, None)] * len(theta) + [(1e-12, None)]
    iterations = 0
    for _ in range(1 + _RESTARTS):
        result = minimize(
            f, params, jac=True, method="L-BFGS-B", bounds=bounds,
            # Huber's second derivative jumps: L-BFGS's objective test stops it early here
            options={"maxiter": max(1, max_iter - iterations), "gtol": tol,
                     "ftol": min(tol, 1e-14)},
        )  # fmt: skip
        params, iterations = result.x, iterations + int(result.nit)
        done = _judged(f, params, iterations, reference)
        if done.converged or iterations >= max_iter:
            break
    done.theta, done.scale = params[:-1], float(params[-1])
    return done


def _gradient_descent(f, theta, max_iter, tol, lr, gtol=0.0):
    """Plain gradient descent; stops when the largest gradient entry falls to `gtol`, or the
    step changes the objective by less than tol (relative: stalled, judged by the caller)."""
    value, grad = f(theta)
    curve = [value]
    step = 1.0 if lr is None else lr
    for iteration in range(1, max_iter + 1):
        if np.max(np.abs(grad)) <= gtol or np.linalg.norm(grad) < tol:
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
