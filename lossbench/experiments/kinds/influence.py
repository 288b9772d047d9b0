"""``influence``: clean data plus one point whose residual sweeps ``offsets`` (units of σ); the
shift of the fitted parameters per loss (unbounded for MSE, bounded for Huber)."""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from lossbench.experiments.datasets import Dataset, expand
from lossbench.experiments.fitting import fit
from lossbench.experiments.kind import ExperimentKind, Task, TrialRow, register
from lossbench.experiments.kinds.fit import not_applicable

__all__ = ["InfluenceExperiment"]


@register
class InfluenceExperiment(ExperimentKind):
    kind: Literal["influence"] = "influence"
    offsets: list[Annotated[float, Field(ge=-1e6, le=1e6)]] = Field(
        default_factory=lambda: [float(x) for x in range(0, 101, 5)], min_length=1
    )
    """Where the one moving point's residual goes, in units of the noise σ."""

    dataset_task = "regression"
    needs_truth = True  # the moving point sits at a known distance from the true line

    def default_datasets(self) -> list[Dataset]:
        return expand({"kind": "gaussian", "n_samples": 100, "n_features": 1})

    def quick(self) -> InfluenceExperiment:
        small = super().quick()
        if len(small.offsets) > 6:
            small.offsets = small.offsets[::4]
        return small

    def run_task(self, task: Task) -> list[TrialRow]:
        dataset, options = task.data, self.fit
        rng = task.rng()
        sample = dataset.sample(rng)
        assert sample.coef is not None and sample.intercept is not None, "synthetic: has truth"
        x_moving = rng.standard_normal(sample.X.shape[1])
        clean = float(x_moving @ sample.coef + sample.intercept)
        X = np.vstack([sample.X, x_moving])
        rows = []
        for loss in task.elementwise():
            label = loss.fit_label(options.scale, dataset.task)
            note = not_applicable(loss, dataset)
            if note:
                rows.append(task.row(label, "coef_shift", math.nan, note=note))
                continue
            baseline = None
            for offset in self.offsets:
                y = np.append(sample.y, clean + offset * dataset.params["noise"])
                result = fit(
                    loss,
                    X,
                    y,
                    method=options.method,
                    max_iter=options.max_iter,
                    tol=options.tol,
                    lr=options.lr,
                    theta0=baseline,
                    scale=options.scale,
                    l2=options.l2,
                )
                if baseline is None:
                    baseline = result.theta
                shift = float(np.linalg.norm(result.theta - baseline))
                rows.append(task.row(label, "coef_shift", shift, x=offset))
        return rows

    @classmethod
    def identifies(cls, metrics: set[str]) -> bool:
        return "coef_shift" in metrics
