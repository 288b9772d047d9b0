"""The answer first: per dataset, which loss to use, from the run's paired comparisons only.

A loss is recommended only where its comparison with the baseline says ``better`` and, when
others are better too, where it is also better than each of them (the ``ranking`` family);
otherwise the answer is "any of" those not shown worse. Where every comparison is
``equivalent`` any loss will do; where the baseline beats all the others it is the answer;
anything else is said to be undecided, with what would decide it. Nothing here names a winner
that `comparisons.csv` does not support.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from lossbench import text
from lossbench.errors import LossbenchError
from lossbench.losses import labels
from lossbench.report.numbers import percent as _percent

__all__ = ["against_baseline", "answer", "markdown", "within_sweeps"]

RANKING = "ranking"


def against_baseline(comparisons: pd.DataFrame) -> pd.DataFrame:
    """The rows that compare a loss with its experiment's baseline (not the ranking's)."""
    if "family" not in comparisons:  # a run from before there were families
        return comparisons
    return comparisons[comparisons["family"] != RANKING]


def within_sweeps(ranked: pd.DataFrame) -> pd.DataFrame:
    """The ranking rows that compare a sweep's best setting with its other settings (two
    settings of one loss); the others compare the most improved winner with the rest."""
    pairs = zip(ranked["loss"], ranked["baseline"], strict=True)
    return ranked[[_same_loss(a, b) for a, b in pairs]] if len(ranked) else ranked


def answer(comparisons: pd.DataFrame, shown: Callable[[str], str] = str) -> list[str]:
    """One line per (experiment, dataset) that was compared; every name in it passed through
    `shown` (`lossbench.text.markdown` for markdown: names are data)."""
    if comparisons is None or not len(comparisons):
        return []
    lines = []
    ranking = comparisons[~comparisons.index.isin(against_baseline(comparisons).index)]
    for (experiment, dataset), rows in against_baseline(comparisons).groupby(
        ["experiment", "dataset"], sort=False
    ):
        baseline, metric = rows["baseline"].iloc[0], rows["metric"].iloc[0]
        where = f"{shown(dataset)} ({shown(experiment)}, {shown(metric)})"
        model = str(rows["model"].iloc[0]) if "model" in rows else ""
        # a loss fitted with other than the linear model is named with its model
        name = _with_model(model, shown) if model not in ("", "nan", "linear") else shown
        baseline = name(baseline)
        better = rows[rows["verdict"] == "better"]
        ranked = ranking[(ranking["experiment"] == experiment) & (ranking["dataset"] == dataset)]
        if len(better):
            lines.append(f"{where}: {_winner(better, ranked, baseline, name)}")
        elif (rows["verdict"] == "equivalent").all():
            lines.append(f"{where}: any of {baseline} and the others (equivalent within "
                         f"±{rows['margin'].iloc[0]:.0%})")  # fmt: skip
        elif (rows["verdict"] == "worse").all():
            lines.append(f"{where}: use {baseline}: every other loss is worse")
        elif unsettled := _why_no_verdict(rows):
            # the fits cannot be compared: the reason and its fix, not "more trials"
            lines.append(f"{where}: undecided, {shown(unsettled)}")
        else:
            lines.append(f"{where}: undecided: nothing is shown better than {baseline} "
                         "(see the verdicts for what would settle it)")  # fmt: skip
    return lines


def _with_model(model: str, shown: Callable[[str], str]) -> Callable[[str], str]:
    return lambda loss: f"{shown(model)} with {shown(loss)}"


def _winner(better: pd.DataFrame, ranked: pd.DataFrame, baseline: str, shown) -> str:
    """ "use A: ..." when one loss is better than the baseline and than every other that is;
    "use any of A, B: ..." when the ranking cannot tell them apart."""
    internal = within_sweeps(ranked)
    # a sweep's settings below its best are not candidates: the best stands for them
    candidates = better[~better["loss"].isin(internal["baseline"])]
    better = candidates if len(candidates) else better
    between = ranked.drop(index=internal.index)
    between = between[between["loss"].isin(better["loss"])]
    between = between[between["baseline"].isin(better["loss"])]
    beaten: set[str] = set()
    if len(between):
        top = between["loss"].iloc[0]  # the most improved, compared with each other winner
        beaten = set(between.loc[between["verdict"] == "better", "baseline"])
        better = better[~better["loss"].isin(beaten)]
    else:
        top = better.loc[better["estimate"].abs().idxmax(), "loss"]
    best = better[better["loss"] == top].iloc[0]
    evidence = (
        f"{_percent(best['estimate'])} [{_percent(best['low'])}, {_percent(best['high'])}] "
        f"against {baseline}"
    )
    if len(better) == 1:
        also = f"; better than {', '.join(map(shown, sorted(beaten)))} too" if beaten else ""
        return f"use {shown(best['loss'])}: {evidence}{also}"
    names = ", ".join(map(shown, better["loss"]))
    return (
        f"use any of {names} (each better than {baseline}, not told apart from each other "
        f"here); {shown(best['loss'])}: {evidence}"
    )


def _same_loss(first: str, second: str) -> bool:
    """Whether two labels are settings of one loss (a sweep's)."""
    try:
        return labels.parse(first).name == labels.parse(second).name
    except LossbenchError:
        return False


def _why_no_verdict(rows: pd.DataFrame) -> str:
    """The first note that says a comparison could not be a verdict ("no verdict: ..."), or ""."""
    notes = [n for n in rows.get("note", []) if isinstance(n, str) and n.startswith("no verdict")]
    return notes[0] if notes else ""


def markdown(comparisons: pd.DataFrame) -> str:
    """``summary.md``: the answer block in markdown."""
    lines = answer(comparisons, shown=text.markdown)
    body = "\n".join(f"- {line}" for line in lines) or "- no losses were compared in this run"
    return (
        "# What to use\n\n"
        "From paired comparisons with the experiment's first loss over the same trials "
        "(intervals at the level the experiment's Bonferroni-corrected family decides at, "
        "an equivalence margin; `comparisons.csv` holds the numbers).\n\n"
        f"{body}\n"
    )
