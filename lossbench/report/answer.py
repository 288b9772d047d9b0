"""The answer first: per dataset, which loss to use, from the run's paired comparisons only.

A loss is recommended only where its comparison with the baseline says ``better`` and where
it is also better than (or equivalent to) every other candidate (the ``ranking`` family);
otherwise the answer is "any of" it and those the ranking cannot tell from it. Where every
comparison is ``equivalent`` any loss will do; where the baseline beats all the others it is
the answer; anything else is said to be undecided, with what would decide it. With a model
grid the answer is given per model, then one line per later model against the first, loss by
loss (the ``models`` family). Nothing here names a winner that `comparisons.csv` does not support.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import pandas as pd

from lossbench import text
from lossbench.analysis.comparisons import families
from lossbench.analysis.constants import FAMILYWISE_ALPHA, Verdict
from lossbench.analysis.frames import models_of, with_names
from lossbench.report.numbers import difference

__all__ = [
    "across_models",
    "against_baseline",
    "answer",
    "markdown",
    "run_level",
    "within_sweeps",
]

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
    if not len(ranked):
        return ranked
    named = with_names(ranked, "loss", "baseline")
    return ranked[named["loss_name"] == named["baseline_name"]]


def answer(comparisons: pd.DataFrame, shown: Callable[[str], str] = str) -> list[str]:
    """One line per (experiment, dataset) that was compared; every name in it passed through
    `shown` (`lossbench.text.markdown` for markdown: names are data)."""
    if comparisons is None or not len(comparisons):
        return []
    comparisons = with_names(comparisons, "loss", "baseline")
    lines, keys = [], []
    within = against_baseline(comparisons)
    ranking = comparisons[comparisons["family"] == RANKING] if "family" in comparisons else None
    models = _models(comparisons)
    grid = {e for e, m in models.groupby("experiment")["model"] if m.nunique() > 1}
    metric_of = within["metric"]
    for (experiment, dataset, model, metric), rows in within.groupby(
        ["experiment", "dataset", models.loc[within.index, "model"], metric_of], sort=False
    ):
        baseline = rows["baseline"].iloc[0]
        # a loss fitted with other than the linear model, or in a model grid, is named with it
        named = experiment in grid or model not in ("", "linear")
        said = [shown(experiment), *([shown(model)] if named else []), shown(metric)]
        where = f"{shown(dataset)} ({', '.join(said)})"
        name = _with_model(model, shown) if named else shown
        baseline_named = name(baseline)
        better = rows[rows["verdict"] == Verdict.better]
        worse = rows[rows["verdict"] == Verdict.worse]
        ranked = ranking if ranking is not None else comparisons.iloc[:0]
        ranked = ranked[
            (ranked["experiment"] == experiment)
            & (ranked["dataset"] == dataset)
            & (models.loc[ranked.index, "model"] == model)
            & (ranked["metric"] == metric)
        ]
        if len(better):
            line = _winner(better, ranked, baseline_named, name)
        elif (rows["verdict"] == Verdict.equivalent).all():
            line = (
                f"any of {baseline_named} and the others (equivalent within "
                f"±{rows['margin'].iloc[0]:.0%})"
            )
        elif len(worse) == len(rows):
            line = f"keep {baseline_named}: every other loss is worse"
        elif len(worse):  # nothing better, some worse: the baseline stands
            rest = rows[rows["verdict"] != Verdict.worse]
            line = (
                f"keep {baseline_named}: {', '.join(map(name, worse['loss']))} worse, "
                f"nothing better ({', '.join(map(name, rest['loss']))} "
                f"{_not_told(rest)})"
            )
        elif unsettled := _why_no_verdict(rows):
            # the fits cannot be compared: the reason and its fix, not "more trials"
            line = f"undecided, {shown(unsettled)}"
        else:
            line = (
                f"undecided: nothing is shown better than {baseline_named} (see the "
                "verdicts for what would settle it)"
            )
        names = [rows["baseline_name"].iloc[0], *rows["loss_name"]]
        own = _own_criterion(metric, names, _observed(rows, metric), shown)
        lines.append(f"{where}: {line}{own}")
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
    keys = ["experiment", "dataset", "model", "baseline_model", "metric"]  # a line per score
    for (experiment, dataset, model, first, metric), mine in rows.groupby(keys, sort=False):
        where = f"{shown(dataset)} ({shown(experiment)}, {shown(metric)})"
        said: dict[str, list[str]] = {}
        for row in mine.itertuples():
            shown_as = functools.partial(difference, statistic=getattr(row, "statistic", "mean"))
            evidence = f"{shown_as(row.estimate)} [{shown_as(row.low)}, {shown_as(row.high)}]"
            told = row.verdict if row.verdict != Verdict.inconclusive else "undecided"
            entry = shown(row.loss) + (f" {evidence}" if told != "undecided" else "")
            said.setdefault(told, []).append(entry)
        if set(said) == {Verdict.better}:
            head = f"use {shown(model)} over {shown(first)}: better with every loss"
            lines.append(((experiment, dataset), f"{where}: {head} ({', '.join(said['better'])})"))
            continue
        parts = [f"{told} with {', '.join(losses)}" for told, losses in said.items()]
        line = f"{where}: {shown(model)} against {shown(first)}: {'; '.join(parts)}"
        lines.append(((experiment, dataset), line))
    return lines


# the score each loss minimizes on its training rows: judged on it, that loss is favoured by
# construction (the median minimizes absolute error, the mean squared error, the predicted
# probability log loss and, on probabilities, squared error is the Brier score)
OWN_CRITERION = {
    "test_mae": ("mae",),
    "test_rmse": ("mse",),
    "r2": ("mse",),
    "log_loss": ("bce", "bce_logits", "cross_entropy"),
    "brier": ("mse",),
}


def _own_criterion(metric: str, names: list[str], observed: bool, shown) -> str:
    """ "; test_mae is what mae minimizes in training (it favours mae)" where a compared loss
    (`names`: the losses' names) minimizes the score that judges it on observed targets (""
    otherwise: a score against the noise-free truth favours no loss by construction)."""
    own = [shown(name) for name in OWN_CRITERION.get(metric, ()) if name in names]
    if not own or not observed:
        return ""
    them = " and ".join(own)
    verb = "minimizes" if len(own) == 1 else "minimize"
    return f"; {shown(metric)} is what {them} {verb} in training (it favours {them})"


def _observed(rows: pd.DataFrame, metric: str) -> bool:
    """Whether the rows' score is taken on observed targets: labels, or held-out folds."""
    if metric in ("log_loss", "brier"):
        return True
    notes = rows["note"].astype("string").fillna("") if "note" in rows else None
    return notes is not None and bool(notes.str.contains("cross-validation").any())


