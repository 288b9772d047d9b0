"""The answer first: per dataset, which loss to use, from the run's paired comparisons only.

A loss is recommended only where its comparison with the baseline says ``better``; where every
comparison is ``equivalent`` any of them will do; where the baseline beats all the others it is
the answer; anything else is said to be undecided, with what would decide it. Nothing here
names a winner that `comparisons.csv` does not support.
"""

from __future__ import annotations

import pandas as pd

from lossbench.report.numbers import percent as _percent

__all__ = ["answer", "markdown"]


def answer(comparisons: pd.DataFrame) -> list[str]:
    """One line per (experiment, dataset) that was compared."""
    if comparisons is None or not len(comparisons):
        return []
    lines = []
    for (experiment, dataset), rows in comparisons.groupby(["experiment", "dataset"], sort=False):
        baseline, metric = rows["baseline"].iloc[0], rows["metric"].iloc[0]
        where = f"{dataset} ({experiment}, {metric})"
        better = rows[rows["verdict"] == "better"]
        if len(better):
            # the most improved of those that are really better; ties: the first listed
            best = better.loc[better["estimate"].abs().idxmax()]
            others = len(better) - 1
            also = f"; {others} other{'s' if others > 1 else ''} also better" if others else ""
            lines.append(
                f"{where}: use {best['loss']}: {_percent(best['estimate'])} "
                f"[{_percent(best['low'])}, {_percent(best['high'])}] against {baseline}{also}"
            )
        elif (rows["verdict"] == "equivalent").all():
            lines.append(f"{where}: any of {baseline} and the others (equivalent within "
                         f"±{rows['margin'].iloc[0]:.0%})")  # fmt: skip
        elif (rows["verdict"] == "worse").all():
            lines.append(f"{where}: use {baseline}: every other loss is worse")
        elif unsettled := _why_no_verdict(rows):
            # the fits cannot be compared: the reason and its fix, not "more trials"
            lines.append(f"{where}: undecided, {unsettled}")
        else:
            lines.append(f"{where}: undecided: nothing is shown better than {baseline} "
                         "(see the verdicts for what would settle it)")  # fmt: skip
    return lines


def _why_no_verdict(rows: pd.DataFrame) -> str:
    """The first note that says a comparison could not be a verdict ("no verdict: ..."), or ""."""
    notes = [n for n in rows.get("note", []) if isinstance(n, str) and n.startswith("no verdict")]
    return notes[0] if notes else ""


def markdown(comparisons: pd.DataFrame) -> str:
    """``summary.md``: the answer block in markdown."""
    lines = answer(comparisons)
    body = "\n".join(f"- {line}" for line in lines) or "- no losses were compared in this run"
    return (
        "# What to use\n\n"
        "From paired comparisons with the experiment's first loss over the same trials "
        "(intervals at the level the experiment's Bonferroni-corrected family decides at, "
        "an equivalence margin; `comparisons.csv` holds the numbers).\n\n"
        f"{body}\n"
    )
