"""``landscape``: a single sigmoid unit fitted from ``starts`` random starts (coefficients
~ N(0, start_scale²)) on data where squared error is not convex.

Each start's end point is classified (`classify`): a verified local minimum (gradient ≈ 0,
Hessian positive definite), a saturated plateau, a run toward an infimum at infinity (the
sigmoid turning into a step), or a stop that is not stationary. Per loss and trial:
``distinct_minima`` (verified minima, distinct by parameter distance), the share of starts in
each class (``minimum_share``, ``plateau_share``, ``infinity_share``, ``nonstationary_share``),
the spread of final objectives, the share of starts that reach the best one, and each start's
``final_objective``. Squared error through a sigmoid has several kinds of end point;
cross-entropy on the logit, convex, has one minimum.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, PositiveInt

from lossbench.experiments.datasets import Choice, Dataset, Param, Sample
from lossbench.experiments.fitting import fit, objective
from lossbench.experiments.kind import ExperimentKind, Task, TrialRow, register

__all__ = ["LandscapeExperiment", "TwoSlopes"]


class TwoSlopes(Dataset):
    """Two groups that want opposite slopes: most points near 0 labelled by the sign of x, a
    few far out labelled the other way. Squared error through a sigmoid is bounded per point, so
    it can settle for either group (a minimum each, plus plateaus where the sigmoid saturates) -
    the non-convexity Auer, Herbster & Warmuth, "Exponentially many local minima for single
    neurons" (NIPS 1995), build on. Cross-entropy on the logit is convex: one minimum. Labels
    are flipped at random so that no group is separable and every minimum is finite.

    The landscape's own data (not in the dataset registry): it has no true coefficients."""

    kind = "landscape"
    summary = "two groups of points that want opposite slopes"
    task = "classification"
    truth = False
    parameters: ClassVar[dict[str, Param | Choice]] = {
        "n_samples": Param(60, 2, 10_000, "an integer ≥ 2", integer=True),
        "far": Param(10, 0, 10_000, "an integer ≥ 0", integer=True),
        "flip": Param(0.1, 0.0, 0.5, "a number in [0, 0.5]"),
    }

    def sample(self, rng: np.random.Generator) -> Sample:
        n, far = int(self.params["n_samples"]), int(self.params["far"])
        near_x = rng.uniform(-1.0, 1.0, n - far)
        far_x = rng.choice([-1.0, 1.0], far) * rng.uniform(8.0, 12.0, far)
        x = np.concatenate([near_x, far_x])
        y = np.concatenate([(near_x > 0).astype(float), (far_x < 0).astype(float)])
        flip = rng.random(n) < self.params["flip"]
        y[flip] = 1.0 - y[flip]
        return Sample(x[:, None], y, x[:0, None])


@register
class LandscapeExperiment(ExperimentKind):
    kind: Literal["landscape"] = "landscape"
    starts: PositiveInt = 40
    """Random starts per trial."""
    start_scale: float = Field(10.0, gt=0, le=1e4)
    """The spread of their coefficients."""

    dataset_task = "classification"

    def default_datasets(self) -> list[Dataset]:
        return [TwoSlopes({}, "two-slopes")]

    def quick(self) -> LandscapeExperiment:
        small = super().quick()
        small.starts = min(small.starts, 10)
        return small

    def run_task(self, task: Task) -> list[TrialRow]:
        rng = task.rng()
        sample = task.data.sample(rng)
        X, y = sample.X, sample.y
        starts = rng.normal(0.0, self.start_scale, (self.starts, X.shape[1] + 1))
        options = self.fit
        rows = []
        for loss in task.elementwise():
            f = objective(loss, X, y, "logistic")
            reference = float(np.max(np.abs(f(np.zeros(X.shape[1] + 1))[1])))
            finals, ends, minima = [], [], []
            for s, theta0 in enumerate(starts):
                result = fit(
                    loss,
                    X,
                    y,
                    model="logistic",
                    method=options.method,
                    max_iter=options.max_iter,
                    tol=options.tol,
                    lr=options.lr,
                    theta0=theta0,
                )
                end = classify(f, result.theta, reference)
                finals.append(result.objective)
                ends.append(end)
                if end == "minimum":
                    minima.append(result.theta)
                rows.append(task.row(str(loss), "final_objective", result.objective, x=s))
            objectives = np.array(finals)
            best_share = float(np.mean(objectives <= objectives.min() * (1 + 1e-6) + 1e-12))
            rows += [
                task.row(str(loss), "distinct_minima", float(_distinct_points(minima))),
                *(
                    task.row(str(loss), f"{end}_share", ends.count(end) / len(ends))
                    for end in END_POINTS
                ),
                task.row(str(loss), "objective_spread", float(objectives.max() - objectives.min())),
                task.row(str(loss), "best_share", best_share),
            ]
        return rows

    @classmethod
    def identifies(cls, metrics: set[str]) -> bool:
        return "distinct_minima" in metrics


END_POINTS = ("minimum", "plateau", "infinity", "nonstationary")


def classify(f, theta: np.ndarray, reference: float) -> str:
    """What a fit's end point is, for the objective `f` (theta -> (value, gradient)):

    - ``minimum``: stationary (largest gradient entry ≤ 1e-6 of the one at zero) with a
      positive definite Hessian (central differences of the analytic gradient): a verified
      local minimum;
    - ``infinity``: doubling the parameters still lowers the objective: a run toward an infimum
      at infinity (the sigmoid turning into a step);
    - ``plateau``: stationary but flat: a saturated sigmoid that leaves no gradient;
    - ``nonstationary``: the optimizer stopped where the gradient is not small.
    """
    value, grad = f(theta)
    stationary = float(np.max(np.abs(grad))) <= 1e-6 * max(reference, 1e-300)
    if stationary and _positive_definite(f, theta):
        return "minimum"
    further, _ = f(2.0 * theta)
    if further < value - 1e-9 * abs(value) - 1e-15:
        return "infinity"
    return "plateau" if stationary else "nonstationary"


def _positive_definite(f, theta: np.ndarray) -> bool:
    d = len(theta)
    hessian = np.empty((d, d))
    for j in range(d):
        h = 1e-5 * max(1.0, abs(theta[j]))
        step = np.zeros(d)
        step[j] = h
        hessian[:, j] = (f(theta + step)[1] - f(theta - step)[1]) / (2 * h)
    eigenvalues = np.linalg.eigvalsh((hessian + hessian.T) / 2)
    return bool(eigenvalues[0] > max(1e-10, 1e-6 * np.max(np.abs(eigenvalues))))


def _distinct_points(points: list[np.ndarray], rtol: float = 1e-3) -> int:
    """How many distinct parameter vectors: a point within rtol (relative) of one already
    counted joins it."""
    kept: list[np.ndarray] = []
    for point in points:
        scale = max(1.0, float(np.linalg.norm(point)))
        if all(np.linalg.norm(point - other) > rtol * scale for other in kept):
            kept.append(point)
    return len(kept)