def _not_told(rows: pd.DataFrame) -> str:
    """How the losses neither better nor worse stand: equivalent, withheld, not told apart."""
    if (rows["verdict"] == Verdict.equivalent).all():
        return "equivalent"
    if _why_no_verdict(rows):
        return "without a verdict: see the notes"
    return "not told apart from it"


def _with_model(model: str, shown: Callable[[str], str]) -> Callable[[str], str]:
    return lambda loss: f"{shown(model)} with {shown(loss)}"


def _winner(better: pd.DataFrame, ranked: pd.DataFrame, baseline: str, shown) -> str:
    """ "use A: ..." when A, the most improved loss better than the baseline, is also better
    than (or equivalent to) every other candidate in the ranking; "use any of A, B, ..." with
    those the ranking cannot tell from A, better than the baseline or not."""
    internal = within_sweeps(ranked)
    # a sweep's settings below its best are not candidates: the best stands for them
    candidates = better[~better["loss"].isin(internal["baseline"])]
    better = candidates if len(candidates) else better
    between = ranked.drop(index=internal.index)
    between = between[between["loss"].isin(better["loss"])]
    if len(between):
        top = between["loss"].iloc[0]  # the most improved, compared with every other candidate
        mine = between[between["loss"] == top]
        beaten = list(mine.loc[mine["verdict"] == Verdict.better, "baseline"])
        level = {Verdict.better, Verdict.equivalent}
        open_ = list(mine.loc[~mine["verdict"].isin(level), "baseline"])
    else:
        top, beaten, open_ = better.loc[better["estimate"].abs().idxmax(), "loss"], [], []
    best = better[better["loss"] == top].iloc[0]
    shown_as = functools.partial(difference, statistic=best.get("statistic", "mean"))
    evidence = (
        f"{shown_as(best['estimate'])} [{shown_as(best['low'])}, {shown_as(best['high'])}] "
        f"against {baseline}"
    )
    if not open_:
        also = f"; better than {', '.join(map(shown, sorted(beaten)))} too" if beaten else ""
        return f"use {shown(best['loss'])}: {evidence}{also}"
    names = ", ".join(map(shown, [top, *open_]))
    winners = set(better["loss"])
    if all(loss in winners for loss in open_):
        how = f"each better than {baseline}, not told apart from each other here"
    else:
        how = f"{shown(top)} better than {baseline}; not told apart from the others here"
    return f"use any of {names} ({how}); {shown(best['loss'])}: {evidence}"


