"""Experiments: the claims about MSE, Huber and cross-entropy, each shown with numbers.

An experiment has a kind (`lossbench.experiments.kinds`: ``fit``, ``punishment``,
``influence``, ``landscape``; the registry is `KINDS`), datasets (`lossbench.experiments.
datasets`, registry `DATASETS`) and losses. `plan` turns a config into units of work (`tasks`
lists them), `run` runs them and returns trials in the long format of ``trials.csv``
(experiment, dataset, loss, trial, metric, value, kind, plus ``x``, the swept quantity, and
``note``), `summarize` aggregates them and `comparisons` compares each loss with the
experiment's first (statistics: `lossbench.analysis`). Each unit draws its data from a seed
derived from (seed, experiment, dataset, trial), so any order or process gives the same
numbers.

>>> from lossbench import experiments
>>> trials = experiments.run({"seed": 0, "trials": 2, "experiments": [{"name": "tiny",
...     "datasets": [{"kind": "gaussian", "n_samples": 50}], "losses": ["mse", "huber"]}]})
>>> sorted(set(trials["loss"])), sorted(set(trials["trial"]))
(['huber(delta=1.0, scale=mad)', 'mse'], [0, 1])
>>> row = trials[trials["metric"] == "coef_error"].iloc[0]
>>> row["experiment"], row["dataset"], row["kind"]
('tiny', 'gaussian', 'fit')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pandas as pd

from lossbench.analysis import aggregate
from lossbench.analysis import comparisons as paired
from lossbench.analysis.aggregate import SUMMARY_COLUMNS
from lossbench.analysis.comparisons import COMPARISON_COLUMNS
from lossbench.analysis.constants import FAMILYWISE_ALPHA
from lossbench.config import Config
from lossbench.experiments import kinds as _kinds  # noqa: F401  (registers the built-in kinds)
from lossbench.experiments.datasets import DATASETS
from lossbench.experiments.kind import (
    KINDS,
    TRIAL_COLUMNS,
    ExperimentKind,
    Task,
    TrialRow,
    infer_kind,
    kinds_of,
    register,
)
from lossbench.experiments.metrics import HIGHER_IS_BETTER
from lossbench.experiments.plan import Plan, plan
from lossbench.losses import labels as loss_labels
from lossbench.signals import raise_if_stopped

__all__ = [
    "COLUMNS",
    "COMPARISON_COLUMNS",
    "DATASETS",
    "KINDS",
    "SUMMARY_COLUMNS",
    "ExperimentKind",
    "Plan",
    "Task",
    "TrialRow",
    "comparisons",
    "infer_kind",
    "plan",
    "register",
    "run",
    "run_task",
    "run_tasks",
    "summarize",
    "tasks",
]

# model: what each loss was fitted with (linear, gbm; empty for model-free kinds)
COLUMNS = TRIAL_COLUMNS


def tasks(config: Config | dict[str, Any]) -> list[Task]:
    """Every unit of work of the config's experiments, in a fixed order (`plan`'s units)."""
    return plan(_validated(config)).units


def _validated(config: Config | dict[str, Any]) -> Config:
    return config if isinstance(config, Config) else Config.model_validate(config)


def run(
    config: Config | dict[str, Any],
    *,
    jobs: int = 1,
    backend: str | None = None,
    progress: Callable[[int], None] | None = None,
    cluster: str | None = None,
) -> pd.DataFrame:
    """Run every experiment; the trials as a long DataFrame (`COLUMNS`).

    `jobs` > 1 runs trials in parallel through joblib (`backend` as joblib names them, e.g.
    "loky" or "threading"); `cluster` (``tcp://host:8786`` or ``local:N``) runs them on a
    dask.distributed cluster instead (a config's ``cluster:`` is refused without it: a config
    alone never sends data off the machine). Results are
    identical to a serial run. `progress(n)` is called as each unit of work finishes (n of
    ``len(tasks(config))``).
    """
    config = _validated(config)
    units = plan(config).units
    from lossbench.experiments.cluster import chosen

    address = chosen(cluster, config.cluster)
    if address:
        from lossbench.experiments.cluster import connect

        with connect(address) as client:
            return run_tasks(units, progress=progress, client=client)
    return run_tasks(units, jobs=jobs, backend=backend, progress=progress)


def run_tasks(
    units: list[Task],
    *,
    jobs: int = 1,
    backend: str | None = None,
    progress: Callable[[int], None] | None = None,
    client: Any = None,
) -> pd.DataFrame:
    """Run units of work from `tasks`, in order, serially, in `jobs` joblib processes or on a
    dask `client` (`lossbench.experiments.cluster`); see `run`."""
    if client is not None:
        from lossbench.experiments.cluster import run_on

        finished = run_on(client, run_task, units, progress)
        return TrialRow.to_frame(row for result in finished for row in result)
    if jobs == 1:
        results = (run_task(u) for u in units)
    else:
        from joblib import Parallel, delayed

        parallel = Parallel(n_jobs=jobs, backend=backend, return_as="generator")
        results = parallel(delayed(run_task)(u) for u in units)
    rows: list[TrialRow] = []
    for done, result in enumerate(results, start=1):
        raise_if_stopped()
        rows += result
        if progress is not None:
            progress(done)
    return TrialRow.to_frame(rows)


def run_task(task: Task) -> list[TrialRow]:
    """The rows of one unit of work: its experiment kind runs it, on one BLAS thread."""
    from threadpoolctl import threadpool_limits

    # BLAS splits a product's sums by thread: one thread everywhere (here, joblib and dask
    # workers alike) gives the same trials to the last bit
    with threadpool_limits(1):
        return task.experiment.run_task(task)


def summarize(trials: pd.DataFrame) -> pd.DataFrame:
    """``summary.csv`` of a run's trials: per (experiment, dataset, loss, metric, x) n, mean,
    std, the mean's 95% interval, the median with its interval, and the ratio, win rate and
    efficiency against the experiment's first loss (`lossbench.analysis.aggregate.summarize`).
    """
    return aggregate.summarize(trials, higher_is_better=HIGHER_IS_BETTER)


def comparisons(
    trials: pd.DataFrame,
    summary: pd.DataFrame,
    config: Config | dict[str, Any] | None = None,
    planned: Plan | None = None,
) -> pd.DataFrame:
    """``comparisons.csv`` for a run: on the metrics each experiment's kind compares, with the
    statistic and equivalence margin its config sets (defaults without a config), the
    statistic per dataset where the config declares none (`planned`: the config's plan, made
    here when not given). `config` is a `Config` or its mapping, as `run` takes."""
    config = _validated(config) if config is not None else None
    configured = {e.name: e for e in kinds_of(config)} if config else {}
    metrics = {}
    for experiment, frame in summary.groupby("experiment", sort=False):
        kind = KINDS.get(frame["kind"].iloc[0]) if "kind" in frame else None
        if experiment in configured:
            metrics[experiment] = configured[experiment].compared_metrics(frame)
        else:
            metrics[experiment] = kind.compared(frame) if kind is not None else []
    settings = _settings(config, planned) if config else {}
    for experiment, mine in trials.groupby("experiment", sort=False):
        swept = loss_labels.sweeps(mine["loss"])
        settings[experiment] = dataclasses.replace(
            settings.get(experiment, paired.Settings()), sweeps=swept
        )
    kinds = [
        (experiment, mine, KINDS.get(mine["kind"].iloc[0]) if "kind" in mine else None)
        for experiment, mine in trials.groupby("experiment", sort=False)
    ]
    alpha = FAMILYWISE_ALPHA
    if config is not None and config.correction == "run":  # Bonferroni across families
        own_families = sum(kind.own_families for _, _, kind in kinds if kind is not None)
        k = paired.planned_families(trials, metrics, settings) + own_families
        alpha /= max(1, k)
    table = paired.compare(
        trials, metrics, settings, higher_is_better=HIGHER_IS_BETTER, alpha=alpha
    )
    own = []
    for experiment, mine, kind in kinds:
        if kind is not None:
            margin = settings.get(experiment, paired.Settings()).margin
            own += kind.own_comparisons(mine, margin, alpha)
    if not own:
        return table
    found = paired.ComparisonRow.to_frame(own)
    return pd.concat([table, found], ignore_index=True) if len(table) else found


def _settings(config: Config, planned: Plan | None) -> dict[str, paired.Settings]:
    """Each experiment's margin and the statistic declared for each of its datasets."""
    planned = planned or plan(config)
    statistics: dict[str, dict[str, str]] = {}
    for unit in planned.units:
        if unit.dataset is not None:
            declared = unit.experiment.statistic or unit.dataset.statistic
            statistics.setdefault(unit.experiment.name, {})[unit.dataset.label] = declared
    return {
        e.name: paired.Settings(e.equivalence, statistics.get(e.name, {}))
        for e in config.experiments
    }
