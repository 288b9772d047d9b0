"""Aggregation: per (experiment, dataset, loss, metric, x) statistics of the trials
(`summarize`), and each loss compared with the experiment's first over the same trials
(`compare`: the rows of ``comparisons.csv``). The statistics are in
`lossbench.analysis.statistics`. Which metrics are better higher is the caller's to say
(``higher_is_better``: lossbench's metrics know it)."""

from __future__ import annotations

import math
import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lossbench.analysis import statistics
from lossbench.analysis.frames import against_baseline, keyed, unkeyed

__all__ = ["COMPARISON_COLUMNS", "SUMMARY_COLUMNS", "Settings", "compare", "summarize"]

SUMMARY_COLUMNS = [
    "experiment", "dataset", "loss", "metric", "n", "mean", "std", "ci_low", "ci_high",
    "kind", "x", "median", "median_low", "median_high", "mean_unstable", "baseline", "ratio",
    "win_rate", "efficiency", "efficiency_low", "efficiency_high", "note",
]  # fmt: skip
COMPARISON_COLUMNS = [
    "experiment", "kind", "dataset", "x", "metric", "loss", "baseline", "estimate", "low", "high",
    "p", "p_adjusted", "verdict", "n", "statistic", "margin", "note", "confidence",
]  # fmt: skip
_KEYS = ["experiment", "dataset", "loss", "metric", "x"]


def _seed(*parts: object) -> int:
    """A bootstrap seed that depends only on what is resampled (stable across processes)."""
    return zlib.crc32("|".join(map(str, parts)).encode())


def _spread(key: tuple, values: pd.Series) -> dict[str, float | bool]:
    data = values.dropna().to_numpy(dtype=float)
    low, high = statistics.mean_interval(data, seed=_seed(*key))
    median_low, median_high = statistics.median_interval(data)
    return {
        "ci_low": low, "ci_high": high,
        "median": float(np.median(data)) if len(data) else math.nan,
        "median_low": median_low, "median_high": median_high,
        "mean_unstable": statistics.mean_unstable(data) if len(data) else False,
    }  # fmt: skip


def summarize(
    trials: pd.DataFrame, *, higher_is_better: Collection[str] = frozenset()
) -> pd.DataFrame:
    """Per (experiment, dataset, loss, metric, x): n, mean, std, the mean's 95% BCa bootstrap
    interval, the median with its order-statistic interval, whether the mean is dominated by
    single trials (`mean_unstable`), and against the experiment's first loss over the same
    trials: ratio of means, win rate (ties count half) and, for ``coef_error``, the relative
    efficiency (baseline's mean squared error over this loss's) with its interval."""
    frame = keyed(trials)
    grouped = frame.groupby(_KEYS, sort=False, dropna=False)
    summary = grouped["value"].agg(n="count", mean="mean", std="std").reset_index()
    summary["note"] = grouped["note"].agg(lambda notes: next((n for n in notes if n), "")).values
    # in the groups' own order, the order of `summary`'s rows
    spread = pd.DataFrame([_spread(key, values) for key, values in grouped["value"]])
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
    return summary[SUMMARY_COLUMNS]


def _efficiencies(paired: pd.DataFrame) -> pd.DataFrame:
    columns = [*_KEYS, "efficiency", "efficiency_low", "efficiency_high"]
    errors = paired[paired["metric"] == "coef_error"]
    rows = []
    for key, group in errors.groupby(_KEYS, sort=False, dropna=False):
        estimate = statistics.efficiency(group["value"], group["value_base"], seed=_seed(*key))
        rows.append([*key, *estimate])
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True)
class Settings:
    """How an experiment's comparisons are made: the equivalence margin, and the statistic
    declared for each dataset (by label; ``mean`` where none is)."""

    margin: float = 0.01
    statistic: Mapping[str, str] = field(default_factory=dict)


DOMINATED = "the mean is dominated by a few trials; statistic: median would be steadier"