def _why_no_verdict(rows: pd.DataFrame) -> str:
    """The first note that says a comparison could not be a verdict ("no verdict: ..."), or ""."""
    notes = [n for n in rows.get("note", []) if isinstance(n, str) and n.startswith("no verdict")]
    return notes[0] if notes else ""


def run_level(comparisons: pd.DataFrame) -> str | None:
    """What the whole run risks: each family of verdicts (an experiment's comparisons on one
    score, of one kind: with the baseline, within a sweep, the ranking, across models) is
    held to its ``alpha``; over k families, the chance of any false verdict in the run is at
    most their sum (the union bound): k × FAMILYWISE_ALPHA, or FAMILYWISE_ALPHA under
    ``correction: run``. None where nothing decided."""
    k = families(comparisons)
    if k == 0:
        return None
    tested = comparisons[comparisons["p"].notna()]
    held = tested["alpha"].dropna().unique() if "alpha" in tested else []
    if len(held) == 1 and held[0] < FAMILYWISE_ALPHA:  # correction: run, over the families
        planned = round(FAMILYWISE_ALPHA / held[0])  # the design could make, not only these
        return (
            f"{planned} families of verdicts, each held to {FAMILYWISE_ALPHA:.0%} / {planned} "
            f"(correction: run): at most {FAMILYWISE_ALPHA:.0%} for the whole run"
        )
    if k == 1:
        return None
    bound = min(1.0, k * FAMILYWISE_ALPHA)
    return (
        f"{k} families of verdicts, each at most {FAMILYWISE_ALPHA:.0%} likely to hold a false "
        f"one: at most {bound:.0%} for the whole run (union bound; correction: run holds the "
        f"whole run to {FAMILYWISE_ALPHA:.0%})"
    )


def markdown(comparisons: pd.DataFrame) -> str:
    """``summary.md``: the answer block in markdown."""
    lines = answer(comparisons, shown=text.markdown)
    body = "\n".join(f"- {line}" for line in lines) or "- no losses were compared in this run"
    risk = run_level(comparisons)
    return (
        "# What to use\n\n"
        "From paired comparisons with the experiment's first loss over the same trials "
        "(intervals at the level the experiment's Bonferroni-corrected family decides at, "
        "an equivalence margin; `comparisons.csv` holds the numbers).\n\n"
        f"{body}\n" + (f"\n{text.markdown(risk)}.\n" if risk else "")
    )
