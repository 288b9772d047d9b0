"""``fit``: datasets × losses × trials; each trial fits every loss on the same data and scores
it with `lossbench.experiments.metrics`.

A loss that needs labels on continuous targets is reported "n/a" with the reason. With
``fit.method: gd`` the objective curve is kept too (metric ``objective``, x = iteration, at most
50 log-spaced points). The table shows the headline metric (`metrics.headline`) per dataset and
loss, and a verdict per dataset compares each loss with the experiment's first
(`lossbench.report.kinds.fit` reads them).
"""

from __future__ import annotations

import math
import time
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from lossbench.config import MAX_TRIALS
from lossbench.errors import LossbenchError, located
from lossbench.experiments import multiclass_scores
from lossbench.experiments.fitting import FitResult, fit
from lossbench.experiments.gbm import fit_gbm_multiclass, fitted, require_lightgbm
from lossbench.experiments.kind import ExperimentKind, Task, TrialRow, register
from lossbench.experiments.metrics import (
    FIT,
    METRICS,
    REGRESSION,
    headline,
    score,
    scores_of,
)
from lossbench.experiments.mlp import MlpFit, fit_mlp, require_torch
from lossbench.experiments.models import GbmModel, MlpModel, Model, expanded, model_names
from lossbench.experiments.multinomial import MultinomialFit, fit_multinomial
from lossbench.experiments.separation import separated
from lossbench.losses import Loss
from lossbench.losses.builtin import Huber
from lossbench.losses.softmax import softmax

__all__ = [
    "REAL_REGRESSION_SCORES",
    "CrossValidation",
    "FitExperiment",
    "not_applicable",
    "trial_sample",
]

# what real regression data are judged on when no score is named: test_mae rewards the losses
# aimed at the median, test_rmse those aimed at the mean, so neither judges alone
REAL_REGRESSION_SCORES = ("test_rmse", "test_mae")
_SEPARATED = "the classes are separable: the fit has no finite maximum-likelihood solution"


def not_applicable(loss, dataset) -> str:
    """Why `loss` cannot be fitted to `dataset` ("" if it can)."""
    if loss.labels and dataset.task == "regression":
        return f"n/a: {loss.name} needs labels in [0, 1], and these targets are continuous"
    if loss.over == "rows" and dataset.task == "classification":
        return "n/a: cross_entropy is for three classes or more; on two, bce_logits is it"
    if dataset.task == "multiclass" and loss.prediction == "logit":
        return (
            f"n/a: {loss.name} is a two-class loss on one logit; cross_entropy is its "
            "multiclass form"
        )
    return ""


def trial_sample(task: Task, cv: CrossValidation):
    """A trial's data: fold `task.trial` of the repeated split for data without truth, else
    a fresh draw from the trial's generator."""
    if task.data.cross_validated:
        return task.data.split(task.trial, cv.folds, task.seed)
    return task.data.sample(task.rng())


