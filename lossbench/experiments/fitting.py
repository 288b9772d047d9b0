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
- ``mad``: δ in units of the normalized MAD of the residuals, median(|r|) / 0.6745: the scale s
  at which the fit with δ·s has residuals of MAD s (the fixed point of statsmodels' ``RLM``
  with its default ``scale_est="mad"``);
- ``joint``: scale estimated jointly with the coefficients by minimizing
  n σ + 2 σ Σ ρ(r_i / σ) (Owen's concomitant scale; scikit-learn's ``HuberRegressor``).

Both scales are roots of a function of one variable found by bracketing and Brent's method
(`lossbench.experiments.scales`) over refits at a fixed δ, each solved to its optimum by
Newton's method (`lossbench.experiments.newton`, also the fit of huber, pseudo_huber and
log_cosh at a fixed δ). A scale that settles where the residuals' median jumps, or at 0 (the
fit passes through over half the rows: the limit is the least-absolute-deviations fit), is
settled, and the fit's ``note`` says so.

Methods: ``lbfgs`` (scipy's L-BFGS-B) and ``gd``, textbook gradient descent with a fixed step
``lr`` or, without one, a backtracking (Armijo) line search; ``gd`` records the objective at
every iteration. A fit that does not converge is reported as such, never dropped.

References: Huber & Ronchetti, *Robust Statistics* (2009), §7.7 (scale); Owen, "A robust hybrid
of lasso and ridge regression" (2007) for the concomitant scale.
"""

from __future__ import annotations

import math
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from lossbench import config
from lossbench.config import FitOptions
from lossbench.errors import LossbenchError
from lossbench.experiments import exact, newton, scales
from lossbench.losses import AnyLoss, Loss, builtin

__all__ = [
    "SCALES",
    "FitResult",
    "Standardized",
    "fit",
    "joint_refusal",
    "minimized",
    "objective",
    "why_unconverged",
]

SCALES = typing.get_args(FitOptions.model_fields["scale"].annotation)  # the config's, once
MODELS = ("linear", "logistic")
_DEFAULTS = FitOptions()  # a fit's defaults are the config's `fit:` defaults
_RESTARTS = 5
_EXACT_FIT = (
    "the residuals' MAD is 0 at the start: least squares fits over half the training "
    "rows exactly, and is kept (as statsmodels' RLM keeps it)"
)
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
    note: str = ""  # what a reader should know of how the fit ended (a scale at a jump, say)
    exhausted: bool = False  # stopped by max_iter (in any refit of a scale search)

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
    method: str = _DEFAULTS.method,
    max_iter: int = _DEFAULTS.max_iter,
    tol: float = _DEFAULTS.tol,
    lr: float | None = _DEFAULTS.lr,
    theta0: np.ndarray | None = None,
    scale: str = _DEFAULTS.scale,
    l2: float = _DEFAULTS.l2,
) -> FitResult:
    """Minimize `loss` + (l2 / 2) ‖w‖² over the model's parameters (w in standardized units,
    the intercept unpenalized), starting from `theta0` (original units; default zeros). The
    options and their defaults are a config's `fit:` section's (`FitOptions`), refused as it
    refuses them. `scale` applies to linear fits of losses with a scale parameter. With
    ``lbfgs``, linear mse and mae fits are solved exactly (`lossbench.experiments.exact`; mae
    without l2), and huber, pseudo_huber and log_cosh by Newton's method to their optimum."""
    if model not in MODELS:
        raise LossbenchError(f"model: expected one of {', '.join(MODELS)}; got {model!r}")
    # what a config's `fit:` would refuse, refused here in its words (method="sgd", tol=0)
    options = dict(method=method, max_iter=max_iter, tol=tol, lr=lr, scale=scale, l2=l2)
    config.section(FitOptions, options, ("fit",))
    start = time.perf_counter()
    units = Standardized.of(X, y, model)
    Xs, ys = units.data(X, y)
    theta = np.zeros(X.shape[1] + 1) if theta0 is None else units.inward(np.asarray(theta0, float))
    robust = model == "linear" and loss.scale_parameter is not None and scale != "fixed"
    direct = _exact(loss, Xs, ys, l2) if method == "lbfgs" and model == "linear" else None
    if direct is not None:
        result = direct
    elif robust and scale == "joint":
        if why := joint_refusal(loss):
            raise LossbenchError(why)
        result = _joint(loss, Xs, ys, theta, max_iter, tol, l2)
    elif robust:
        result = _mad(loss, Xs, ys, theta, method, max_iter, tol, lr, l2)
    else:
        result = _refit(loss, Xs, ys, theta, model, method, max_iter, tol, lr, l2)
    if not result.converged and not result.note:
        result.note = why_unconverged(loss, result, max_iter, l2)
    result.theta = units.outward(result.theta)
    result.seconds = time.perf_counter() - start
    return result


