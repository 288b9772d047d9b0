"""Experiment kinds: the base every kind subclasses, the registry, and the unit of work.

A kind is a pydantic model of its options (a subclass of `lossbench.config.Experiment` whose
``kind`` is a ``Literal``) that also knows how to run: which units of work it makes (`tasks`),
how one runs (`run_task`, rows of ``trials.csv``), and which metric judges its losses
(`headline`, `compared`; class methods, as readers have only the summary). How its results
read (tables, sentences, figures) is `lossbench.report.kinds`'s business. Adding a kind is one
module with a subclass decorated by `register` (`lossbench.config.register`).
"""

from __future__ import annotations

import dataclasses
import math
import typing
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from lossbench.analysis.comparisons import ComparisonRow
from lossbench.config import KINDS as _REGISTERED
from lossbench.config import Config, Experiment, cap, register
from lossbench.errors import LossbenchError
from lossbench.experiments.datasets import DATASETS, Dataset
from lossbench.experiments.fitting import joint_refusal
from lossbench.losses import AnyLoss, Loss

__all__ = [
    "KINDS",
    "TRIAL_COLUMNS",
    "ExperimentKind",
    "Task",
    "TrialRow",
    "infer_kind",
    "kinds_of",
    "register",
]


@dataclass(frozen=True, slots=True)
class TrialRow:
    """One row of ``trials.csv``: one metric of one loss in one trial (`x`: the swept
    quantity, NaN where none is; `note`: why a value is missing, or what to know of it)."""

    experiment: str
    dataset: str
    loss: str
    trial: int
    metric: str
    value: float
    kind: str
    x: float = math.nan
    note: str = ""
    model: str = ""

    @staticmethod
    def to_frame(rows: Iterable[TrialRow | Mapping[str, Any]]) -> pd.DataFrame:
        """The rows as ``trials.csv``'s frame (`TRIAL_COLUMNS`); a kind registered from
        outside may give its rows as mappings of those columns."""
        records = [
            {name: getattr(row, name) for name in TRIAL_COLUMNS}
            if isinstance(row, TrialRow)
            else row
            for row in rows
        ]
        return pd.DataFrame(records, columns=TRIAL_COLUMNS)


TRIAL_COLUMNS = [field.name for field in dataclasses.fields(TrialRow)]


@dataclass(frozen=True)
class Task:
    """One unit of work: an experiment's trial on one dataset (picklable, for joblib)."""

    experiment: ExperimentKind
    losses: tuple[AnyLoss, ...]
    dataset: Dataset | None
    trial: int
    seed: int

    @property
    def data(self) -> Dataset:
        """The task's dataset, for the kinds that draw their trials from one (every kind but
        those that run on no data)."""
        if self.dataset is None:
            raise LossbenchError(f"{self.experiment.name} runs on no dataset")
        return self.dataset

    def elementwise(self) -> list[Loss]:
        """The task's losses, for the kinds that take elementwise losses only (`tasks`
        refuses the others for them)."""
        return [loss for loss in self.losses if isinstance(loss, Loss)]

    def rng(self, *salt: int) -> np.random.Generator:
        """The trial's own generator: a function of (seed, experiment, dataset, trial)."""
        label = self.dataset.label if self.dataset else ""
        entropy = [self.seed, _stable_hash(self.experiment.name), _stable_hash(label), self.trial]
        return np.random.default_rng(np.random.SeedSequence([*entropy, *salt]))

    def row(
        self,
        loss: str,
        metric: str,
        value: float,
        x: float = math.nan,
        note: str = "",
        model: str | None = None,
    ) -> TrialRow:
        """One row of ``trials.csv`` from this task (`model`: the experiment's first unless
        named)."""
        return TrialRow(
            self.experiment.name,
            self.dataset_label,
            loss,
            self.trial,
            metric,
            value,
            self.experiment.kind,
            x,
            note,
            self.experiment.model_name() if model is None else model,
        )

    @property
    def dataset_label(self) -> str:
        return self.dataset.label if self.dataset else self.experiment.no_dataset_label


def _stable_hash(text: str) -> int:
    return zlib.crc32(text.encode())  # Python's hash() differs from process to process


