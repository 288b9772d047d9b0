"""Aggregation: per (experiment, dataset, loss, metric, x) statistics of the trials, and the
paired comparison of each loss with the experiment's first."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from lossbench.experiments.metrics import HIGHER_IS_BETTER

__all__ = ["SUMMARY_COLUMNS", "summarize"]

SUMMARY_COLUMNS = [
    "experiment", "dataset", "loss", "metric", "n", "mean", "std", "ci_low", "ci_high",
    "kind", "x", "baseline", "ratio", "win_rate", "note",
]  # fmt: skip


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
    kinds = frame.groupby("experiment", sort=False)["kind"].first() if "kind" in frame else {}
    summary["kind"] = summary["experiment"].map(kinds).fillna("")
    with np.errstate(divide="ignore", invalid="ignore"):
        summary["ratio"] = summary["mean"] / summary["base_mean"]
    own = summary["loss"] == summary["baseline"]
    summary.loc[own, "win_rate"] = math.nan
    summary["x"] = summary["x"].replace(-math.inf, math.nan)
    return summary[SUMMARY_COLUMNS]
