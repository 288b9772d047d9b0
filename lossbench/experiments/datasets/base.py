"""The dataset base: `Dataset`, its parameters (`Param`), one trial's data (`Sample`), the
registry (`DATASETS`, `register`) and `expand`, a config entry to datasets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from lossbench import system
from lossbench.errors import LossbenchError, located
from lossbench.losses.labels import format_label, grid
from lossbench.params import Range

__all__ = ["DATASETS", "Choice", "Dataset", "Param", "Sample", "expand", "register"]


@dataclass(frozen=True)
class Param:
    """A dataset parameter: its default and the range a value must lie in."""

    default: float | int
    low: float
    high: float
    expected: str  # the range in words, for errors: "a number > 0"
    integer: bool = False

    def check(self, value: Any) -> float | int:
        """The value as this parameter's type; a `LossbenchError` if it is not."""
        return Range(self.low, self.high, self.expected, integer=self.integer).check(value)


@dataclass(frozen=True)
class Choice:
    """A dataset parameter that names one of a few `options` (a target function, say)."""

    default: str
    options: tuple[str, ...]

    def check(self, value: Any) -> str:
        if not isinstance(value, str) or value not in self.options:
            raise LossbenchError(f"expected one of {', '.join(self.options)}; got {value!r}")
        return value


@dataclass(frozen=True)
class Sample:
    """One trial's data: train (X, y) and test points X_test, with what is known of them.

    `f_test` is the noise-free target on X_test (regression) or the true P(y = 1 | x) with
    label flips included (classification); `coef` and `intercept` are the true parameters.
    Each is None when the dataset does not know it (real data); `y_test` then holds the
    observed test targets."""

    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    f_test: np.ndarray | None = None
    coef: np.ndarray | None = None
    intercept: float | None = None
    y_test: np.ndarray | None = None
    categorical: tuple[int, ...] = ()  # columns of X holding a text column's level codes


class Dataset:
    """A dataset kind with every parameter resolved to one value. Subclasses set `kind`,
    `summary`, `task`, `truth`, `parameters` (in label order) and `shown` (the parameters a
    label always names), and implement `sample`."""

    kind: ClassVar[str]
    summary: ClassVar[str]
    task: str = "regression"  # or "classification" (two classes), "multiclass"
    truth: bool = True  # knows the true coefficients and a noise-free test target
    # a fixed sample (real data): trials are cross-validation folds (`split`), not fresh draws
    cross_validated: ClassVar[bool] = False
    # what verdicts compare unless the experiment says: the median where a metric may have no
    # mean (MSE's coefficient error under Cauchy noise), else the mean
    statistic: ClassVar[str] = "mean"
    parameters: ClassVar[dict[str, Param | Choice]] = {}
    shown: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: dict[str, Any], label: str | None = None) -> None:
        self.params = {**{k: p.default for k, p in self.parameters.items()}, **params}
        self.label = label or self.kind
        self.info: dict[str, Any] = {}  # where the data came from, for run.json
        self.notes: list[str] = []  # said once per run
        self.resolved: dict[str, Any] = {}  # settings the resolved config records (a path)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.params == self.params

    def __hash__(self) -> int:
        return hash((self.kind, tuple(sorted(self.params.items()))))

    def __repr__(self) -> str:
        return f"<dataset {self.label}>"

    def working_set(self) -> int:
        """Bytes one trial holds at its peak, about: its train and test data and some three
        copies of them while fitting (standardized data, the fit's temporaries)."""
        rows = self.params.get("n_samples", 0) + self.params.get("n_test", 0)
        return 4 * 8 * int(rows) * (int(self.params.get("n_features", 1)) + 1)

    def sample(self, rng: np.random.Generator) -> Sample:
        """Draw one trial's data from `rng` (the trial's own generator)."""
        raise NotImplementedError

    def split(self, trial: int, folds: int, seed: int, categorical: bool = False) -> Sample:
        """Fold `trial` of the repeated `folds`-fold split (the `cross_validated` kinds): a
        text column's levels as codes with `categorical`, else as indicators."""
        raise NotImplementedError

    @property
    def classes(self) -> int:
        """The number of classes (multiclass kinds)."""
        raise NotImplementedError

    @classmethod
    def described_parameters(cls) -> str:
        """The parameters with their defaults, for `lossbench list datasets`."""
        own = [k for k in cls.parameters if k in cls.shown]
        ordered = [*own, *(k for k in cls.parameters if k not in own)]
        return ", ".join(f"{k}={cls.parameters[k].default}" for k in ordered)

    @classmethod
    def expand(
        cls, spec: dict[str, Any], where: tuple[str | int, ...] = (), base: Path | None = None
    ) -> list[Dataset]:
        """The datasets of a config entry of this kind: numeric parameters, a list being a grid
        (one dataset per combination). Kinds with other parameters override this."""
        allowed = cls.parameters
        given = {k: v for k, v in spec.items() if k != "kind"}
        unknown = sorted(set(given) - set(allowed), key=str)
        if unknown:
            raise LossbenchError(
                f"{cls.kind} has no parameter {unknown[0]!r}; expected {', '.join(allowed)}",
                where=where,
            )
        checked = {}
        for key, value in given.items():
            values = value if isinstance(value, list) else [value]
            with located(*where, key):
                checked[key] = [allowed[key].check(v) for v in values]
        # a label names its kind's own parameters, a grid's, and a choice made (target=...)
        shown = [
            k
            for k in allowed
            if k in cls.shown
            or len(checked.get(k, ())) > 1
            or (
                isinstance(allowed[k], Choice)
                and checked.get(k, [allowed[k].default]) != [allowed[k].default]
            )
        ]
        datasets = []
        with located(*where):
            combinations = grid(checked)
        for combo in combinations:
            params = {**{k: p.default for k, p in allowed.items()}, **combo}
            label = format_label(cls.kind, {k: params[k] for k in shown}, number=_format)
            with located(*where):
                datasets.append(cls(params, label))
        return datasets


DATASETS: dict[str, type[Dataset]] = {}


def register(cls: type[Dataset]) -> type[Dataset]:
    """Class decorator: make a dataset kind available to configs under `cls.kind`."""
    DATASETS[cls.kind] = cls
    return cls


def expand(
    spec: dict[str, Any], where: tuple[str | int, ...] = (), base: Path | None = None
) -> list[Dataset]:
    """The datasets a config entry names: one per combination of its list-valued parameters.

    `where` locates the entry in errors (``("experiments", 0, "datasets", 1)``); `base` is
    the directory relative paths in it are relative to (the config file's; default: the
    working directory).
    """
    if not isinstance(spec, dict) or "kind" not in spec:
        raise LossbenchError(f"expected a mapping with a 'kind'; got {spec!r}")
    kind = spec["kind"]
    cls = DATASETS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise LossbenchError(
            where=(*where, "kind"),
            message=f"unknown dataset {kind!r}; expected one of {', '.join(DATASETS)}",
        )
    datasets = cls.expand(spec, where, base)
    for dataset in datasets:
        need, available = dataset.working_set(), system.available_memory()
        if need > available:
            raise LossbenchError(
                where=where,
                message=f"{dataset.label} needs about {need / 1e9:.1f} GB for one trial; "
                f"{available / 1e9:.1f} GB are available; lower n_samples or n_features",
            )
    return datasets


def _format(value: float | int | str) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else repr(value)
