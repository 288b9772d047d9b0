"""Experiments: the claims about MSE, Huber and cross-entropy, each shown with numbers.

Kinds:

- ``fit``: datasets × losses × trials; each trial fits every loss on the same data and scores
  it with `lossbench.metrics`. A loss that needs labels on continuous targets is reported
  "n/a" with the reason. With ``fit.method: gd`` the objective curve is kept too (metric
  ``objective``, x = iteration, at most 50 log-spaced points).
- ``punishment``: loss and gradient at y = 1 as the predicted probability p goes to 0; the
  gradient with respect to p and through the sigmoid (``logit_gradient``). BCE both as
  lossbench clips it and unclipped (infinite at 0).
- ``influence``: clean data plus one point whose residual sweeps ``offsets`` (units of σ); the
  shift of the fitted parameters per loss (unbounded for MSE, bounded for Huber).
- ``landscape``: a single sigmoid unit fitted from ``starts`` random starts (coefficients
  ~ N(0, start_scale²)) on data where squared error is not convex; per loss, the number of
  distinct end points (``distinct_minima``: objectives that differ by more than 1e-6
  relative), the spread of final objectives and the share of starts that reach the best one.
  For squared error the end points are a finite local minimum, the infimum approached as the
  sigmoid turns into a step, and plateaus where a saturated sigmoid leaves no gradient; for
  cross-entropy on the logit, the one minimum of a convex objective.

`run` returns trials in the long format of ``trials.csv``: experiment, dataset, loss, trial,
metric, value, plus ``x`` (the swept quantity of punishment and influence, the start of
landscape) and ``note``. `summarize` aggregates them. Trials are units of work for joblib: each
draws its data from a seed derived from (seed, experiment, dataset, trial), so any order or
process gives the same numbers.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lossbench import losses as losses_module
from lossbench.config import Config, Experiment
from lossbench.datasets import Dataset, expand
from lossbench.errors import LossbenchError
from lossbench.fit import fit
from lossbench.losses import Loss
from lossbench.metrics import HIGHER_IS_BETTER, REGRESSION, classification, regression

__all__ = ["COLUMNS", "SUMMARY_COLUMNS", "Task", "run", "run_tasks", "summarize", "tasks"]

COLUMNS = ["experiment", "dataset", "loss", "trial", "metric", "value", "x", "note"]
SUMMARY_COLUMNS = [
    "experiment", "dataset", "loss", "metric", "n", "mean", "std", "ci_low", "ci_high",
    "x", "baseline", "ratio", "win_rate", "note",
]  # fmt: skip


@dataclass(frozen=True)
class Task:
    """One unit of work: an experiment's trial on one dataset (picklable, for joblib)."""

    experiment: Experiment
    losses: tuple[Loss, ...]
    dataset: Dataset | None
    trial: int
    seed: int

    def rng(self, *salt: int) -> np.random.Generator:
        """The trial's own generator: a function of (seed, experiment, dataset, trial)."""
        label = self.dataset.label if self.dataset else ""
        entropy = [self.seed, _stable_hash(self.experiment.name), _stable_hash(label), self.trial]
        return np.random.default_rng(np.random.SeedSequence([*entropy, *salt]))


def _stable_hash(text: str) -> int:
    return zlib.crc32(text.encode())  # Python's hash() differs from process to process


def tasks(config: Config | dict[str, Any]) -> list[Task]:
    """Every unit of work of the config's experiments, in a fixed order."""
    config = config if isinstance(config, Config) else Config.model_validate(config)
    units = []
    for e, experiment in enumerate(config.experiments):
        where = f"experiments[{e}]"
        losses = tuple(
            _get_loss(spec, f"{where}.losses[{j}]") for j, spec in enumerate(experiment.losses)
        )
        if not losses:
            raise LossbenchError(f"{where}.losses: name at least one loss")
        datasets = [
            d
            for i, spec in enumerate(experiment.datasets)
            for d in expand(spec, f"{where}.datasets[{i}]")
        ]
        trials = experiment.trials or config.trials
        if experiment.kind == "punishment":
            units.append(Task(experiment, losses, None, 0, config.seed))
        elif experiment.kind == "fit":
            if not datasets:
                raise LossbenchError(
                    f"{where}.datasets: a fit experiment needs at least one dataset"
                )
            units += [
                Task(experiment, losses, d, t, config.seed) for d in datasets for t in range(trials)
            ]
        else:
            default = _INFLUENCE_DATA if experiment.kind == "influence" else _LANDSCAPE_DATA
            needed = "regression" if experiment.kind == "influence" else "classification"
            for i, d in enumerate(datasets):
                if d.task != needed:
                    raise LossbenchError(
                        f"{where}.datasets[{i}]: {experiment.kind} needs a {needed} dataset; "
                        f"{d.kind} is {d.task}"
                    )
            for d in datasets or [default]:
                units += [Task(experiment, losses, d, t, config.seed) for t in range(trials)]
    return units


