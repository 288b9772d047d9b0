"""``landscape``: a single sigmoid unit fitted from ``starts`` random starts (coefficients
~ N(0, start_scale²)) on data where squared error is not convex.

Per loss: the number of distinct end points (``distinct_minima``: objectives that differ by more
than 1e-6 relative), the spread of final objectives and the share of starts that reach the best
one, plus each start's ``final_objective``. For squared error the end points are a finite local
minimum, the infimum approached as the sigmoid turns into a step, and plateaus where a saturated
sigmoid leaves no gradient; for cross-entropy on the logit, the one minimum of a convex
objective.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import PositiveFloat, PositiveInt

from lossbench.experiments.datasets import Dataset, Param, Sample
from lossbench.experiments.fitting import fit
from lossbench.experiments.kind import ExperimentKind, Task, register

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
    parameters: ClassVar[dict[str, Param]] = {
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
    starts: PositiveInt = 40  # random starts per trial
    start_scale: PositiveFloat = 10.0  # the spread of their coefficients

    dataset_task = "classification"

    def default_datasets(self) -> list[Dataset]:
        return [TwoSlopes({}, "two-slopes")]

    def quick(self) -> LandscapeExperiment:
        small = super().quick()
        small.starts = min(small.starts, 10)
        return small

    def run_task(self, task: Task) -> list[dict[str, Any]]:
        rng = task.rng()
        sample = task.dataset.sample(rng)
        X, y = sample.X, sample.y
        starts = rng.normal(0.0, self.start_scale, (self.starts, X.shape[1] + 1))
        options = self.fit
        rows = []
        for loss in task.losses:
            finals = []
            for s, theta0 in enumerate(starts):
                result = fit(
                    loss, X, y, model="logistic", method=options.method,
                    max_iter=options.max_iter, tol=options.tol, lr=options.lr, theta0=theta0,
                )  # fmt: skip
                finals.append(result.objective)
                rows.append(task.row(str(loss), "final_objective", result.objective, x=s))
            finals = np.array(finals)
            best_share = float(np.mean(finals <= finals.min() * (1 + 1e-6) + 1e-12))
            rows += [
                task.row(str(loss), "distinct_minima", float(_distinct(finals))),
                task.row(str(loss), "objective_spread", float(finals.max() - finals.min())),
                task.row(str(loss), "best_share", best_share),
            ]
        return rows

    @classmethod
    def identifies(cls, metrics: set[str]) -> bool:
        return "distinct_minima" in metrics

    @classmethod
    def render(cls, experiment: str, frame: pd.DataFrame, comparisons: pd.DataFrame) -> list[Any]:
        from rich.markup import escape
        from rich.table import Table

        from lossbench.report.terminal import fmt

        table = Table(
            title=f"{experiment}: a sigmoid unit from random starts (mean over trials)",
            title_justify="left",
        )
        columns = ("loss", "distinct end points", "objective spread", "share reaching the best")
        for column in columns:
            table.add_column(column, justify="left" if column == "loss" else "right")
        for loss, rows in frame.groupby("loss", sort=False):
            get = rows.set_index("metric")["mean"]
            table.add_row(
                escape(loss), fmt(get.get("distinct_minima", np.nan)),
                fmt(get.get("objective_spread", np.nan)), f"{get.get('best_share', np.nan):.0%}",
            )  # fmt: skip
        return [table]

    @classmethod
    def figures(cls, experiment, frame, trials, palette) -> dict[str, Any]:
        return {cls.figure_name(experiment): _figure(experiment, trials, palette)}


def _distinct(values: np.ndarray, rtol: float = 1e-6) -> int:
    """How many clusters the sorted values form, neighbours within rtol joining one."""
    ordered = np.sort(values)
    gaps = np.diff(ordered) > rtol * np.maximum(1.0, np.abs(ordered[1:]))
    return int(1 + np.count_nonzero(gaps))


def _figure(experiment: str, trials: pd.DataFrame, palette):
    """One panel per loss, each on its own scale: the end points differ by little in absolute
    terms (squared error's minima 0.227 vs 0.234 here) and would vanish on a shared axis."""
    from lossbench.report.plots import new_figure

    rows = trials[(trials["experiment"] == experiment) & (trials["metric"] == "final_objective")]
    groups = list(rows.groupby("loss", sort=False))
    figure, axes = new_figure(4.5 * max(1, len(groups)), 4.4, columns=max(1, len(groups)))
    for ax, (loss, mine) in zip(axes, groups, strict=False):
        first = mine[mine["trial"] == mine["trial"].min()].sort_values("value")
        ax.plot(
            np.arange(len(first)), first["value"], marker="o", ms=4, lw=1.5,
            color=palette(loss), label=loss,
        )  # fmt: skip
        ax.ticklabel_format(axis="y", useOffset=False)
        low, high = first["value"].min(), first["value"].max()
        if high - low <= 1e-6 * max(1.0, abs(high)):  # one minimum: do not zoom into rounding
            ax.set_ylim(low - 0.02 * abs(low) - 1e-9, high + 0.02 * abs(high) + 1e-9)
            ax.annotate(
                "all starts end at one minimum", (0.5, 0.85), xycoords="axes fraction", ha="center"
            )
        ax.set(
            title=loss,
            xlabel="start (sorted by final objective)",
            ylabel="final objective (loss units)",
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
    figure.suptitle(
        f"{experiment}: final objective of each random start (first trial)", fontsize=13
    )
    return figure
