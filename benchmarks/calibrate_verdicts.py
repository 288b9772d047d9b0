"""Calibration of lossbench's verdicts under nulls, through the real fitting and CV paths.

Each case makes a population of trials with lossbench itself (`experiments.run_tasks`: the
fits, metrics and folds a run makes), builds from it simulated experiments in which nothing
is better than anything, and sends each through the real comparison (`experiments.compare`:
one procedure per verdict, Bonferroni over the experiment, equivalence margin). Every
``better`` or ``worse`` is then false; the script prints the familywise rate (experiments with
any false verdict) with its Clopper-Pearson 95% interval (scipy), and beside it the rate of
the procedure it replaced (Wilcoxon signed-rank, Holm) on the same simulated experiments:

- ``exchangeable``: Gaussian data, 5 losses; in each trial the losses' values are shuffled
  among them, so their joint law is exchangeable (an exact null for any statistic).
- ``equal means``: student_t(df=3) noise, 5 losses whose coef_error laws differ in shape
  (mse's is far more skewed than mae's); each rescaled so that its mean over the population
  equals mse's; trials drawn from the population. The null is on the mean, the statistic
  compared; a test of another location (Wilcoxon's) fails here.
- ``equal medians``: Cauchy noise, where the dataset's declared statistic is the median; each
  loss rescaled to mse's population median.
- ``cross-validation``: every experiment a fresh table (gaussian, `--rows` rows) drawn from
  one population, split into folds by lossbench (5 folds × 2 repeats), 3 losses; each loss's
  test_mae rescaled so that its expected value over tables (estimated from an independent set
  of tables) equals mse's. The folds' training sets overlap: the Nadeau-Bengio correction is
  what keeps this one honest.

Usage: python benchmarks/calibrate_verdicts.py [--experiments 1000] [--trials 10,20,50]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from scipy.stats import binomtest, wilcoxon

from lossbench import config as config_module
from lossbench import experiments, losses
from lossbench.analysis.comparisons import Settings, compare
from lossbench.experiments.datasets import DATASETS
from lossbench.experiments.datasets.observed import Observed

FIVE = ["mse", {"name": "huber", "delta": 1.345}, "log_cosh", "mae",
        {"name": "pseudo_huber", "delta": 1.345}]  # fmt: skip


def _experiment(loss_specs, **options):
    raw = {"experiments": [{"name": "pool", "losses": loss_specs, **options}]}
    return config_module.validate(raw).experiments[0]


def population(kind: str, size: int, jobs: int, seed: int, **params) -> pd.DataFrame:
    """coef_error of the five losses on `size` fresh samples of dataset `kind`: a wide frame,
    one row per trial, one column per loss label."""
    experiment = _experiment(FIVE)
    chosen = [loss for spec in FIVE for loss in losses.expand(spec)]
    dataset = DATASETS[kind]({"n_samples": 100, **params})
    units = experiment.tasks(tuple(chosen), [dataset], size, seed)
    trials = experiments.run_tasks(units, jobs=jobs)
    errors = trials[trials["metric"] == "coef_error"]
    return errors.pivot(index="trial", columns="loss", values="value")


def _long(wide: np.ndarray, labels: list[str]) -> pd.DataFrame:
    """(experiments, trials, losses) values as trials.csv rows, one experiment each."""
    e, t, j = np.meshgrid(*(range(n) for n in wide.shape), indexing="ij")
    return pd.DataFrame({
        "experiment": [f"sim{i}" for i in e.ravel()], "dataset": "d",
        "loss": np.asarray(labels)[j.ravel()], "trial": t.ravel(), "metric": "coef_error",
        "value": wide.ravel(), "kind": "fit", "x": np.nan, "note": "",
    })  # fmt: skip


def familywise(table: pd.DataFrame, count: int) -> tuple[int, int]:
    false = table["verdict"].isin(["better", "worse"]).groupby(table["experiment"]).any()
    return int(false.sum()), count


def case_resampled(pool: pd.DataFrame, trials: int, count: int, seed: int, statistic: str,
                   shuffle: bool, rescale: str | None) -> tuple[int, int]:  # fmt: skip
    """Simulated experiments of `trials` trials drawn from the population `pool`."""
    rng = np.random.default_rng(seed)
    values = pool.to_numpy()
    if rescale == "mean":
        values = values * (values[:, 0].mean() / values.mean(axis=0))
    elif rescale == "median":
        values = values * (np.median(values[:, 0]) / np.median(values, axis=0))
    picks = rng.integers(0, len(values), size=(count, trials))
    drawn = values[picks]  # (experiments, trials, losses)
    if shuffle:
        order = rng.permuted(np.broadcast_to(np.arange(drawn.shape[2]), drawn.shape), axis=2)
        drawn = np.take_along_axis(drawn, order, axis=2)
    # the procedure this replaced, on the same experiments: Wilcoxon signed-rank, Holm (whose
    # familywise "any rejection" is Bonferroni's: the smallest p below alpha / m)
    differences = drawn[:, :, 1:] - drawn[:, :, :1]
    p = wilcoxon(differences, axis=1, method="approx").pvalue  # repeated draws tie: no exact
    old = int(np.sum(np.min(p, axis=1) * p.shape[1] < 0.05))
    frame = _long(drawn, list(pool.columns))
    settings = Settings(0.01, {"d": statistic})
    table = compare(frame, {f"sim{i}": ["coef_error"] for i in range(count)},
                                {f"sim{i}": settings for i in range(count)})  # fmt: skip
    return (*familywise(table, count), old)


def cv_tables(count: int, first: int, rows: int, jobs: int, seed: int,
              noise: str = "gaussian") -> tuple[pd.DataFrame, tuple]:  # fmt: skip
    """test_mae, n_train, n_test of `count` fresh tables of `rows` rows (tables `first` …),
    each cross-validated by lossbench as a run does (5 folds × 2 repeats; mse, huber, mae),
    one experiment per table; and the losses' labels."""
    experiment = _experiment(["mse", {"name": "huber", "delta": 1.345}, "mae"],
                             cv={"folds": 5, "repeats": 2}, score="test_mae")  # fmt: skip
    chosen = tuple(loss for spec in experiment.losses for loss in losses.expand(spec))
    params = {"df": 3} if noise == "student_t" else {}
    generator = DATASETS[noise]({"n_samples": rows, "n_features": 5, **params})
    units = []
    for i in range(first, first + count):
        sample = generator.sample(np.random.default_rng([seed, i]))
        table = Observed({}, f"t{i}", sample.X, sample.y, "regression")
        units += experiment.tasks(chosen, [table], 10, seed + i)
    frame = experiments.run_tasks(units, jobs=jobs)
    frame = frame[frame["metric"].isin(["test_mae", "n_train", "n_test"])]
    return frame.assign(experiment=frame["dataset"]), chosen


