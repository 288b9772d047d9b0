"""The config schema (docs/reference/config.md is generated from it): pydantic models of a
run, its timing section and the options every experiment has, and the registry experiment
kinds register into.

An experiment kind (`lossbench.experiments.kinds`) subclasses `Experiment` with its own options
and a ``kind: Literal["name"]``, and is made known with `register`; a config's experiments are
validated as the kind they name, looked up in `KINDS` at validation time, so a kind registered
at run time validates like a built-in one. Importing `lossbench.experiments` registers the
built-in kinds.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveInt,
    PrivateAttr,
    SerializeAsAny,
    create_model,
    field_validator,
    model_validator,
)

__all__ = [
    "KINDS",
    "MAX_TRIALS",
    "Config",
    "Experiment",
    "FitOptions",
    "PyperfOptions",
    "Timing",
    "register",
]

# trials (or cross-validation folds × repeats) per dataset: a million rows of trials.csv per
# metric; beyond it a run would take days and build its plan for minutes first
MAX_TRIALS = 100_000


class _Strict(BaseModel):
    # no setting is infinite; a field's docstring is its description (the config reference)
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, use_attribute_docstrings=True)


class FitOptions(_Strict):
    """How models are fitted: L-BFGS (default; exact solvers for linear mse and mae) or
    gradient descent, with an optional ridge penalty."""

    method: Literal["lbfgs", "gd"] = "lbfgs"
    """The optimizer: L-BFGS, or gradient descent (linear mse and mae fits are exact either
    way: least squares and linear programming)."""
    max_iter: int = Field(1000, ge=1, le=10**7)
    """Iterations before a fit is called unconverged (no verdict from it)."""
    tol: float = Field(1e-10, gt=0, lt=1)
    """Convergence: the gradient's size relative to its start."""
    lr: float | None = Field(None, gt=0, le=1e3)
    """gd's fixed step (the data are standardized: a step beyond a few diverges); none: search."""
    scale: Literal["mad", "joint", "fixed"] = "mad"
    """Robust losses' δ in linear fits: in units of the residuals' MAD scale (mad), of a scale
    fitted jointly (joint, L-BFGS only), or of y itself (fixed)."""
    l2: float = Field(0.0, ge=0.0, le=1e6)
    """Ridge penalty (l2 / 2) ‖w‖² added to the mean loss, w on standardized features (not the
    intercept): scikit-learn's C = 1 / (n_train · l2). Separable labels need one for a logistic
    fit to have a finite optimum."""

    @model_validator(mode="after")
    def _joint_needs_lbfgs(self) -> FitOptions:
        if self.scale == "joint" and self.method != "lbfgs":
            raise ValueError("scale: joint needs method: lbfgs")
        return self


class Experiment(_Strict):
    """What every experiment has: a name, a kind, the datasets and losses it crosses, how it
    fits, and its trials. Each kind (`lossbench.experiments.kinds`) subclasses this with its
    own options; a config's experiments are validated as the kind they name."""

    name: str
    """Names the experiment's tables, rows and files; each experiment its own."""
    kind: str = "fit"
    """What the experiment does: fit, punishment, influence, landscape or restarts."""
    datasets: list[dict[str, Any]] = Field(default_factory=list)
    """Each `{kind: ..., parameter: value}` (`lossbench list datasets`); a list of values is
    a grid, one dataset per value."""
    losses: list[str | dict[str, Any]]
    """Names (`mse`) or `{name: huber, delta: 1.345}` (`lossbench list losses`), or your own
    `package.module:function`; the first is the baseline every other is compared with."""
    fit: FitOptions = Field(default_factory=FitOptions)
    """How linear models are fitted."""
    trials: PositiveInt | None = Field(None, le=MAX_TRIALS)
    """Trials per dataset (fresh draws of synthetic data); none: the config's."""
    statistic: Literal["mean", "median"] | None = None
    """What verdicts compare, declared (never chosen from the sample): the mean or the median;
    none: each dataset's own (the median where a metric may have no mean, as under Cauchy
    noise; else the mean). Cross-validation compares means (its correction is for means)."""
    equivalence: float = Field(0.01, ge=0.0, lt=1.0)
    """The region of practical equivalence: relative differences within ±equivalence are no
    difference at all."""

    def quick(self) -> Self:
        """The same experiment, smaller (each kind says how: `ExperimentKind.quick`)."""
        return self.model_copy(deep=True)


KINDS: dict[str, type[Experiment]] = {}


def register(cls: type[Experiment]) -> type[Experiment]:
    """Class decorator: make an experiment kind available to configs under its ``kind``."""
    KINDS[cls.model_fields["kind"].default] = cls
    return cls


def _as_kind(item: Any) -> Any:
    """A config mapping validated as the experiment kind it names (a registry look-up, so a
    kind registered at run time validates like a built-in one)."""
    if not isinstance(item, dict):
        return item  # pydantic says what is wrong with it
    kind = _kind_chooser(tuple(KINDS)).model_validate(item).kind
    return KINDS[kind].model_validate(item)


@functools.lru_cache(maxsize=8)
def _kind_chooser(names: tuple[str, ...]) -> Any:
    """A model of just `kind`, so that an unknown kind is refused at `experiments[i].kind` with
    the registered names (made once per set of kinds)."""
    literal: Any = Literal  # a Literal of names known at run time: no type for a checker
    return create_model(
        "ExperimentKindName", __config__=ConfigDict(extra="ignore"), kind=(literal[names], "fit")
    )