def joint_refusal(loss: AnyLoss) -> str:
    """Why `loss` cannot be fitted with a joint scale ("" if it can): with δ ≤ 1 the
    concomitant objective's slope in σ, 1 + 2 mean[ρ(u) − u ρ'(u)] ≥ 1 − δ², never turns
    negative, so σ falls to 0 and the fit is mae's (scikit-learn's HuberRegressor asks
    epsilon ≥ 1 for the same reason)."""
    name = loss.scale_parameter
    if name is None or loss.params[name] > 1:
        return ""
    return (
        f"{loss} with fit.scale: joint: {name} must exceed 1 (at or below 1 the joint scale "
        f"falls to 0 and the fit is mae's); use a larger {name} or fit.scale: mad"
    )


def why_unconverged(loss: Loss | None, result: FitResult, max_iter: int, l2: float) -> str:
    """Why a fit is not converged, with the fix where one is known (each tested to work)."""
    if not math.isfinite(result.objective):
        return "the objective is not finite where the fit stopped (the steps diverged)"
    if result.exhausted:
        return (
            f"stopped at fit.max_iter = {max_iter} before its gradient fell to "
            f"{_GRADIENT_TOL:g} of its start; raise fit.max_iter"
        )
    if isinstance(loss, builtin.MAE):  # a gradient test cannot confirm an optimum at a kink
        fix = "fit it with fit.l2: 0" if l2 else "use fit.method: lbfgs"
        return (
            f"mae is kinked at its optimum, where a gradient cannot shrink: {fix} (solved "
            "exactly by linear programming)"
        )
    return (
        f"stopped where no step lowers the objective, its gradient above "
        f"{_GRADIENT_TOL:g} of its start (flat or ill-conditioned); more iterations would "
        "not change it"
    )


def _exact(loss: Loss, X: np.ndarray, y: np.ndarray, l2: float) -> FitResult | None:
    """The exact linear fit of a built-in mse (any l2) or mae (l2 = 0); None for others."""
    if isinstance(loss, builtin.MSE):
        return _least_squares(X, y, l2)
    if isinstance(loss, builtin.MAE) and not l2:
        return _solved(loss, X, y, l2, *exact.least_absolute(X, y))
    return None


def _least_squares(X: np.ndarray, y: np.ndarray, l2: float) -> FitResult:
    return _solved(builtin.MSE(), X, y, l2, exact.least_squares(X, y, l2), True, 1)


def _solved(loss, X, y, l2, theta, solved: bool, iterations: int) -> FitResult:
    """An exact solution as a fit, its objective and gradient evaluated."""
    value, grad = objective(loss, X, y, "linear", l2)(theta)
    largest = float(np.max(np.abs(grad))) if grad.size else 0.0
    return FitResult(
        theta, float(value), iterations, solved and math.isfinite(value), 0.0, gradient=largest
    )