class ExperimentKind(Experiment):
    """The base of every experiment kind; subclasses set ``kind: Literal["name"] = "name"``."""

    dataset_task: ClassVar[str | None] = None
    """What datasets the kind takes: their task (None: any), and what it uses without one."""
    needs_truth: ClassVar[bool] = False
    """Datasets must know their true coefficients."""
    needs_dataset: ClassVar[bool] = True
    """False: one unit of work with no data (punishment)."""
    no_dataset_label: ClassVar[str] = ""
    """The dataset column of such a unit."""
    own_families: ClassVar[int] = 0
    """Families of verdicts `own_comparisons` makes per experiment (for `correction: run`)."""

    # -- running -------------------------------------------------------------------------------
    def default_datasets(self) -> list[Dataset]:
        """The datasets used when the config names none; an error if there are none."""
        return []

    def tasks(
        self, losses: tuple[AnyLoss, ...], datasets: list[Dataset], trials: int, seed: int
    ) -> list[Task]:
        """The units of work, in a fixed order: every trial of every dataset. Errors are
        located within the experiment (``datasets[1]``)."""
        for i, loss in enumerate(losses):
            if loss.over != "elements":  # cross_entropy: over rows of multiclass logits
                raise LossbenchError(
                    f"{loss} is for fit experiments on multiclass data; "
                    f"a {self.kind} experiment takes elementwise losses",
                    where=("losses", i),
                )
        if not self.needs_dataset:
            return [Task(self, losses, None, 0, seed)]
        for i, dataset in enumerate(datasets):
            if self.dataset_task is not None and dataset.task != self.dataset_task:
                raise LossbenchError(
                    where=("datasets", i),
                    message=f"{self.kind} needs a {self.dataset_task} dataset; "
                    f"{dataset.kind} is {dataset.task}",
                )
            if self.needs_truth and not dataset.truth:
                raise LossbenchError(
                    where=("datasets", i),
                    message=f"{self.kind} needs data with known true "
                    f"coefficients; {dataset.kind} has none",
                )
        datasets = datasets or self.default_datasets()
        if not datasets:
            raise LossbenchError(
                f"a {self.kind} experiment needs at least one dataset",
                where=("datasets",),
            )
        self.check_scale(losses, datasets)
        return [Task(self, losses, d, t, seed) for d in datasets for t in range(trials)]

    def check_scale(self, losses: tuple[AnyLoss, ...], datasets: list[Dataset]) -> None:
        """Refuse, before the run, a loss that cannot be fitted with ``fit.scale: joint``
        where a linear model is fitted to continuous targets (`fitting.joint_refusal`)."""
        if self.fit.scale != "joint" or not self.fits_linear_regression(datasets):
            return
        for i, loss in enumerate(losses):
            if why := joint_refusal(loss):
                raise LossbenchError(why, where=("losses", i))

    def remarks(self, losses: tuple[AnyLoss, ...], datasets: list[Dataset]) -> list[str]:
        """What a reader should know of these losses on these data (printed with the run's
        notes); none by default."""
        return []

    def fits_linear_regression(self, datasets: list[Dataset]) -> bool:
        """Whether this experiment fits a linear model to continuous targets."""
        return any(dataset.task == "regression" for dataset in datasets)

    def run_task(self, task: Task) -> list[TrialRow]:
        """The rows of one unit of work (see `Task.row`)."""
        raise NotImplementedError

    def model_name(self) -> str:
        """What this experiment fits its losses with ("linear", "gbm"); "" for a kind that
        fits no model."""
        return ""

    def quick(self) -> Self:
        """The same experiment, smaller: ≤ 3 trials where it sets its own, ≤ 200 samples and
        ≤ 500 test points for datasets that have those parameters."""
        small = self.model_copy(deep=True)
        if small.trials:
            small.trials = min(small.trials, 3)
        for spec in small.datasets:
            kind = spec.get("kind")
            known = DATASETS.get(kind) if isinstance(kind, str) else None
            for key, limit in (("n_samples", 200), ("n_test", 500)):
                if known is not None and key in known.parameters:
                    spec[key] = cap(spec.get(key, limit), limit)
        return small

    # -- judging results (class methods: a reader has the summary, not the options) ------------
    @classmethod
    def kind_name(cls) -> str:
        return cls.model_fields["kind"].default

    @classmethod
    def identifies(cls, metrics: set[str]) -> bool:
        """Whether a results table without a ``kind`` column (written before lossbench 0.2)
        holds this kind, judged by its metrics."""
        return False

    @classmethod
    def headline(cls, frame: pd.DataFrame) -> str | None:
        """The metric that judges this experiment's losses, or None."""
        return None

    @classmethod
    def compared(cls, frame: pd.DataFrame) -> list[str]:
        """The metrics on which each loss is compared with the baseline (``comparisons.csv``,
        each in families of its own); none by default."""
        return []

    @classmethod
    def own_comparisons(
        cls, trials: pd.DataFrame, margin: float, alpha: float
    ) -> list[ComparisonRow]:
        """Rows of ``comparisons.csv`` that this kind makes by a procedure of its own (decided
        at `alpha` a family: `lossbench.analysis.comparisons.decide`) from one experiment's
        trials; none by default (the paired comparisons of `compared` metrics are made for
        every kind)."""
        return []

    def compared_metrics(self, frame: pd.DataFrame) -> list[str]:
        """`compared`, as this experiment's options may choose (e.g. a fit's `score`)."""
        return self.compared(frame)


# the config's registry, as what it holds: experiment kinds (the config layer knows them only
# as configs)
KINDS = typing.cast("dict[str, type[ExperimentKind]]", _REGISTERED)


def kinds_of(config: Config) -> list[ExperimentKind]:
    """A validated config's experiments, as the kinds they were validated as."""
    return typing.cast("list[ExperimentKind]", config.experiments)


def infer_kind(metrics: set[str]) -> str:
    """The kind of an experiment in an old results file, from its metrics ("" if none fits)."""
    return next((name for name, cls in KINDS.items() if cls.identifies(metrics)), "")