class PyperfOptions(_Strict):
    """pyperf's knobs: worker processes, values per process (fewer for a call slower than
    0.5 s / values, at least one), untimed warm-up values (at least one full-size call is
    always made), minimum time per value, fixed loops (skips calibration); `fast` halves
    processes and values, `rigorous` doubles processes. Peers are timed in half the
    processes (rounded up)."""

    processes: int = Field(4, ge=1, le=1000)
    """Worker processes, one after another: the unit compare's statistics count (a timing
    verdict needs 4 a side)."""
    values: int = Field(3, ge=1, le=1000)
    """Timed values per process."""
    warmups: int = Field(0, ge=0, le=100)
    """Untimed values per process before them (beside the full-size call every worker makes
    first)."""
    min_time: float = Field(0.02, gt=0, le=10)
    """Seconds a value lasts at least: calls are looped until it does."""
    loops: int | None = Field(None, ge=1, le=10**6)
    """Calls per value, fixed (no calibration: runs with the same loops merge)."""
    fast: bool = False
    """Half the processes, two thirds of the values."""
    rigorous: bool = False
    """Twice the processes."""


# the timing defaults, typed as the fields they fill
_TIMED: list[str | dict[str, Any]] = ["mse", {"name": "huber", "delta": 1.345}, "bce", "bce_logits"]
_OPS: list[Literal["value", "gradient", "value_and_gradient", "gradient_and_hessian"]] = [
    "value",
    "value_and_gradient",
]
_DTYPES: list[Literal["float64", "float32"]] = ["float64"]
_THREADS: list[Literal[1, "all"]] = [1]


class Timing(_Strict):
    """The kernel timing matrix: losses × ops × impls at each (size, dtype), plus probes."""

    losses: list[str | dict[str, Any]] = Field(default_factory=lambda: list(_TIMED))
    """The losses to time, as in an experiment; your own `package.module:function` too."""
    ops: list[Literal["value", "gradient", "value_and_gradient", "gradient_and_hessian"]] = Field(
        default_factory=lambda: list(_OPS)
    )
    """What each call computes."""
    impls: list[str] = Field(
        default_factory=lambda: ["numpy", "fused", "seed", "scipy", "sklearn", "torch"]
    )
    """Implementations (`lossbench list impls`); peers not installed are skipped, said once."""
    sizes: list[PositiveInt] = Field(default_factory=lambda: [4_000_000])
    """Elements per call (4 million: arrays beyond the caches, a call of milliseconds)."""
    dtypes: list[Literal["float64", "float32"]] = Field(default_factory=lambda: list(_DTYPES))
    """The arrays' dtype."""
    pyperf: PyperfOptions = Field(default_factory=PyperfOptions)
    """How each benchmark is timed."""
    measure: Literal["time", "instructions"] = "time"
    """time: seconds per call; instructions: instructions per call counted under valgrind
    (deterministic, for a CI gate on a noisy machine)."""
    threads: list[Literal[1, "all"]] = Field(default_factory=lambda: list(_THREADS), min_length=1)
    """1: one core each; all: also the all-core variants (fused@all, torch@all) against an
    all-core read probe."""

    @field_validator("ops", "impls", "sizes", "dtypes", "threads")
    @classmethod
    def _each_once(cls, values: list) -> list:
        repeated = [value for i, value in enumerate(values) if value in values[:i]]
        if repeated:
            raise ValueError(f"{repeated[0]!r} is listed twice")
        return values


class Config(_Strict):
    """A lossbench run: experiments, and kernel timing."""

    name: str = "default"
    """Names the run directory (results/DATE-TIME-name)."""
    seed: int = Field(0, ge=0, lt=2**63)  # numpy's seeds are non-negative
    """The master seed: each trial derives its own from it, so runs repeat exactly."""
    trials: PositiveInt = Field(50, le=MAX_TRIALS)
    """Trials per dataset, for experiments that do not set their own."""
    _source_dir: Path | None = PrivateAttr(None)
    """The directory relative paths in the config are relative to (None: the working dir)."""

    experiments: list[SerializeAsAny[Annotated[Experiment, BeforeValidator(_as_kind)]]] = Field(
        default_factory=list
    )
    """What to compare: each experiment crosses its datasets and losses over its trials."""
    timing: Timing | None = None
    """What to time: losses × ops × impls at each size and dtype; none: no timing."""
    cluster: str | None = None
    """Where trials run: a dask scheduler (tcp://host:8786) or local:N; none: this process
    (`--cluster` overrides it)."""
    correction: Literal["family", "run"] = "family"
    """family: each family of verdicts (an experiment's comparisons on one score with the
    baseline, within a sweep, the ranking, across models) holds a false one at most 5% of the
    time, so a run of k families at most k × 5%; run: every family at 5% / k, the whole run
    at most 5%."""

    @field_validator("experiments")
    @classmethod
    def _names_differ(cls, experiments: list) -> list:
        names = [experiment.name for experiment in experiments]
        repeated = [name for i, name in enumerate(names) if name in names[:i]]
        if repeated:
            raise ValueError(f"{repeated[0]!r} names two experiments; give each its own name")
        return experiments