class CrossValidation(BaseModel):
    """Repeated K-fold cross-validation for data without ground truth."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    folds: int = Field(5, ge=2, le=MAX_TRIALS)
    """Folds per repeat: each trial holds one out (stratified for classes)."""
    repeats: int = Field(10, ge=1, le=MAX_TRIALS)
    """Reshuffled repeats of the folds."""

    @model_validator(mode="after")
    def _bounded(self) -> CrossValidation:
        if self.folds * self.repeats > MAX_TRIALS:
            raise ValueError(
                f"folds × repeats = {self.folds * self.repeats:,}: at most {MAX_TRIALS:,} "
                "trials per dataset"
            )
        return self


@register
class FitExperiment(ExperimentKind):
    kind: Literal["fit"] = "fit"
    model: Model | list[Model] = "linear"
    """The model each loss is fitted with: linear (logistic for labels), gradient-boosted
    trees, {kind: gbm, ...} (the gbm extra), or a neural network, {kind: mlp, ...} (nn) (a
    list, or lists of gbm or mlp settings, is a grid: every loss fitted with each model on the
    same trials, compared within each model and across models for the same loss)."""
    cv: CrossValidation = Field(default_factory=CrossValidation)
    """Data without truth (tables, sklearn): each trial is one fold, the same for every loss."""
    score: str | list[str] | None = None
    """The metric that decides which loss is better (default: coef_error on synthetic data,
    both test_rmse and test_mae on real regression data — each favours a different loss —,
    log_loss on classification); a list: each score decides on its own (its own families,
    corrected on their own)."""

    @field_validator("model", mode="before")
    @classmethod
    def _models(cls, value: Any) -> Any:
        if isinstance(value, list):
            if not value:
                raise ValueError("an empty list makes nothing to run")
            chosen = [model for entry in value for model in expanded(entry)]
            return chosen if len(chosen) > 1 else chosen[0]
        chosen = expanded(value)
        return chosen if len(chosen) > 1 else chosen[0]

    @model_validator(mode="after")
    def _distinct_models(self) -> FitExperiment:
        names = self.model_names()
        repeated = next((n for i, n in enumerate(names) if n in names[:i]), None)
        if repeated is not None:
            raise ValueError(f"model {repeated} is named twice: its trials would be pooled")
        return self

    @field_validator("score")
    @classmethod
    def _known_metric(cls, value: str | list[str] | None) -> str | list[str] | None:
        named = value if isinstance(value, list) else [] if value is None else [value]
        if isinstance(value, list) and not value:
            raise ValueError("an empty list names no score; leave score out for the default")
        for metric in named:
            if metric not in METRICS:
                raise ValueError(f"unknown metric {metric!r}; see `lossbench list metrics`")
            if named.count(metric) > 1:
                raise ValueError(f"{metric} is named twice")
        return value

    def scores(self) -> list[str]:
        """The scores the config names (none: each dataset's default)."""
        return (
            []
            if self.score is None
            else [self.score]
            if isinstance(self.score, str)
            else (list(self.score))
        )

    def tasks(self, losses, datasets, trials, seed):
        if not datasets:
            return super().tasks(losses, datasets, trials, seed)
        if any(isinstance(model, GbmModel) for model in self.models()):
            with located("model"):
                require_lightgbm()  # before the run, not in its first trial
        if any(isinstance(model, MlpModel) for model in self.models()):
            with located("model"):
                require_torch()
        self.check_scale(losses, datasets)
        units = []
        for i, dataset in enumerate(datasets):
            possible = scores_of(dataset.task, dataset.truth, dataset.cross_validated)
            for chosen in self.scores():
                if chosen not in possible:
                    with located("score"):
                        raise LossbenchError(
                            f"{chosen} cannot judge fits on {dataset.label} ({dataset.task}"
                            f"{'' if dataset.truth else ', no true coefficients'}); use one of "
                            f"{', '.join(possible)}"
                        )
            runs = trials
            if dataset.cross_validated:  # each trial is a fold
                with located("datasets", i):
                    dataset.check_folds(self.cv.folds)
                runs = self.cv.folds * self.cv.repeats
            units += [Task(self, losses, dataset, t, seed) for t in range(runs)]
        return units

    def models(self) -> list[Model]:
        """The models each loss is fitted with, in the order given."""
        return list(self.model) if isinstance(self.model, list) else [self.model]

    def remarks(self, losses, datasets) -> list[str]:
        """A robust loss on probabilities whose δ covers every residual (|y − p| ≤ 1 ≤ δ) is
        ½ mse there: the same fit as mse, said so (the default config keeps huber's δ = 1 on
        labels on purpose, to show a robust loss has nothing to clip)."""
        if not any(dataset.task == "classification" for dataset in datasets):
            return []
        said = []
        for loss in losses:
            name = loss.scale_parameter
            if isinstance(loss, Huber) and loss.params[name] >= 1:
                said.append(
                    f"{loss} on probabilities is mse's estimator (|y − p| ≤ 1 ≤ {name}:"
                    f" every residual on its quadratic part), so it fits what mse fits;"
                    f" a {name} below 1 makes it clip"
                )
        return said

    def fits_linear_regression(self, datasets) -> bool:
        return "linear" in self.models() and super().fits_linear_regression(datasets)

    def model_names(self) -> list[str]:
        """Each model's name: linear, gbm, and for several gbms the settings that tell them
        apart (``gbm(num_leaves=15)``)."""
        return model_names(self.models())

    def model_name(self) -> str:
        return self.model_names()[0]

    def quick(self) -> FitExperiment:
        small = super().quick()
        small.cv.repeats = 1  # cross-validated data: one pass over the folds
        return small

    def compared_metrics(self, frame: pd.DataFrame) -> list[str]:
        return self.scores() or self.compared(frame)

    def run_task(self, task: Task) -> list[TrialRow]:
        dataset = task.data
        sample = trial_sample(task, self.cv)
        coded = None  # trees split on a text column's levels: its codes, not indicators
        if getattr(dataset, "texts", None) and any(
            isinstance(model, GbmModel) for model in self.models()
        ):
            coded = dataset.split(task.trial, self.cv.folds, task.seed, categorical=True)
        rows = []
        # every model sees the same sample: the trials pair across models as across losses
        for model, name in zip(self.models(), self.model_names(), strict=True):
            mine = coded if coded is not None and isinstance(model, GbmModel) else sample
            rows += self._fits(task, mine, model, name)
        return rows

    def _fits(self, task: Task, sample, model, name: str) -> list[TrialRow]:
        dataset, options = task.data, self.fit
        linear = "logistic" if dataset.task == "classification" else "linear"
        # separable labels: no finite maximum-likelihood fit, said once per trial (trees
        # boost a fixed number of rounds, networks stop early: separable labels leave them
        # finite)
        boosted, network = isinstance(model, GbmModel), isinstance(model, MlpModel)
        split = linear == "logistic" and model == "linear" and separated(sample.X, sample.y)

        def row(label, metric, value, x=math.nan, note=""):
            return task.row(label, metric, value, x=x, note=note, model=name)

        rows = []
        for loss in task.losses:
            label = loss.fit_label(options.scale, dataset.task)
            note = not_applicable(loss, dataset)
            if note:
                rows += [row(label, m, math.nan, note=note) for m in REGRESSION]
                continue
            if dataset.task == "multiclass":
                rows += self._multinomial(task, sample, loss, label, row, model)
                continue
            assert isinstance(loss, Loss), "not_applicable: over rows is for multiclass data only"
            result: FitResult
            if boosted:
                result = fitted(
                    loss,
                    sample.X,
                    sample.y,
                    dataset.task,
                    model.options(),
                    _seed(task),
                    options.scale,
                    sample.categorical,
                )
            elif network:
                result = fit_mlp(
                    loss,
                    sample.X,
                    sample.y,
                    dataset.task,
                    model.options(),
                    _seed(task),
                    scale=options.scale,
                )
            else:
                result = fit(
                    loss,
                    sample.X,
                    sample.y,
                    model=linear,
                    method=options.method,
                    max_iter=options.max_iter,
                    tol=options.tol,
                    lr=options.lr,
                    scale=options.scale,
                    l2=options.l2,
                )
            # classification: the same fresh labels for every loss; task.rng(1) restarts a stream
            values, notes = score(result, sample, dataset.task, task.rng(1))
            if boosted or network:
                for metric in ("coef_error", "coef_cosine"):
                    if metric in values:
                        values[metric] = math.nan
                        notes[metric] = (
                            f"n/a: {'trees have' if boosted else 'a network has'} no coefficients"
                        )
            elif linear == "logistic":
                values["separated"] = float(split)
                if split and not options.l2:  # the optimum is at infinity: not converged
                    values["converged"] = 0.0
                    notes["converged"] = _SEPARATED
                if split:
                    values["coef_cosine"] = math.nan
                    notes["coef_cosine"] = f"n/a: {_SEPARATED}"
                    notes["separated"] = _SEPARATED
            rows += [
                row(label, metric, value, note=notes.get(metric, ""))
                for metric, value in values.items()
            ]
            rows += [
                row(label, "objective", result.curve[i], x=i)
                for i in _curve_points(len(result.curve))
            ]
            rows += self._fold_sizes(task, sample, label, row)
        return rows

    def _multinomial(self, task: Task, sample, loss, label, row, model) -> list[TrialRow]:
        """One loss fitted by multinomial logistic regression, boosted with K trees a round or
        trained as a network, scored on the held-out fold."""
        options, classes = self.fit, task.data.classes
        labels = sample.y.astype(np.int64)
        if isinstance(model, GbmModel):
            began = time.perf_counter()
            booster = fit_gbm_multiclass(
                loss, sample.X, labels, classes, model.options(), _seed(task), sample.categorical
            )
            logits, note = booster.raw(sample.X_test), ""
            how = {
                "iterations": float(model.options().n_estimators),
                "converged": 1.0,
                "fit_seconds": time.perf_counter() - began,
            }
        else:
            result: MlpFit | MultinomialFit
            if isinstance(model, MlpModel):
                result = fit_mlp(
                    loss,
                    sample.X,
                    labels,
                    "multiclass",
                    model.options(),
                    _seed(task),
                    classes=classes,
                )
            else:
                result = fit_multinomial(
                    loss,
                    sample.X,
                    labels,
                    classes,
                    l2=options.l2,
                    max_iter=options.max_iter,
                    tol=options.tol,
                )
            logits, note = result.predict(sample.X_test), result.note
            how = {
                "iterations": float(result.iterations),
                "converged": float(result.converged),
                "fit_seconds": result.seconds,
            }
            if isinstance(result, MultinomialFit):
                how["separated"] = float(result.separated)
        values = multiclass_scores.scores(sample.y_test.astype(np.int64), softmax(logits))
        notes = {"converged": note} if note else {}
        rows = [row(label, m, v, note=notes.get(m, "")) for m, v in {**values, **how}.items()]
        return rows + self._fold_sizes(task, sample, label, row)

    @staticmethod
    def _fold_sizes(task: Task, sample, label: str, row) -> list[TrialRow]:
        """The fold's sizes, for the corrected resampled t-test (none without folds)."""
        if not task.data.cross_validated:
            return []
        return [
            row(label, "n_train", float(len(sample.y))),
            row(label, "n_test", float(len(sample.y_test))),
        ]

    # -- reading -------------------------------------------------------------------------------
    @classmethod
    def identifies(cls, metrics: set[str]) -> bool:
        return bool(set(FIT) & metrics)

    @classmethod
    def headline(cls, frame: pd.DataFrame) -> str | None:
        return headline(frame.loc[frame["mean"].notna(), "metric"]) or headline(frame["metric"])

    @classmethod
    def compared(cls, frame: pd.DataFrame) -> list[str]:
        metric = cls.headline(frame)
        if metric == "test_mae" and "test_rmse" in set(frame["metric"]):
            return list(REAL_REGRESSION_SCORES)  # each decides in its own family
        return [metric] if metric else []


def _seed(task: Task) -> int:
    """The seed of a trial's trees or network: the same for every loss and model."""
    return int(task.rng(2).integers(2**31 - 1))


def _curve_points(length: int, most: int = 50) -> list[int]:
    """Iterations at which to keep a convergence curve: all if few, else log-spaced."""
    if length <= most:
        return list(range(length))
    return sorted({0, length - 1, *np.unique(np.geomspace(1, length - 1, most - 1).astype(int))})
