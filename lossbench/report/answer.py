"""The answer first: per dataset, which loss to use, from the run's paired comparisons only.

A loss is recommended only where its comparison with the baseline says ``better`` and, when
others are better too, where it is also better than each of them (the ``ranking`` family);
otherwise the answer is "any of" those not shown worse. Where every comparison is
``equivalent`` any loss will do; where the baseline beats all the others it is the answer;
anything else is said to be undecided, with what would decide it. With a model grid the
answer is given per model, then one line per later model against the first, loss by loss
(the ``models`` family). Nothing here names a winner that `comparisons.csv` does not support.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from lossbench import text
from lossbench.analysis.frames import models_of
from lossbench.errors import LossbenchError
from lossbench.losses import labels
from lossbench.report.numbers import percent as _percent

__all__ = ["across_models", "against_baseline", "answer", "markdown", "within_sweeps"]

RANKING, MODELS = "ranking", "models"


def against_baseline(comparisons: pd.DataFrame) -> pd.DataFrame:
    """The rows that compare a loss with its experiment's baseline loss, fitted with the same
    model (not the ranking's, nor those across models)."""
    if "family" not in comparisons:  # a run from before there were families
        return comparisons
    return comparisons[~comparisons["family"].isin([RANKING, MODELS])]


def across_models(comparisons: pd.DataFrame) -> pd.DataFrame:
    """The rows that compare one loss fitted with two models (a model grid's)."""
    if "family" not in comparisons:
        return comparisons.iloc[:0]
    return comparisons[comparisons["family"] == MODELS]


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
    lines, keys = [], []
    within = against_baseline(comparisons)
    ranking = comparisons[comparisons["family"] == RANKING] if "family" in comparisons else None
    models = _models(comparisons)
    grid = {e for e, m in models.groupby("experiment")["model"] if m.nunique() > 1}
    for (experiment, dataset, model), rows in within.groupby(
        ["experiment", "dataset", models.loc[within.index, "model"]], sort=False
    ):
        baseline, metric = rows["baseline"].iloc[0], rows["metric"].iloc[0]
        where = f"{shown(dataset)} ({shown(experiment)}, {shown(metric)})"
        # a loss fitted with other than the linear model, or in a model grid, is named with it
        named = experiment in grid or model not in ("", "linear")
        name = _with_model(model, shown) if named else shown
        baseline = name(baseline)
        better = rows[rows["verdict"] == "better"]
        ranked = ranking if ranking is not None else comparisons.iloc[:0]
        ranked = ranked[(ranked["experiment"] == experiment) & (ranked["dataset"] == dataset)
                        & (models.loc[ranked.index, "model"] == model)]  # fmt: skip
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
        keys.append((experiment, dataset))
    for key, line in _model_lines(across_models(comparisons), shown):
        keys.append(key)
        lines.append(line)
    # a model grid's lines on one dataset together, in the order the datasets came
    order = {key: i for i, key in reversed(list(enumerate(keys)))}
    return [line for _, line in sorted(zip(keys, lines, strict=True), key=lambda k: order[k[0]])]


def _models(comparisons: pd.DataFrame) -> pd.DataFrame:
    """Each row's experiment and model as text ("" where none is named)."""
    return pd.DataFrame({"experiment": comparisons["experiment"], "model": models_of(comparisons)})


def _model_lines(rows: pd.DataFrame, shown: Callable[[str], str]) -> list[tuple[tuple, str]]:
    """Per dataset and later model: how it did against the first model, loss by loss (each
    line with its (experiment, dataset))."""
    lines: list[tuple[tuple, str]] = []
    if not len(rows):
        return lines
    keys = ["experiment", "dataset", "model", "baseline_model"]
    for (experiment, dataset, model, first), mine in rows.groupby(keys, sort=False):
        where = f"{shown(dataset)} ({shown(experiment)}, {shown(mine['metric'].iloc[0])})"
        said = {}
        for row in mine.itertuples():
            evidence = f"{_percent(row.estimate)} [{_percent(row.low)}, {_percent(row.high)}]"
            told = row.verdict if row.verdict != "inconclusive" else "undecided"
            shown_as = shown(row.loss) + (f" {evidence}" if told != "undecided" else "")
            said.setdefault(told, []).append(shown_as)
        if set(said) == {"better"}:
            head = f"use {shown(model)} over {shown(first)}: better with every loss"
            lines.append(((experiment, dataset), f"{where}: {head} ({', '.join(said['better'])})"))
            continue
        parts = [f"{told} with {', '.join(losses)}" for told, losses in said.items()]
        line = f"{where}: {shown(model)} against {shown(first)}: {'; '.join(parts)}"
        lines.append(((experiment, dataset), line))
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
