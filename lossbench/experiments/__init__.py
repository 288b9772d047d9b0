"""Experiments: the claims about MSE, Huber and cross-entropy, each shown with numbers.

An experiment has a kind (`lossbench.experiments.kinds`: ``fit``, ``punishment``,
``influence``, ``landscape``; the registry is `KINDS`), datasets (`lossbench.experiments.
datasets`, registry `DATASETS`) and losses. `tasks` turns a config into units of work, `run`
runs them and returns trials in the long format of ``trials.csv`` (experiment, dataset, loss,
trial, metric, value, kind, plus ``x``, the swept quantity, and ``note``), and `summarize`
aggregates them. Each unit draws its data from a seed derived from (seed, experiment, dataset,
trial), so any order or process gives the same numbers.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pandas as pd

from lossbench import losses as losses_module
from lossbench.config import Config
from lossbench.errors import LossbenchError
from lossbench.experiments import kinds as _kinds  # noqa: F401  (registers the built-in kinds)
from lossbench.experiments.aggregate import (
    COMPARISON_COLUMNS,
    SUMMARY_COLUMNS,
    compare,
    summarize,
)
from lossbench.experiments.datasets import DATASETS, expand
from lossbench.experiments.kind import KINDS, ExperimentKind, Task, infer_kind, register
from lossbench.losses import Loss

__all__ = [
    "COLUMNS",
    "COMPARISON_COLUMNS",
    "DATASETS",
    "KINDS",
    "SUMMARY_COLUMNS",
    "ExperimentKind",
    "Task",
    "comparisons",
    "infer_kind",
    "register",
    "run",
    "run_task",
    "run_tasks",
    "summarize",
    "tasks",
]  # fmt: skip

COLUMNS = ["experiment", "dataset", "loss", "trial", "metric", "value", "kind", "x", "note"]


def tasks(config: Config | dict[str, Any]) -> list[Task]:
    """Every unit of work of the config's experiments, in a fixed order.

    The units are remembered on the config while it stays as it is: a run checks its config
    and then runs it, and a table is read (and a changed file said) once per run."""
    config = config if isinstance(config, Config) else Config.model_validate(config)
    remembered = config._planned
    if remembered is not None and remembered[0] == config.model_dump_json():
        return list(remembered[1])
    units = []
    for e, experiment in enumerate(config.experiments):
        where = f"experiments[{e}]"
        losses = tuple(
            loss
            for j, spec in enumerate(experiment.losses)
            for loss in _get_losses(spec, f"{where}.losses[{j}]")
        )
        if not losses:
            raise LossbenchError(f"{where}.losses: name at least one loss")
        datasets = [
            d
            for i, spec in enumerate(experiment.datasets)
            for d in expand(spec, f"{where}.datasets[{i}]", config._source_dir)
        ]
        trials = experiment.trials or config.trials
        units += experiment.tasks(losses, datasets, trials, config.seed, where)
    # after expanding: a table's resolved path and SHA-256 are part of the config by now
    config._planned = (config.model_dump_json(), units)
    return list(units)


def _get_losses(spec: str | dict[str, Any], where: str) -> list[Loss]:
    """The losses a config entry names: a parameter given as a list is a grid, as for
    datasets (``{name: huber, delta: [0.5, 1, 2]}`` is three losses)."""
    try:
        if isinstance(spec, dict):
            params = dict(spec)
            name = params.pop("name", None)
            if name is None:
                raise LossbenchError("a loss given as a mapping needs a 'name'")
            grid = {k: v if isinstance(v, list) else [v] for k, v in params.items()}
            if any(not values for values in grid.values()):
                raise LossbenchError("an empty list makes no loss")
            return [
                losses_module.get(name, **dict(zip(grid, combo, strict=True)))
                for combo in itertools.product(*grid.values())
            ]
        return [losses_module.get(spec)]
    except LossbenchError as error:
        raise LossbenchError(f"{where}: {error}") from None


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
    "loky" or "threading"); `cluster` (``tcp://host:8786`` or ``local:N``; default: the
    config's ``cluster``) runs them on a dask.distributed cluster instead. Results are
    identical to a serial run. `progress(n)` is called as each unit of work finishes (n of
    ``len(tasks(config))``).
    """
    config = config if isinstance(config, Config) else Config.model_validate(config)
    units = tasks(config)
    address = cluster or config.cluster
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

        rows = [row for result in run_on(client, run_task, units, progress) for row in result]
        return pd.DataFrame(rows, columns=COLUMNS)
    if jobs == 1:
        results = (run_task(u) for u in units)
    else:
        from joblib import Parallel, delayed

        parallel = Parallel(n_jobs=jobs, backend=backend, return_as="generator")
        results = parallel(delayed(run_task)(u) for u in units)
    rows = []
    for done, result in enumerate(results, start=1):
        rows += result
        if progress is not None:
            progress(done)
    return pd.DataFrame(rows, columns=COLUMNS)


def run_task(task: Task) -> list[dict[str, Any]]:
    """The rows of one unit of work: its experiment kind runs it, on one BLAS thread."""
    from threadpoolctl import threadpool_limits

    # BLAS splits a product's sums by thread: one thread everywhere (here, joblib and dask
    # workers alike) gives the same trials to the last bit
    with threadpool_limits(1):
        return task.experiment.run_task(task)


def comparisons(
    trials: pd.DataFrame, summary: pd.DataFrame, config: Config | None = None
) -> pd.DataFrame:
    """``comparisons.csv`` for a run: on the metrics each experiment's kind compares, with the
    statistic and equivalence margin its config sets (defaults without a config)."""
    configured = {e.name: e for e in config.experiments} if config else {}
    metrics = {}
    for experiment, frame in summary.groupby("experiment", sort=False):
        kind = KINDS.get(frame["kind"].iloc[0]) if "kind" in frame else None
        if experiment in configured:
            metrics[experiment] = configured[experiment].compared_metrics(frame)
        else:
            metrics[experiment] = kind.compared(frame) if kind is not None else []
    settings = {e.name: (e.statistic, e.equivalence) for e in config.experiments} if config else {}
    return compare(trials, metrics, settings)
