"""``restarts``: the seed's local-minima claim at network scale. The same network and data,
trained from ``restarts`` random initializations per loss; restart r of every loss starts
from the same weights and sees the same batches, so restarts pair across losses.

Training stops where optimization ends, not where a validation split would stop it: by
default no rows are held out and a restart has converged when its objective (the loss with
the weight decay's penalty, which gives it a finite optimum) stopped falling for
``model.patience`` epochs (`lossbench.experiments.mlp`).

Per restart (x = r): its ``final_objective``, whether it is ``stuck`` (its final objective
more than ``near`` (relative) above the best any restart of that loss found on that trial),
whether it ``converged``, and its held-out score (accuracy and log_loss; test_rmse for
regression). Per trial and loss: ``best_share`` (restarts within ``near`` of the best),
``stuck_share``, ``objective_spread`` (max − min final objective, relative to the best),
``score_spread`` (max − min held-out score) and ``distinct_solutions`` (restarts whose
predictions on the held-out points differ: another solution when more than 1% of its
predicted classes differ, or, in regression, its predictions differ by an RMS of more than
1% of the targets' spread).

The verdict ("mse gets stuck more often than bce", or the opposite, or neither) pairs the
restarts of each loss with the baseline's (`lossbench.analysis.restarts`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from lossbench.analysis.comparisons import ComparisonRow
from lossbench.config import MAX_TRIALS
from lossbench.errors import located
from lossbench.experiments.kind import ExperimentKind, Task, TrialRow, register
from lossbench.experiments.kinds.fit import CrossValidation, not_applicable, trial_sample
from lossbench.experiments.metrics import score
from lossbench.experiments.mlp import fit_mlp, require_torch
from lossbench.experiments.models import MlpModel
from lossbench.experiments.multiclass_scores import scores as multiclass_scores
from lossbench.losses.softmax import softmax

__all__ = ["RestartsExperiment", "distinct"]

# the restarts' network unless the config says otherwise: small and smooth, trained by L-BFGS
# (deterministic, full batch) until the gradient is 1e-5 of its start
NETWORK = {
    "hidden": (8,),
    "activation": "tanh",
    "optimizer": "lbfgs",
    "epochs": 3000,
    "validation": 0.0,
    "weight_decay": 1e-4,
}


@register
class RestartsExperiment(ExperimentKind):
    kind: Literal["restarts"] = "restarts"
    restarts: int = Field(20, ge=2, le=MAX_TRIALS)
    """Random initializations per loss and trial (restart r starts every loss from the same)."""
    model: MlpModel = Field(default_factory=lambda: MlpModel(**NETWORK))
    """The network (settings not given: `NETWORK`'s): by default full-batch L-BFGS on every
    training row to a stationary point of the loss plus a weight decay that gives it one."""
    near: float = Field(0.01, gt=0, lt=1)
    """A restart is near the best when its final objective is within this (relative) of it."""
    own_families: ClassVar[int] = 1  # stuck shares against the baseline: one family
    equivalence: float = Field(0.1, ge=0.0, lt=1.0)
    """The verdict's margin, in shares of restarts: stuck shares within ±0.1 are the same
    (equivalence within a 1% margin would take thousands of restarts)."""
    cv: CrossValidation = Field(default_factory=lambda: CrossValidation(repeats=1))
    """Data without truth (tables, sklearn): each trial is one fold."""

    @field_validator("model", mode="before")
    @classmethod
    def _over_defaults(cls, value: Any) -> Any:
        if isinstance(value, dict) and value.get("kind", "mlp") == "mlp":
            return {**NETWORK, **value}
        if value == "mlp":
            return dict(NETWORK)
        return value

    def tasks(self, losses, datasets, trials, seed):
        if not datasets:
            return super().tasks(losses, datasets, trials, seed)
        with located("model"):
            require_torch()
        units = []
        for i, dataset in enumerate(datasets):
            runs = trials
            if dataset.cross_validated:
                with located("datasets", i):
                    dataset.check_folds(self.cv.folds)
                runs = self.cv.folds * self.cv.repeats
            units += [Task(self, losses, dataset, t, seed) for t in range(runs)]
        return units

    def model_name(self) -> str:
        return "mlp"

    def quick(self) -> RestartsExperiment:
        small = super().quick()
        small.restarts = min(small.restarts, 5)
        small.cv.repeats = 1
        return small

    def run_task(self, task: Task) -> list[TrialRow]:
        dataset = task.data
        sample = trial_sample(task, self.cv)
        # one seed per restart, the same for every loss: the same weights and batches
        seeds = task.rng(2).integers(2**31 - 1, size=self.restarts)
        rows = []
        for loss in task.losses:
            label = str(loss)
            note = not_applicable(loss, dataset)
            if note:
                rows.append(task.row(label, "stuck_share", np.nan, note=note))
                continue
            rows += self._restarts(task, sample, loss, label, seeds)
        return rows

    def _restarts(self, task: Task, sample, loss, label: str, seeds):
        dataset, options = task.data, self.model.options()
        classes = getattr(dataset, "classes", 0) if dataset.task == "multiclass" else 0
        y = sample.y.astype(np.int64) if classes else sample.y
        finals, converged, outputs, scores = [], [], [], []
        for seed in seeds:
            fitted = fit_mlp(
                loss,
                sample.X,
                y,
                dataset.task,
                options,
                int(seed),
                classes=classes,
                scale=self.fit.scale,
            )
            finals.append(fitted.objective)
            converged.append(fitted.converged)
            outputs.append(fitted.predict(sample.X_test))
            # task.rng(1) restarts its stream: the same drawn test labels for every restart
            scores.append(_held_out(fitted, sample, dataset.task, task.rng(1)))
        objectives = np.array(finals)
        best = float(np.nanmin(objectives)) if np.isfinite(objectives).any() else np.nan
        stuck = ~(objectives <= best + self.near * abs(best))
        rows = []
        for r, (final, settled, own) in enumerate(zip(objectives, converged, scores, strict=True)):
            values = {
                "final_objective": float(final),
                "stuck": float(stuck[r]),
                "converged": float(settled),
                **own,
            }
            rows += [task.row(label, metric, value, x=r) for metric, value in values.items()]
        headline = next(iter(scores[0]))
        held = np.array([each[headline] for each in scores])
        rows += [
            task.row(label, "best_share", float(np.mean(~stuck))),
            task.row(label, "stuck_share", float(np.mean(stuck))),
            task.row(
                label,
                "objective_spread",
                float((objectives.max() - best) / abs(best)) if best else np.nan,
            ),
            task.row(label, "score_spread", float(np.nanmax(held) - np.nanmin(held))),
            task.row(
                label, "distinct_solutions", float(distinct(outputs, dataset.task, _truth(sample)))
            ),
        ]
        return rows

    # -- reading -------------------------------------------------------------------------------
    @classmethod
    def identifies(cls, metrics: set[str]) -> bool:
        return "distinct_solutions" in metrics

    @classmethod
    def headline(cls, frame: pd.DataFrame) -> str | None:
        return "stuck_share"

    @classmethod
    def own_comparisons(
        cls, trials: pd.DataFrame, margin: float, alpha: float
    ) -> list[ComparisonRow]:
        from lossbench.analysis import restarts

        return restarts.compare(trials, margin, alpha)


def _held_out(fitted, sample, task: str, rng: np.random.Generator) -> dict[str, float]:
    """The restart's held-out score, as a fit's (`metrics.score`, `multiclass_scores`):
    accuracy and log loss, or RMSE against what the data knows of the truth."""
    if task == "multiclass":
        values = multiclass_scores(
            sample.y_test.astype(np.int64), softmax(fitted.predict(sample.X_test))
        )
    else:
        values, _ = score(fitted, sample, task, rng)
    kept = ("test_rmse",) if task == "regression" else ("accuracy", "log_loss")
    return {metric: values[metric] for metric in kept}


def _truth(sample) -> np.ndarray:
    """The held-out target regression predictions are told apart on: noise-free if known."""
    return sample.f_test if sample.f_test is not None else sample.y_test


def distinct(outputs: list[np.ndarray], task: str, y_test: np.ndarray) -> int:
    """How many different solutions the restarts' predictions on the held-out points are: a
    restart joins the first kept one whose predicted classes agree on 99% of the points (in
    regression: whose predictions are within an RMS of 1% of the targets' spread)."""
    if task == "regression":
        tolerance = 0.01 * float(np.std(y_test)) or 1e-12

        def same(a, b):
            return np.sqrt(np.mean((a - b) ** 2)) <= tolerance

        kept_values = outputs
    else:
        kept_values = [out.argmax(axis=1) if out.ndim == 2 else out >= 0 for out in outputs]

        def same(a, b):
            return np.mean(a != b) <= 0.01

    kept: list[np.ndarray] = []
    for values in kept_values:
        if not any(same(values, other) for other in kept):
            kept.append(values)
    return len(kept)