def minimized(f, theta, method, max_iter, tol, lr) -> FitResult:
    """`f`: theta -> (value, gradient) minimized from `theta` by L-BFGS (restarted while its
    objective test stops it short) or gradient descent, judged converged on the gradient
    against its value at theta = 0 (`_judged`)."""
    reference = _reference(f, theta)
    if method == "gd":
        gtol = _GRADIENT_TOL * max(reference, 1e-300)
        theta, _, iterations, _, curve = _gradient_descent(f, theta, max_iter, tol, lr, gtol)
        done = _judged(f, theta, iterations, reference, curve)
        done.exhausted = iterations >= max_iter
        return done
    iterations, before, ftol = 0, (math.inf, math.inf), tol
    for _ in range(1 + _RESTARTS):  # a restart drops L-BFGS's stale curvature pairs
        result = minimize(
            f,
            theta,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": max(1, max_iter - iterations), "gtol": tol, "ftol": ftol},
        )
        theta, iterations = result.x, iterations + int(result.nit)
        done = _judged(f, theta, iterations, reference)
        # restarts stop helping when neither the objective nor the gradient moves (a run
        # toward an infimum at infinity, say)
        stalled = (
            before[0] - done.objective <= ftol * abs(done.objective)
            and done.gradient > 0.9 * before[1]
        )
        ftol = min(tol, 1e-15)  # a restart goes on while the gradient says so
        done.exhausted = iterations >= max_iter
        if done.converged or stalled or done.exhausted or not math.isfinite(done.objective):
            return done
        before = (done.objective, done.gradient)
    return done


def _judged(f, theta, iterations, reference, curve=None) -> FitResult:
    """A FitResult whose `converged` comes from the gradient at theta, against `reference`
    (the largest gradient entry where all coefficients are zero)."""
    value, grad = f(theta)
    return _verdict(theta, value, grad, iterations, reference, curve)


def _verdict(theta, value, grad, iterations, reference, curve=None) -> FitResult:
    largest = float(np.max(np.abs(grad))) if grad.size else 0.0
    converged = math.isfinite(value) and largest <= _GRADIENT_TOL * max(reference, 1e-300)
    return FitResult(theta, float(value), iterations, converged, 0.0, curve or [], gradient=largest)


def _reference(f, theta: np.ndarray) -> float:
    """The largest gradient entry of `f` where every parameter is 0: what a gradient is judged
    against."""
    return float(np.max(np.abs(f(np.zeros_like(theta))[1])))


def _refit(loss, X, y, theta, model, method, max_iter, tol, lr, l2) -> FitResult:
    """A fit at a fixed δ: Newton's method where it reaches the optimum itself (a built-in
    loss with a second derivative, a linear model, few enough columns), else `minimized`."""
    f = objective(loss, X, y, model, l2)
    if method == "lbfgs" and model == "linear" and newton.suits(loss, X):
        solved = newton.newton(loss, X, y, theta, l2, max_iter)
        done = _verdict(
            solved.theta, solved.value, solved.gradient, solved.iterations, _reference(f, theta)
        )
        done.exhausted = solved.stopped == "max_iter"
        return done
    return minimized(f, theta, method, max_iter, tol, lr)


class _Refits:
    """The fits at δ·s of a scale search, each warm-started from the last: the last one, and
    what they cost together (iterations, whether any ran out of them)."""

    def __init__(self, loss, X, y, last: FitResult, method, max_iter, tol, lr) -> None:
        self.loss, self.X, self.y, self.last = loss, X, y, last
        self.options = (method, max_iter, tol, lr)
        self.iterations, self.exhausted = last.iterations, False

    def at(self, scale: float, l2: float) -> FitResult:
        """The fit with the loss's scale parameter times `scale`, and penalty `l2`."""
        method, max_iter, tol, lr = self.options
        self.last = _refit(
            self.loss.with_scale(scale),
            self.X,
            self.y,
            self.last.theta,
            "linear",
            method,
            max_iter,
            tol,
            lr,
            l2,
        )
        self.iterations += self.last.iterations
        self.exhausted |= self.last.exhausted
        return self.last

    def residuals(self) -> np.ndarray:
        return self.y - self.X @ self.last.theta[:-1] - self.last.theta[-1]

    def settled(self, result: FitResult, root: scales.Root) -> FitResult:
        """`result` (the last refit, or another fit: the limit at a scale of 0) as the search's
        outcome, with the iterations of every refit."""
        result.converged = result.converged and root.settled
        result.iterations = self.iterations + (0 if result is self.last else result.iterations)
        result.scale, result.note, result.exhausted = root.scale, root.note, self.exhausted
        return result


