"""``comparisons.csv``: paired comparisons of an experiment's losses over the same trials, in
families, each decided at its Bonferroni-corrected level (`lossbench.analysis.statistics`).

Families, per experiment (the ``family`` column):

- ``baseline``: every loss against the experiment's first, except a swept loss's settings;
- ``sweep <name>``: each setting of a loss run at several parameter values (a sweep) against
  the baseline: a sweep is its own family, so a long grid does not dilute the others;
- ``ranking``: where a loss is better than the baseline on a dataset, the most improved such
  loss against every other candidate, better than the baseline or not (one with a larger
  estimate but a wider interval may be as good), and a sweep's best setting against its
  other settings. Its size is fixed by the design, not by which losses won: every pair of
  the experiment's candidates (the losses outside sweeps, and one setting per sweep) and
  every pair of each sweep's settings, per dataset and metric, so choosing the pairs after
  seeing the data does not shrink the correction;
- ``models``: where an experiment fits its losses with several models (a model grid), each
  model after the first against the first, for the same loss over the same trials. The three
  families above are then per model (the ``model`` column; ``baseline_model`` is the model
  of the row's baseline, the same but for ``models`` rows).

An experiment that names several scores (a fit's ``score: [test_rmse, test_mae]``) asks one
question per score: every family above is per score (the ``metric`` column), corrected on
its own.

Each family is held to ``alpha`` (the column): FAMILYWISE_ALPHA, or with a config's
``correction: run`` FAMILYWISE_ALPHA / k over the run's k `families`, so that the whole run
holds a false verdict with probability at most FAMILYWISE_ALPHA (Bonferroni across families).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lossbench.analysis import statistics
from lossbench.analysis.constants import Verdict
from lossbench.analysis.frames import (
    against_baseline,
    keyed,
    label_columns,
    stable_seed,
    test_train,
    unkeyed,
)

__all__ = [
    "COMPARISON_COLUMNS",
    "DOMINATED",
    "MODELS",
    "ComparisonRow",
    "Settings",
    "compare",
    "decide",
    "families",
    "named",
]


@dataclass(slots=True)
class ComparisonRow:
    """One row of ``comparisons.csv`` (its fields but the last two are the columns): made
    with the test's `result` and whether the pair may decide (`settled`), then decided in its
    family (`decide`: the interval at the family's level, ``p_adjusted``, ``verdict``)."""

    experiment: str
    kind: str
    dataset: str
    x: float
    metric: str
    loss: str
    baseline: str
    estimate: float
    low: float = math.nan
    high: float = math.nan
    p: float = math.nan
    p_adjusted: float = math.nan
    verdict: str = ""
    n: int = 0
    statistic: str = ""
    margin: float = math.nan
    note: str = ""
    confidence: float = math.nan
    family: str = ""
    model: str = ""
    baseline_model: str = ""
    alpha: float = math.nan
    loss_name: str = ""
    baseline_name: str = ""
    result: Any = field(default=None, repr=False)  # statistics.Paired or PairedShares
    settled: bool = True

    @staticmethod
    def to_frame(rows: Iterable[ComparisonRow]) -> pd.DataFrame:
        """The rows as ``comparisons.csv``'s frame (`COMPARISON_COLUMNS`), each label named."""
        records = [{name: getattr(row, name) for name in COMPARISON_COLUMNS} for row in rows]
        table = pd.DataFrame(records, columns=COMPARISON_COLUMNS)
        table["x"] = unkeyed(table["x"])
        return named(table)


COMPARISON_COLUMNS = [
    f.name for f in dataclasses.fields(ComparisonRow) if f.name not in ("result", "settled")
]
BASELINE, RANKING, MODELS = "baseline", "ranking", "models"
DOMINATED = "the mean is dominated by a few trials; statistic: median would be steadier"


@dataclass(frozen=True)
class Settings:
    """How an experiment's comparisons are made: the equivalence margin, the statistic
    declared for each dataset (by label; ``mean`` where none is), and its sweeps (a loss's
    name -> the labels of its settings)."""

    margin: float = 0.01
    statistic: Mapping[str, str] = field(default_factory=dict)
    sweeps: Mapping[str, Sequence[str]] = field(default_factory=dict)


def compare(
    trials: pd.DataFrame,
    metrics: Mapping[str, list[str]],
    settings: Mapping[str, Settings] | None = None,
    *,
    higher_is_better: Collection[str] = frozenset(),
    alpha: float = statistics.FAMILYWISE_ALPHA,
) -> pd.DataFrame:
    """``comparisons.csv``: per experiment, on the metrics `metrics[experiment]` names, its
    losses compared over the same trials (paired), in the families the module describes.

    Each row is one procedure (`statistics.paired`) on the declared statistic: the relative
    difference of ``loss`` against ``baseline`` (the loss it is compared with), its unadjusted
    p-value, the p-value Bonferroni-adjusted over the row's family, and the interval at the
    level that family decides at (1 − alpha / m, the ``confidence`` column), from which the
    verdict is read: p_adjusted < alpha exactly when that interval excludes 0.
    Cross-validated datasets (they record ``n_train``/``n_test``) get Nadeau & Bengio's
    correction. A pair with a fit that did not converge, or that has no finite optimum
    (``converged`` = 0), is no verdict: ``inconclusive``, said in the note."""
    settings = settings or {}
    frame = keyed(trials)
    baselines = frame.groupby("experiment", sort=False)["loss"].first()
    rows: list[ComparisonRow] = []
    for experiment, mine in frame.groupby("experiment", sort=False):
        wanted = metrics.get(experiment, [])
        if not wanted:
            continue
        setting = settings.get(experiment, Settings())
        models = list(dict.fromkeys(mine["model"]))
        for metric in wanted:  # each score decides on its own: families apart
            for model in models:
                own = mine[mine["model"] == model]
                compared = _Experiment(own, [metric], setting, baselines, higher_is_better)
                rows += compared.rows(alpha)
            if len(models) > 1:
                across = _Experiment(mine, [metric], setting, baselines, higher_is_better)
                rows += across.across_models(models, alpha)
    return ComparisonRow.to_frame(rows)


def named(table: pd.DataFrame) -> pd.DataFrame:
    """`table` with the names of the losses its ``loss`` and ``baseline`` labels name
    (``loss_name``, ``baseline_name``): a ranking row within a sweep compares two settings of
    one loss."""
    for column in ("loss", "baseline"):
        table[f"{column}_name"] = label_columns(table[column])["loss_name"]
    return table


class _Experiment:
    """One experiment's trials on its compared metrics, and how to compare two of its losses."""

    def __init__(self, mine, wanted, setting: Settings, baselines, higher_is_better):
        self.name = mine["experiment"].iloc[0]
        self.kind = mine["kind"].iloc[0] if "kind" in mine else ""
        self.model = mine["model"].iloc[0] if "model" in mine else ""
        self.setting, self.higher = setting, higher_is_better
        self.baseline = baselines[self.name]
        self.chosen = mine[mine["metric"].isin(wanted)]
        self.paired = against_baseline(self.chosen, baselines)
        self.unsettled = _unsettled(mine, self.baseline)
        self.chosen_fits = mine[mine["metric"] == "converged"]
        self.ratios = {dataset: r for (_, dataset), r in test_train(mine).items()}
        self.swept = {
            label: name
            for name, labels in setting.sweeps.items()
            for label in labels
            if label != self.baseline
        }

    def rows(self, alpha: float) -> list[ComparisonRow]:
        families: dict[str, list[ComparisonRow]] = {}
        paired = self.paired[self.paired["loss"] != self.baseline]
        for (dataset, x, metric, loss), group in paired.groupby(
            ["dataset", "x", "metric", "loss"], sort=False, dropna=False
        ):
            own, theirs = group["value"].to_numpy(float), group["value_base"].to_numpy(float)
            why_not = self.unsettled.get((dataset, x, loss), "")
            family = f"sweep {self.swept[loss]}" if loss in self.swept else BASELINE
            row = self._row(dataset, x, metric, loss, self.baseline, own, theirs, why_not, family)
            if row is not None:
                families.setdefault(family, []).append(row)
        for found in families.values():
            _decide(found, alpha, None, self.higher)
        ranked = self._ranking([row for found in families.values() for row in found])
        _decide(ranked, alpha, self._ranking_size(), self.higher)
        return [row for found in families.values() for row in found] + ranked

    def _row(
        self,
        dataset,
        x,
        metric,
        loss,
        baseline,
        own,
        theirs,
        why_not,
        family,
        models: tuple[str, str] | None = None,
    ):
        statistic = self.setting.statistic.get(dataset, "mean")
        notes = []
        ratio = self.ratios.get(dataset, 0.0)
        if ratio:  # folds share training data
            notes.append("cross-validation: Nadeau-Bengio corrected variance")
        if statistic == "mean" and (
            statistics.mean_unstable(own[np.isfinite(own)])
            or statistics.mean_unstable(theirs[np.isfinite(theirs)])
        ):
            notes.append(DOMINATED)
        against = [baseline] if family == RANKING else []  # baseline rows keep their old seeds
        against += list(models or ())
        seed = stable_seed(self.name, dataset, x, metric, loss, *against)
        result = statistics.paired(own, theirs, statistic, test_train=ratio, seed=seed)
        if result.n == 0:
            return None
        notes = [why_not] if why_not else [n for n in [result.note, *notes] if n]
        return ComparisonRow(
            self.name,
            self.kind,
            dataset,
            x,
            metric,
            loss,
            baseline,
            result.estimate,
            p=result.p,
            n=result.n,
            statistic=statistic,
            margin=self.setting.margin,
            note="; ".join(notes),
            family=family,
            model=models[0] if models else self.model,
            baseline_model=models[1] if models else self.model,
            result=result,
            settled=not why_not,
        )

    def across_models(self, models: list[str], alpha: float) -> list[ComparisonRow]:
        """The ``models`` family: each loss fitted with each later model against the same loss
        fitted with the first, over the same trials."""
        chosen, first = self.chosen, models[0]
        unsettled = _unconverged(self.chosen_fits, first)
        found = []
        keys = ["dataset", "x", "metric", "loss"]
        base = chosen[chosen["model"] == first]
        for model in models[1:]:
            paired = chosen[chosen["model"] == model].merge(
                base[[*keys, "trial", "value"]], on=[*keys, "trial"], suffixes=("", "_base")
            )
            for (dataset, x, metric, loss), group in paired.groupby(keys, sort=False):
                own, theirs = group["value"].to_numpy(float), group["value_base"].to_numpy(float)
                why_not = unsettled.get((dataset, x, loss, model), "")
                row = self._row(
                    dataset,
                    x,
                    metric,
                    loss,
                    loss,
                    own,
                    theirs,
                    why_not,
                    MODELS,
                    models=(model, first),
                )
                if row is not None:
                    found.append(row)
        _decide(found, alpha, None, self.higher)
        return found

    def _ranking(self, decided: list[ComparisonRow]) -> list[ComparisonRow]:
        """The most improved winner against every other candidate, per dataset, x and metric;
        and each sweep's best setting against its other settings (whether or not they won)."""
        ranked = []
        groups: dict[tuple, list[ComparisonRow]] = {}
        for row in decided:
            groups.setdefault((row.dataset, row.x, row.metric), []).append(row)
        for (dataset, x, metric), rows in groups.items():
            pairs = []
            best_of = {}
            for name, labels in self.setting.sweeps.items():
                settings = [r for r in rows if r.loss in labels and r.loss != self.baseline]
                if settings:
                    best = self._most_improved(settings)
                    best_of[name] = best
                    pairs += [(best, other) for other in settings if other is not best]
            # a sweep's settings below its best are no candidates: the best stands for them
            candidates = [
                r for r in rows if r.loss not in self.swept or best_of.get(self.swept[r.loss]) is r
            ]
            winners = [r for r in candidates if r.verdict == Verdict.better]
            if winners:
                top = self._most_improved(winners)
                pairs = [(top, other) for other in candidates if other is not top] + pairs
            for first, second in pairs:
                a, b = first.loss, second.loss
                own, theirs = self._values(dataset, x, metric, a, b)
                why_not = self.unsettled.get((dataset, x, a)) or self.unsettled.get((dataset, x, b))
                row = self._row(dataset, x, metric, a, b, own, theirs, why_not or "", RANKING)
                if row is not None:
                    ranked.append(row)
        return ranked

    def _most_improved(self, rows: list[ComparisonRow]) -> ComparisonRow:
        """The row whose estimate is best for its metric (ties: the first listed)."""
        sign = 1.0 if rows[0].metric in self.higher else -1.0
        finite = [r for r in rows if math.isfinite(r.estimate)] or rows
        return max(finite, key=lambda r: sign * r.estimate)

    def _ranking_size(self) -> int:
        """m for the ranking family: every pair it could hold, per dataset, x and metric."""
        labels = list(dict.fromkeys(self.chosen["loss"]))
        others = [label for label in labels if label != self.baseline]
        candidates = len([label for label in others if label not in self.swept])
        sizes = [
            len([label for label in members if label in others])
            for members in self.setting.sweeps.values()
        ]
        candidates += sum(1 for k in sizes if k)
        pairs = math.comb(candidates, 2) + sum(math.comb(k, 2) for k in sizes)
        groups = len(self.chosen.groupby(["dataset", "x", "metric"], sort=False))
        return pairs * groups

    def _values(self, dataset, x, metric, first: str, second: str):
        """Trial-paired values of two losses on one dataset, x and metric."""
        chosen = self.chosen
        here = chosen[
            (chosen["dataset"] == dataset) & (chosen["x"] == x) & (chosen["metric"] == metric)
        ]
        a = here[here["loss"] == first][["trial", "value"]]
        b = here[here["loss"] == second][["trial", "value"]]
        both = a.merge(b, on="trial", suffixes=("", "_other"))
        return both["value"].to_numpy(float), both["value_other"].to_numpy(float)


def planned_families(
    trials: pd.DataFrame,
    metrics: Mapping[str, list[str]],
    settings: Mapping[str, Settings] | None = None,
) -> int:
    """How many families `compare` can make of these trials, by design, whatever the verdicts:
    per experiment, score and model, the baseline family, one per sweep and the ranking (where
    it could hold a pair), and the models family of a model grid. `correction: run` divides
    alpha by this: a ranking family exists only where a loss won, so counting the families a
    first pass made would let the level depend on the verdicts."""
    settings = settings or {}
    frame = keyed(trials)
    baselines = frame.groupby("experiment", sort=False)["loss"].first()
    count = 0
    for experiment, mine in frame.groupby("experiment", sort=False):
        setting = settings.get(experiment, Settings())
        models = list(dict.fromkeys(mine["model"]))
        for metric in metrics.get(experiment, []):
            for model in models:
                own = _Experiment(mine[mine["model"] == model], [metric], setting, baselines, ())
                others = [x for x in dict.fromkeys(own.chosen["loss"]) if x != own.baseline]
                count += any(x not in own.swept for x in others)  # the baseline family
                count += len({own.swept[x] for x in others if x in own.swept})  # its sweeps
                count += own._ranking_size() > 0
            count += len(models) > 1
    return count


def families(table: pd.DataFrame) -> int:
    """How many families of verdicts `table` holds: per experiment, score and family kind,
    and per model but for the models family, which holds every later model against the first
    (as `compare` makes them); rows without a test (no p-value) decide nothing."""
    if table is None or not len(table) or "p" not in table:
        return 0
    tested = table[table["p"].notna()]
    if "model" in tested and "family" in tested:
        tested = tested.assign(model=tested["model"].where(tested["family"] != MODELS, ""))
    keys = [c for c in ("experiment", "metric", "model", "family") if c in tested]
    return len(tested.drop_duplicates(keys)) if len(tested) else 0


def decide(
    found: list[ComparisonRow], alpha: float, higher_is_better: Collection[str] = ()
) -> None:
    """Decide one family of rows made elsewhere (a kind's own procedure: each row's `result`
    gives its interval at any level, `settled` whether it may decide)."""
    _decide(found, alpha, None, higher_is_better)


def _decide(found: list[ComparisonRow], alpha: float, m: int | None, higher_is_better) -> None:
    """Adjust a family's p-values (Bonferroni over `m`, or over its rows with a test) and read
    each verdict from the interval at the family's level. A family held to less than
    FAMILYWISE_ALPHA (``correction: run``: to FAMILYWISE_ALPHA / k) has its p-values adjusted
    over k as well, so that p_adjusted < FAMILYWISE_ALPHA exactly when its interval excludes 0,
    whatever the correction."""
    p = np.array([row.p for row in found], dtype=float)
    m = m if m is not None else int(np.isfinite(p).sum())
    level = alpha / max(1, m)
    adjusted = np.minimum(statistics.bonferroni(p, m) * (statistics.FAMILYWISE_ALPHA / alpha), 1.0)
    for row, p_adjusted in zip(found, adjusted, strict=True):
        row.low, row.high = row.result.interval(level)
        row.p_adjusted, row.confidence, row.alpha = p_adjusted, 1 - level, alpha
        decided = statistics.verdict(
            row.low, row.high, row.margin, higher_is_better=row.metric in higher_is_better
        )
        row.verdict = decided if row.settled else Verdict.inconclusive


def _unconverged(fits: pd.DataFrame, first: str) -> dict[tuple, str]:
    """Per (dataset, x, loss, model), why that loss fitted with `model` cannot be compared
    with it fitted with the `first` model: fits of either that did not converge."""
    failed = fits.assign(failed=fits["value"] == 0)
    per = failed.groupby(["dataset", "x", "loss", "model"], sort=False)["failed"]
    counts = per.agg(["sum", "count"])
    reasons = {}
    for (dataset, x, loss, model), (bad, total) in counts.iterrows():
        if model == first or (dataset, x, loss, first) not in counts.index:
            continue
        base_bad = int(counts.loc[(dataset, x, loss, first), "sum"])
        if int(bad) + base_bad:
            here = (failed["dataset"] == dataset) & (failed["x"] == x) & (failed["loss"] == loss)
            mine = failed[here & failed["model"].isin([model, first])]
            reasons[(dataset, x, loss, model)] = (
                f"no verdict: {int(bad)} of {total} {model} fits and {base_bad} of the "
                f"{first} fits of {loss} did not converge or have no finite optimum" + _why(mine)
            )
    return reasons


def _why(fits: pd.DataFrame) -> str:
    """The reasons the failed fits among `fits` give for themselves (each with its fix where
    one is known), most frequent first: " (reason; other reason)", or "" if none is recorded."""
    if "note" not in fits:
        return ""
    notes = fits.loc[fits["failed"], "note"]
    notes = notes[notes.astype(bool)].value_counts(sort=True)
    return f" ({'; '.join(notes.index[:2])})" if len(notes) else ""


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
            mine = failed[
                (failed["dataset"] == dataset)
                & (failed["x"] == x)
                & failed["loss"].isin([loss, baseline])
            ]
            reasons[(dataset, x, loss)] = (
                f"no verdict: {int(bad)} of {total} fits of {loss} and {int(base['sum'])} of "
                f"{int(base['count'])} of the baseline did not converge" + _why(mine)
            )
    return reasons
