"""Aggregation: per (experiment, dataset, loss, metric, x) statistics of the trials
(`summarize`: the rows of ``summary.csv``; ``comparisons.csv`` is `analysis.comparisons`'s).
The statistics are in `lossbench.analysis.statistics`. Which metrics are better higher is
the caller's to say (``higher_is_better``: lossbench's metrics know it)."""

from __future__ import annotations

import math
from collections.abc import Collection

import numpy as np
import pandas as pd

from lossbench.analysis import statistics
from lossbench.analysis.frames import (
    LABEL_COLUMNS,
    against_baseline,
    keyed,
    label_columns,
    stable_seed,
    test_train,
    unkeyed,
)

__all__ = ["SUMMARY_COLUMNS", "summarize"]

SUMMARY_COLUMNS = [
    "experiment",
    "dataset",
    "loss",
    "metric",
    "n",
    "mean",
    "std",
    "ci_low",
    "ci_high",
    "kind",
    "x",
    "median",
    "median_low",
    "median_high",
    "mean_unstable",
    "baseline",
    "ratio",
    "win_rate",
    "efficiency",
    "efficiency_low",
    "efficiency_high",
    "note",
    "model",
    *LABEL_COLUMNS,
]
_KEYS = ["experiment", "dataset", "model", "loss", "metric", "x"]


def _spread(key: tuple, values: pd.Series, ratio: float) -> dict[str, float | bool]:
    data = values.dropna().to_numpy(dtype=float)
    low, high = statistics.mean_interval(data, seed=_seed(key), test_train=ratio)
    median_low, median_high = statistics.median_interval(data)
    return {
        "ci_low": low,
        "ci_high": high,
        "median": float(np.median(data)) if len(data) else math.nan,
        "median_low": median_low,
        "median_high": median_high,
        "mean_unstable": statistics.mean_unstable(data) if len(data) else False,
    }


def summarize(
    trials: pd.DataFrame, *, higher_is_better: Collection[str] = frozenset()
) -> pd.DataFrame:
    """Per (experiment, dataset, model, loss, metric, x): n, mean, std, the mean's 95% BCa bootstrap
    interval, the median with its order-statistic interval, whether the mean is dominated by
    single trials (`mean_unstable`), and against the experiment's first loss over the same
    trials: ratio of means, win rate (ties count half) and, for ``coef_error``, the relative
    efficiency (baseline's mean squared error over this loss's) with its interval."""
    frame = keyed(trials)
    grouped = frame.groupby(_KEYS, sort=False, dropna=False)
    summary = grouped["value"].agg(n="count", mean="mean", std="std").reset_index()
    summary["note"] = grouped["note"].agg(lambda notes: next((n for n in notes if n), "")).values
    # in the groups' own order, the order of `summary`'s rows
    ratios = test_train(frame)  # cross-validated: intervals corrected as the verdicts are
    spread = pd.DataFrame(
        [_spread(key, values, ratios.get(key[:2], 0.0)) for key, values in grouped["value"]]
    )
    summary = pd.concat([summary, spread], axis=1)

    first = frame.groupby("experiment", sort=False)["loss"].first()
    paired = against_baseline(frame, first)
    higher = paired["metric"].isin(list(higher_is_better))
    better = np.where(
        higher, paired["value"] > paired["value_base"], paired["value"] < paired["value_base"]
    )
    tie = paired["value"] == paired["value_base"]
    paired["win"] = np.where(tie, 0.5, better.astype(float))
    paired.loc[paired["value"].isna() | paired["value_base"].isna(), "win"] = math.nan
    wins = (
        paired.groupby(_KEYS, sort=False, dropna=False)
        .agg(base_mean=("value_base", "mean"), win_rate=("win", "mean"))
        .reset_index()
    )
    summary = summary.merge(wins, on=_KEYS, how="left")
    summary = summary.merge(_efficiencies(paired), on=_KEYS, how="left")
    summary["baseline"] = summary["experiment"].map(first)
    kinds = frame.groupby("experiment", sort=False)["kind"].first() if "kind" in frame else {}
    summary["kind"] = summary["experiment"].map(kinds).fillna("")
    with np.errstate(divide="ignore", invalid="ignore"):
        summary["ratio"] = summary["mean"] / summary["base_mean"]
    own = summary["loss"] == summary["baseline"]
    summary.loc[own, ["win_rate", "efficiency", "efficiency_low", "efficiency_high"]] = math.nan
    summary["x"] = unkeyed(summary["x"])
    summary[LABEL_COLUMNS] = label_columns(summary["loss"])
    return summary[SUMMARY_COLUMNS]


def _seed(key: tuple) -> int:
    """The bootstrap seed of a group: what it resamples, whatever its model (the same seed
    for the same loss under several models is harmless, and keeps a one-model run's)."""
    return stable_seed(*(part for name, part in zip(_KEYS, key, strict=True) if name != "model"))


def _efficiencies(paired: pd.DataFrame) -> pd.DataFrame:
    columns = [*_KEYS, "efficiency", "efficiency_low", "efficiency_high"]
    errors = paired[paired["metric"] == "coef_error"]
    rows = []
    for key, group in errors.groupby(_KEYS, sort=False, dropna=False):
        seed = _seed(key)
        estimate = statistics.efficiency(group["value"], group["value_base"], seed=seed)
        rows.append([*key, *estimate])
    return pd.DataFrame(rows, columns=columns)