def _mad(loss, X, y, theta, method, max_iter, tol, lr, l2) -> FitResult:
    """δ in units of the residuals' normalized MAD: from least squares (as RLM starts), the
    scale s at which the refit with δ·s has residuals whose MAD is s (`scales`)."""
    refits = _Refits(loss, X, y, _least_squares(X, y, l2), method, max_iter, tol, lr)
    start = scales.mad_of(refits.residuals())
    if not start > 0:  # least squares fits over half the rows exactly; RLM stops at once too
        return refits.settled(refits.last, scales.Root(0.0, True, _EXACT_FIT))

    def mad(s: float) -> float:
        """The residuals' MAD after refitting with δ·s."""
        refits.at(s, l2)
        return scales.mad_of(refits.residuals())

    root = scales.scale_fixed_point(mad, start)
    return refits.settled(_limit(X, y, l2, root) or refits.last, root)


def _limit(X: np.ndarray, y: np.ndarray, l2: float, root: scales.Root) -> FitResult | None:
    """The fit a robust loss tends to where its scale settles at 0: least absolute
    deviations, solved exactly (None elsewhere, and with l2 > 0, where the limit is another)."""
    return _exact(builtin.MAE(), X, y, 0.0) if root.scale == 0 and not l2 else None


def _joint(loss, X, y, theta, max_iter, tol, l2) -> FitResult:
    """Coefficients and scale together: minimize σ + 2σ mean ρ(r / σ) + (l2 / 2) ‖w‖² (per
    sample; the concomitant scale of HuberRegressor). At a fixed σ that is a fit with δ·σ
    and penalty σ·l2 / 2 (ρ_δ(r / σ) = ρ_{δσ}(r) / σ²); σ is the root of the profile's
    derivative (`scales.increasing_root`)."""
    refits = _Refits(
        loss, X, y, FitResult(theta, math.nan, 0, False, 0.0), "lbfgs", max_iter, tol, None
    )

    def slope(sigma: float) -> float:
        """d/dσ of the objective at the coefficients refitted for σ (envelope theorem)."""
        refitted = refits.at(sigma, 0.5 * l2 * sigma).theta
        u_true, u_fitted = y / sigma, (X @ refitted[:-1] + refitted[-1]) / sigma
        rho, drho = loss.value_and_gradient(u_true, u_fitted, reduction="none")  # drho: −ρ'
        return 1.0 + 2.0 * float(np.mean(rho + (u_true - u_fitted) * drho))

    least_squares = _least_squares(X, y, l2).theta
    start = scales.mad_of(y - X @ least_squares[:-1] - least_squares[-1]) or float(np.std(y)) or 1.0
    root = scales.increasing_root(slope, start)
    limit = _limit(X, y, l2, root)
    if limit is not None:
        return refits.settled(limit, root)
    f = _concomitant(loss, X, y, l2)
    params = np.append(refits.last.theta, root.scale)
    # judged against the gradient at zero coefficients and the starting scale (σ = 0 is none)
    reference = float(np.max(np.abs(f(np.append(np.zeros_like(theta), start))[1])))
    done = _judged(f, params, 0, reference)
    done.converged = done.converged and refits.last.converged
    done.theta = params[:-1]
    return refits.settled(done, root)


def _concomitant(loss, X, y, l2) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """(w, b, σ) -> (σ + 2σ mean ρ(r / σ) + (l2 / 2) ‖w‖², its gradient)."""
    impl = "fused" if "fused" in loss.impls else "numpy"

    def f(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b, sigma = params[:-2], params[-2], params[-1]
        if not sigma > 0:
            return math.inf, np.full_like(params, math.inf)
        fitted = X @ w + b
        value, g = loss.value_and_gradient(y / sigma, fitted / sigma, impl=impl)
        # d/dθ: 2σ Σ g_i x_i / σ;  d/dσ: 1 + 2 mean ρ + (2/σ) Σ g_i r_i
        d_sigma = 1.0 + 2.0 * value + 2.0 / sigma * float(g @ (y - fitted))
        penalty = 0.5 * l2 * float(w @ w)
        return sigma + 2.0 * sigma * value + penalty, np.concatenate(
            [2.0 * (X.T @ g) + l2 * w, [2.0 * g.sum()], [d_sigma]]
        )

    return f


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
