"""The residual scale a robust loss's δ is measured in (``fit.scale``), found as the root of a
function of one variable whose every value is an exact refit (`lossbench.experiments.newton`).

- ``mad``: the fixed point s = mad(r(s)) / 0.6745, where r(s) are the residuals of the fit with
  δ·s: the estimate statsmodels' ``RLM(scale_est="mad")`` iterates towards from least squares.
- ``joint``: the scale minimizing the concomitant objective σ + 2σ mean ρ(r / σ) (Owen 2007;
  scikit-learn's ``HuberRegressor``) with the coefficients refitted at each σ. That profile is
  convex in σ, so its derivative 1 + 2 mean[ρ(u) − u ρ'(u)], u = r(σ) / σ, is nondecreasing and
  the optimum is its one root.

Both roots are bracketed by steps from the least-squares residuals' scale, then closed by
Brent's method to a relative width of 1e-12. Unlike an iteration asked to make |g(s) − s|
small, this settles wherever the function changes sign: on n rows the MAD is one residual's
size (or two's mean), so where the residual that is the median changes, mad(r(s)) may have a
kink or, when the refit is not unique, a jump; a scale at a jump is settled, and said so.

References: Huber & Ronchetti, *Robust Statistics* (2009), §7.7; Brent, *Algorithms for
Minimization without Derivatives* (1973), ch. 4 (scipy's ``brentq``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

__all__ = ["MAD_TO_SIGMA", "Root", "increasing_root", "mad_of", "scale_fixed_point"]

MAD_TO_SIGMA = 0.6744897501960817  # the normal's MAD: median |N(0, 1)|
_WIDTH = 1e-12  # the bracket's final width, relative to the scale
_STEPS = 200  # evaluations allowed to find a bracket
_ROUNDING = 64 * np.finfo(np.float64).eps
_SMALLEST = 1e-12  # relative to the starting scale: below it, the scale is 0 to all purposes
# a scale at 0 is the limit δ·s → 0 of the fit, where huber (and pseudo_huber) is the
# least-absolute-deviations fit: statsmodels' RLM stops there too ("scale is 0.0")
_AT_ZERO = (
    "{} settled at 0: the fit passes through so many training rows exactly that the "
    "robust loss acts as mae (δ in units of a vanishing scale)"
)


@dataclass(frozen=True)
class Root:
    scale: float
    settled: bool
    note: str = ""  # what a reader of the fit should know: a jump, or why it did not settle


def mad_of(residuals: np.ndarray) -> float:
    """The normalized MAD about 0: median |r| / 0.6745 (statsmodels' ``mad(r, center=0)``)."""
    return float(np.median(np.abs(residuals)) / MAD_TO_SIGMA)


def scale_fixed_point(mad: Callable[[float], float], start: float) -> Root:
    """The scale s with mad(s) = s nearest `start` in the direction the plain iteration
    s ← mad(s) takes from it; `mad(s)` refits with δ·s and returns its residuals' MAD."""

    def step(here: tuple[float, float], before: tuple[float, float] | None) -> float:
        (s, h) = here
        guess = s + 2.0 * h  # twice the plain step: past a root the iteration approaches
        if before is not None and h != before[1]:  # the secant's root, pushed half again
            guess = s - 1.5 * h * (s - before[0]) / (h - before[1])
        guess = min(max(guess, s / 4.0), 4.0 * s)  # h > 0 moves up, h < 0 down
        if (guess > s) != (h > 0) or guess == s:
            guess = 2.0 * s if h > 0 else 0.5 * s
        return guess

    return _walk(
        lambda s: mad(s) - s,
        start,
        step,
        relative=True,
        names=("the residuals' MAD", "the residuals' MAD"),
    )


def increasing_root(slope: Callable[[float], float], start: float) -> Root:
    """The σ where the nondecreasing `slope(σ)` (the profile objective's derivative) crosses
    0, searched by doubling or halving from `start`."""

    def step(here: tuple[float, float], before: tuple[float, float] | None) -> float:
        return 0.5 * here[0] if here[1] > 0 else 2.0 * here[0]

    # the slope is a pure number: 0 to rounding in absolute terms
    return _walk(
        slope,
        start,
        step,
        relative=False,
        names=("the concomitant scale", "the objective's slope in σ"),
    )


def _walk(function, start: float, step, relative: bool, names: tuple[str, str]) -> Root:
    """From `start`, steps (`step(here, before)`, each point (s, function(s))) until
    `function` changes sign, then Brent's method on that bracket; a walk down to
    `_SMALLEST` of the start settles at 0. `names`: what settles, what may jump."""
    what, jumping = names

    def zero(s: float, value: float) -> bool:
        return bool(abs(value) <= _ROUNDING * (s if relative else 1.0))

    here = (start, function(start))
    if zero(*here):
        return Root(start, True)
    before = None
    for _ in range(_STEPS):
        guess = step(here, before)
        if guess < _SMALLEST * start:
            if here[0] <= _SMALLEST * start:
                return Root(0.0, True, _AT_ZERO.format(what))
            guess = _SMALLEST * start  # the last look: the refit left here is the limit's
        beyond = (guess, function(guess))
        if zero(*beyond):
            return Root(guess, True)
        if (beyond[1] > 0) != (here[1] > 0):
            return _closed(function, here, beyond, jumping)
        before, here = here, beyond
    return Root(here[0], False, f"no root for {what} within {_STEPS} refits")


def _closed(function, one, other, what: str) -> Root:
    """Brent's method on a bracket [one, other] (each (s, f(s)), signs opposite)."""
    (a, fa), (b, fb) = sorted([one, other])
    known = {a: fa, b: fb}  # brentq asks for the ends again: a refit there may round apart
    last = [other[0]]  # where the caller's refit stands

    def cached(s: float) -> float:
        if s not in known:
            known[s], last[0] = function(s), s
        return known[s]

    root = brentq(cached, a, b, xtol=_WIDTH * a, rtol=4 * np.finfo(float).eps, maxiter=500)
    # the caller's refit must be the one at the root: refitted there unless it already is
    value = known[root] if last[0] == root else function(root)
    if abs(value) <= 1e-9 * root:
        return Root(root, True)
    return Root(
        root,
        True,
        f"the scale settled where {what} jumps across its root (a gap "
        f"of {abs(value) / root:.2g} of the scale there): a settled scale",
    )