def case_cross_validation(count: int, rows: int, jobs: int, seed: int) -> tuple[int, int]:
    """Fresh tables from one population, cross-validated by lossbench; test_mae rescaled to
    mse's expected value over tables (estimated on `count` other tables)."""
    reference, chosen = cv_tables(count, 10**6, rows, jobs, seed)
    frame, _ = cv_tables(count, 0, rows, jobs, seed)
    expected = reference[reference["metric"] == "test_mae"].groupby("loss")["value"].mean()
    factor = expected[chosen[0].fit_label("mad", "regression")] / expected
    scored = frame["metric"] == "test_mae"
    frame.loc[scored, "value"] = frame.loc[scored, "value"] * frame.loc[scored, "loss"].map(factor)
    names = frame["experiment"].unique()
    table = compare(frame, {name: ["test_mae"] for name in names})
    return familywise(table, count)


def _report(name: str, trials: int, false: int, count: int, old: int | None = None) -> None:
    low, high = binomtest(false, count).proportion_ci(0.95, method="exact")
    before = f"{old / count:>9.1%}" if old is not None else f"{'':>9}"
    print(f"{name:<18} {trials:>6}  {false / count:>8.1%}  [{low:.1%}, {high:.1%}]  {count:>6}"
          f"  {before}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=1000)
    parser.add_argument("--trials", default="10,20,50")
    parser.add_argument("--population", type=int, default=4000)
    parser.add_argument("--rows", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", default="", help="comma-separated names (default: all)")
    args = parser.parse_args()
    sizes = [int(n) for n in args.trials.split(",")]
    start = time.perf_counter()
    print("familywise false verdicts (target ≤ 5%), Clopper-Pearson 95% interval")
    print("case               trials     rate  interval      experiments  Wilcoxon+Holm")
    pools = {
        "exchangeable": (lambda: population("gaussian", args.population, args.jobs, args.seed),
                         "mean", True, None),
        "equal means": (lambda: population("student_t", args.population, args.jobs,
                                           args.seed + 1, df=3), "mean", False, "mean"),
        "equal medians": (lambda: population("cauchy", args.population, args.jobs,
                                             args.seed + 2), "median", False, "median"),
        # df = 2: no variance; the dataset declares the median there (issue 39)
        "t(2) medians": (lambda: population("student_t", args.population, args.jobs,
                                            args.seed + 3, df=2), "median", False, "median"),
    }  # fmt: skip
    chosen = [c for c in args.cases.split(",") if c] or [*pools, "cross-validation"]
    for name, (make, statistic, shuffle, rescale) in pools.items():
        if name not in chosen:
            continue
        pool = make()
        for trials in sizes:
            false, count, old = case_resampled(
                pool, trials, args.experiments, args.seed + trials, statistic, shuffle, rescale
            )
            _report(name, trials, false, count, old)
    if "cross-validation" in chosen:
        false, count = case_cross_validation(args.experiments, args.rows, args.jobs, args.seed)
        _report("cross-validation", 10, false, count)
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