def _get_loss(spec: str | dict[str, Any], where: str) -> Loss:
    try:
        if isinstance(spec, dict):
            params = dict(spec)
            name = params.pop("name", None)
            if name is None:
                raise LossbenchError("a loss given as a mapping needs a 'name'")
            return losses_module.get(name, **params)
        return losses_module.get(spec)
    except LossbenchError as error:
        raise LossbenchError(f"{where}: {error}") from None


def run(
    config: Config | dict[str, Any],
    *,
    jobs: int = 1,
    backend: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Run every experiment; the trials as a long DataFrame (`COLUMNS`).

    `jobs` > 1 runs trials in parallel through joblib (`backend` as joblib names them, e.g.
    "loky", "threading", or "dask" once a dask client is registered); results are identical
    to a serial run. `progress(n)` is called as each unit of work finishes (n of
    ``len(tasks(config))``).
    """
    return run_tasks(tasks(config), jobs=jobs, backend=backend, progress=progress)


def run_tasks(
    units: list[Task],
    *,
    jobs: int = 1,
    backend: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Run units of work from `tasks`, in order; see `run`."""
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
    """The rows of one unit of work."""
    kind = task.experiment.kind
    if kind == "fit":
        return _fit_trial(task)
    if kind == "punishment":
        return _punishment(task)
    if kind == "influence":
        return _influence_trial(task)
    return _landscape_trial(task)


def _row(
    task: Task, loss: str, metric: str, value: float, x: float = math.nan, note: str = ""
) -> dict:
    dataset = task.dataset.label if task.dataset else "y=1"
    return {
        "experiment": task.experiment.name, "dataset": dataset, "loss": loss, "trial": task.trial,
        "metric": metric, "value": value, "x": x, "note": note,
    }  # fmt: skip


def _not_applicable(loss: Loss, dataset: Dataset) -> str:
    if loss.labels and dataset.task == "regression":
        return f"n/a: {loss.name} needs labels in [0, 1], and these targets are continuous"
    return ""


# -- fit ---------------------------------------------------------------------------------------
def _fit_trial(task: Task) -> list[dict[str, Any]]:
    dataset, options = task.dataset, task.experiment.fit
    sample = dataset.sample(task.rng())
    model = "logistic" if dataset.task == "classification" else "linear"
    rows = []
    for loss in task.losses:
        note = _not_applicable(loss, dataset)
        if note:
            rows += [_row(task, str(loss), m, math.nan, note=note) for m in REGRESSION]
            continue
        result = fit(
            loss, sample.X, sample.y, model=model, method=options.method,
            max_iter=options.max_iter, tol=options.tol, lr=options.lr,
        )  # fmt: skip
        if model == "linear":
            scores = regression(result, sample)
        else:
            # the same fresh labels for every loss: task.rng(1) restarts one stream
            scores = classification(result, sample, task.rng(1))
        rows += [_row(task, str(loss), metric, value) for metric, value in scores.items()]
        rows += [
            _row(task, str(loss), "objective", result.curve[i], x=i)
            for i in _curve_points(len(result.curve))
        ]
    return rows


def _curve_points(length: int, most: int = 50) -> list[int]:
    """Iterations at which to keep a convergence curve: all if few, else log-spaced."""
    if length <= most:
        return list(range(length))
    return sorted({0, length - 1, *np.unique(np.geomspace(1, length - 1, most - 1).astype(int))})


# -- punishment --------------------------------------------------------------------------------
def _punishment(task: Task) -> list[dict[str, Any]]:
    rows = []
    for loss in task.losses:
        for p in task.experiment.predictions:
            if not 0.0 <= p <= 1.0:
                raise LossbenchError(
                    f"{task.experiment.name}.predictions: {p} is not a probability"
                )
            for label, value, grad in _punishment_point(loss, p):
                # d/dz through the sigmoid; for a loss on logits, sigmoid(z) - 1 = p - 1
                logit_grad = p - 1.0 if loss.prediction == "logit" else grad * p * (1.0 - p)
                rows += [
                    _row(task, label, "value", value, x=p),
                    _row(task, label, "gradient", grad, x=p),
                    _row(task, label, "logit_gradient", logit_grad, x=p),
                ]
    return rows


def _punishment_point(loss: Loss, p: float) -> Iterable[tuple[str, float, float]]:
    """(label, value, d value / d p) of `loss` at y = 1 and prediction p."""
    one = np.ones(1)
    if loss.prediction == "logit":  # the loss of the logit z = log(p / (1 - p)), dz/dp = 1/(p(1-p))
        if p == 0.0:
            yield str(loss), math.inf, -math.inf
            return
        z = np.array([math.log(p) - math.log1p(-p)]) if p < 1.0 else np.array([40.0])
        value, dz = loss.value_and_gradient(one, z, reduction="sum")
        yield str(loss), value, float(dz[0]) / (p * (1.0 - p)) if p < 1.0 else 0.0
        return
    value, grad = loss.value_and_gradient(one, np.array([p]), reduction="sum")
    yield str(loss), value, float(grad[0])
    if loss.prediction == "probability":  # BCE as the formula has it: -log p, unbounded
        with np.errstate(divide="ignore"):
            yield (
                f"{loss.name} (unclipped)",
                float(-np.log(p)),
                float(-1.0 / p) if p > 0 else -math.inf,
            )


# -- influence ---------------------------------------------------------------------------------
_INFLUENCE_DATA = expand({"kind": "gaussian", "n_samples": 100, "n_features": 1})[0]


def _influence_trial(task: Task) -> list[dict[str, Any]]:
    dataset, options = task.dataset, task.experiment.fit
    rng = task.rng()
    sample = dataset.sample(rng)
    x_moving = rng.standard_normal(sample.X.shape[1])
    clean = float(x_moving @ sample.coef + sample.intercept)
    X = np.vstack([sample.X, x_moving])
    rows = []
    for loss in task.losses:
        note = _not_applicable(loss, dataset)
        if note:
            rows.append(_row(task, str(loss), "coef_shift", math.nan, note=note))
            continue
        baseline = None
        for offset in task.experiment.offsets:
            y = np.append(sample.y, clean + offset * dataset.params["noise"])
            result = fit(
                loss, X, y, method=options.method, max_iter=options.max_iter, tol=options.tol,
                lr=options.lr, theta0=None if baseline is None else baseline,
            )  # fmt: skip
            if baseline is None:
                baseline = result.theta
            rows.append(
                _row(
                    task,
                    str(loss),
                    "coef_shift",
                    float(np.linalg.norm(result.theta - baseline)),
                    x=offset,
                )
            )
    return rows


# -- landscape ---------------------------------------------------------------------------------
# Two groups that want opposite slopes: most points near 0 labelled by the sign of x, a few far
# out labelled the other way. Squared error through a sigmoid is bounded per point, so it can
# settle for either group (a minimum each, plus plateaus where the sigmoid saturates) - the
# non-convexity Auer, Herbster & Warmuth, "Exponentially many local minima for single
# neurons" (NIPS 1995), build on. Cross-entropy on the logit is convex: one minimum. Labels are
# flipped at random so that no group is separable and every minimum is finite.
_LANDSCAPE_DATA = Dataset("landscape", {"n_samples": 60, "far": 10, "flip": 0.1}, "two-slopes")


def _landscape_data(dataset: Dataset, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n, far = int(dataset.params["n_samples"]), int(dataset.params["far"])
    near_x = rng.uniform(-1.0, 1.0, n - far)
    far_x = rng.choice([-1.0, 1.0], far) * rng.uniform(8.0, 12.0, far)
    x = np.concatenate([near_x, far_x])
    y = np.concatenate([(near_x > 0).astype(float), (far_x < 0).astype(float)])
    flip = rng.random(n) < dataset.params["flip"]
    y[flip] = 1.0 - y[flip]
    return x[:, None], y


def _landscape_trial(task: Task) -> list[dict[str, Any]]:
    experiment, options = task.experiment, task.experiment.fit
    rng = task.rng()
    if task.dataset.kind == "landscape":
        X, y = _landscape_data(task.dataset, rng)
    else:
        sample = task.dataset.sample(rng)
        X, y = sample.X, sample.y
    starts = rng.normal(0.0, experiment.start_scale, (experiment.starts, X.shape[1] + 1))
    rows = []
    for loss in task.losses:
        finals = []
        for s, theta0 in enumerate(starts):
            result = fit(
                loss, X, y, model="logistic", method=options.method, max_iter=options.max_iter,
                tol=options.tol, lr=options.lr, theta0=theta0,
            )  # fmt: skip
            finals.append(result.objective)
            rows.append(_row(task, str(loss), "final_objective", result.objective, x=s))
        finals = np.array(finals)
        rows += [
            _row(task, str(loss), "distinct_minima", float(_distinct(finals))),
            _row(task, str(loss), "objective_spread", float(finals.max() - finals.min())),
            _row(
                task,
                str(loss),
                "best_share",
                float(np.mean(finals <= finals.min() * (1 + 1e-6) + 1e-12)),
            ),
        ]
    return rows


def _distinct(values: np.ndarray, rtol: float = 1e-6) -> int:
    """How many clusters the sorted values form, neighbours within rtol joining one."""
    ordered = np.sort(values)
    gaps = np.diff(ordered) > rtol * np.maximum(1.0, np.abs(ordered[1:]))
    return int(1 + np.count_nonzero(gaps))


# -- aggregation -------------------------------------------------------------------------------
def summarize(trials: pd.DataFrame) -> pd.DataFrame:
    """Per (experiment, dataset, loss, metric, x): n, mean, std, 95% CI (Student t), and the
    paired comparison with the experiment's first loss over the same trials: ratio of means
    and win rate (share of trials where this loss did better; ties count half)."""
    from scipy.stats import t as student_t

    keys = ["experiment", "dataset", "loss", "metric", "x"]
    frame = trials.assign(x=trials["x"].fillna(-math.inf))  # NaN keys would be dropped
    grouped = frame.groupby(keys, sort=False, dropna=False)
    summary = grouped["value"].agg(n="count", mean="mean", std="std").reset_index()
    summary["note"] = grouped["note"].agg(lambda notes: next((n for n in notes if n), "")).values
    half = (
        student_t.ppf(0.975, np.maximum(summary["n"] - 1, 1))
        * summary["std"]
        / np.sqrt(summary["n"])
    )
    half = half.where(summary["n"] > 1)
    summary["ci_low"], summary["ci_high"] = summary["mean"] - half, summary["mean"] + half

    first = frame.groupby("experiment", sort=False)["loss"].first()
    base = frame[frame["loss"] == frame["experiment"].map(first)]
    paired = frame.merge(
        base[["experiment", "dataset", "trial", "metric", "x", "value"]],
        on=["experiment", "dataset", "trial", "metric", "x"], suffixes=("", "_base"),
    )  # fmt: skip
    higher = paired["metric"].isin(HIGHER_IS_BETTER)
    better = np.where(
        higher, paired["value"] > paired["value_base"], paired["value"] < paired["value_base"]
    )
    tie = paired["value"] == paired["value_base"]
    paired["win"] = np.where(tie, 0.5, better.astype(float))
    paired.loc[paired["value"].isna() | paired["value_base"].isna(), "win"] = math.nan
    wins = (
        paired.groupby(keys, sort=False, dropna=False)
        .agg(base_mean=("value_base", "mean"), win_rate=("win", "mean"))
        .reset_index()
    )
    summary = summary.merge(wins, on=keys, how="left")
    summary["baseline"] = summary["experiment"].map(first)
    with np.errstate(divide="ignore", invalid="ignore"):
        summary["ratio"] = summary["mean"] / summary["base_mean"]
    own = summary["loss"] == summary["baseline"]
    summary.loc[own, "win_rate"] = math.nan
    summary["x"] = summary["x"].replace(-math.inf, math.nan)
    return summary[SUMMARY_COLUMNS]
