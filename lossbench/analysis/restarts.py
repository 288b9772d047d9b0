"""The ``restarts`` experiment's verdicts (``comparisons.csv`` rows): does a loss get stuck
more often than the baseline? Restart r of every loss starts from the same weights, so the
restarts pair; per dataset, the pairs of every trial are pooled and each loss's share of
stuck restarts is compared with the baseline's by `statistics.PairedShares` (McNemar's exact
test with its interval), one family per experiment, Bonferroni-corrected, and decided at the
experiment's equivalence margin (in shares of restarts). A pair with a restart of either loss
that did not converge is no verdict: its end point is no optimum."""

from __future__ import annotations

import pandas as pd

from lossbench.analysis import comparisons, statistics
from lossbench.analysis.frames import MISSING_KEY

__all__ = ["compare"]

METRIC = "stuck_share"


def compare(
    trials: pd.DataFrame, margin: float, alpha: float = statistics.FAMILYWISE_ALPHA
) -> list[comparisons.ComparisonRow]:
    """The rows of one restarts experiment's verdicts (`trials`: its rows only)."""
    name, kind = trials["experiment"].iloc[0], trials["kind"].iloc[0]
    baseline = trials["loss"].iloc[0]
    per = trials[trials["metric"].isin(["stuck", "converged"])]
    wide = per.pivot_table(
        index=["dataset", "trial", "x", "loss"], columns="metric", values="value"
    ).reset_index()
    rows: list[comparisons.ComparisonRow] = []
    for dataset, mine in wide.groupby("dataset", sort=False):
        base = mine[mine["loss"] == baseline]
        for loss in [each for each in dict.fromkeys(mine["loss"]) if each != baseline]:
            pairs = mine[mine["loss"] == loss].merge(
                base, on=["trial", "x"], suffixes=("", "_base")
            )
            stuck, theirs = pairs["stuck"] == 1, pairs["stuck_base"] == 1
            result = statistics.PairedShares(
                int((stuck & ~theirs).sum()), int((~stuck & theirs).sum()), len(pairs)
            )
            open_own = int((pairs["converged"] == 0).sum())
            open_base = int((pairs["converged_base"] == 0).sum())
            why_not = ""
            if open_own + open_base:
                why_not = (
                    f"no verdict: {open_own} of {len(pairs)} restarts of {loss} and "
                    f"{open_base} of {baseline} did not converge (their objective "
                    "still fell: raise model.epochs)"
                )
            note = why_not or (
                f"restarts paired by their initial weights: {loss} alone "
                f"stuck in {result.b}, {baseline} alone in {result.c}"
            )
            rows.append(
                comparisons.ComparisonRow(
                    name,
                    kind,
                    dataset,
                    MISSING_KEY,
                    METRIC,
                    loss,
                    baseline,
                    result.estimate,
                    p=result.p,
                    n=result.n,
                    statistic="paired share",
                    margin=margin,
                    note=note,
                    family=comparisons.BASELINE,
                    model="mlp",
                    baseline_model="mlp",
                    result=result,
                    settled=not why_not,
                )
            )
    comparisons.decide(rows, alpha)
    return rows