def compare(
    trials: pd.DataFrame,
    metrics: Mapping[str, list[str]],
    settings: Mapping[str, Settings] | None = None,
    *,
    higher_is_better: Collection[str] = frozenset(),
    alpha: float = statistics.FAMILYWISE_ALPHA,
) -> pd.DataFrame:
    """``comparisons.csv``: every loss against its experiment's first loss, per dataset and x,
    on the metrics `metrics[experiment]` names, over the same trials (paired).

    Each row is one procedure (`statistics.paired`) on the declared statistic: the relative
    difference, its unadjusted p-value, the p-value Bonferroni-adjusted over the experiment's
    comparisons, and the interval at the level that family decides at (1 − alpha / m, the
    ``confidence`` column), from which the verdict is read: p_adjusted < alpha exactly when
    that interval excludes 0. Cross-validated datasets (they record ``n_train``/``n_test``) get
    Nadeau & Bengio's correction. A pair with a fit that did not converge, or that has no finite
    optimum (``converged`` = 0), is no verdict: ``inconclusive``, said in the note."""
    settings = settings or {}
    frame = keyed(trials)
    baselines = frame.groupby("experiment", sort=False)["loss"].first()
    rows = []
    for experiment, mine in frame.groupby("experiment", sort=False):
        wanted = metrics.get(experiment, [])
        if not wanted:
            continue
        setting = settings.get(experiment, Settings())
        baseline = baselines[experiment]
        chosen = mine[mine["metric"].isin(wanted)]
        paired = against_baseline(chosen, baselines)
        paired = paired[paired["loss"] != baseline]
        unsettled = _unsettled(mine, baseline)
        found = []
        # cross-validated datasets record their folds' sizes: n_test / n_train per dataset
        folds = mine[mine["metric"].isin(["n_train", "n_test"])]
        sizes = folds.pivot_table(index="dataset", columns="metric", values="value")
        for (dataset, x, metric, loss), group in paired.groupby(
            ["dataset", "x", "metric", "loss"], sort=False, dropna=False
        ):
            own, theirs = group["value"].to_numpy(float), group["value_base"].to_numpy(float)
            statistic = setting.statistic.get(dataset, "mean")
            notes = []
            if len(sizes) and dataset in sizes.index:  # folds share training data
                ratio = float(sizes.loc[dataset, "n_test"] / sizes.loc[dataset, "n_train"])
                notes.append("cross-validation: Nadeau-Bengio corrected variance")
            else:
                ratio = 0.0
            if statistic == "mean" and (
                statistics.mean_unstable(own[np.isfinite(own)])
                or statistics.mean_unstable(theirs[np.isfinite(theirs)])
            ):
                notes.append(DOMINATED)
            seed = _seed(experiment, dataset, x, metric, loss)
            result = statistics.paired(own, theirs, statistic, test_train=ratio, seed=seed)
            if result.n == 0:
                continue
            why_not = unsettled.get((dataset, x, loss), "")
            notes = [why_not] if why_not else [n for n in [result.note, *notes] if n]
            found.append({
                "experiment": experiment, "kind": group["kind"].iloc[0] if "kind" in group else "",
                "dataset": dataset, "x": x, "metric": metric, "loss": loss, "baseline": baseline,
                "estimate": result.estimate, "p": result.p, "n": result.n,
                "statistic": statistic, "margin": setting.margin, "note": "; ".join(notes),
                "_result": result, "_settled": not why_not,
            })  # fmt: skip
        adjusted = statistics.bonferroni(np.array([row["p"] for row in found], dtype=float))
        level = alpha / max(1, int(np.isfinite(adjusted).sum()))
        for row, p_adjusted in zip(found, adjusted, strict=True):
            result, settled = row.pop("_result"), row.pop("_settled")
            row["low"], row["high"] = result.interval(level)
            row["p_adjusted"], row["confidence"] = p_adjusted, 1 - level
            decided = statistics.verdict(
                row["low"], row["high"], row["margin"],
                higher_is_better=row["metric"] in higher_is_better,
            )  # fmt: skip
            row["verdict"] = decided if settled else "inconclusive"
        rows += found
    table = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    table["x"] = unkeyed(table["x"])
    return table


def _unsettled(trials: pd.DataFrame, baseline: str) -> dict[tuple, str]:
    """Per (dataset, x, loss), why its comparison with the baseline cannot be a verdict: fits
    of either that did not converge, or that have no finite optimum (separable labels)."""
    fits = trials[trials["metric"] == "converged"]
    if not len(fits):
        return {}
    separated = trials[trials["metric"] == "separated"]
    apart = separated[separated["value"] == 1]  # one row per loss: count the trials
    split = apart.groupby(["dataset", "x"])["trial"].nunique()
    failed = fits.assign(failed=fits["value"] == 0)
    per = failed.groupby(["dataset", "x", "loss"], sort=False)["failed"].agg(["sum", "count"])
    reasons = {}
    for (dataset, x, loss), (bad, total) in per.iterrows():
        if loss == baseline or (dataset, x, baseline) not in per.index:
            continue
        base = per.loc[(dataset, x, baseline)]
        if not int(bad) + int(base["sum"]):
            continue
        apart = int(split.get((dataset, x), 0))
        if apart:
            reasons[(dataset, x, loss)] = (
                f"no verdict: the training labels are separable in {apart} of {total} trials, "
                "where a fit has no finite optimum; set fit.l2 (a ridge penalty) to compare"
            )
        else:
            reasons[(dataset, x, loss)] = (
                f"no verdict: {int(bad)} of {total} fits of {loss} and {int(base['sum'])} of "
                f"{int(base['count'])} of the baseline did not converge; raise fit.max_iter"
            )
    return reasons
