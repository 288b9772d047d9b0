"""How a ``fit`` experiment reads: a table of the metric that decides per dataset and loss,
one sentence per comparison with the baseline, the best setting of a swept loss, and figures
of the metric (and of it against a swept parameter). With a model grid each model has its
table, sentences and figure panel, then a sentence per loss compares the models."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from lossbench.analysis.constants import Verdict
from lossbench.analysis.frames import models_of, with_label_columns
from lossbench.analysis.statistics import MEDIAN_FEWEST, MEDIAN_RESAMPLES
from lossbench.experiments.metrics import HIGHER_IS_BETTER
from lossbench.losses.labels import names_code
from lossbench.report import numbers
from lossbench.report.answer import across_models, against_baseline, within_sweeps
from lossbench.report.kinds.base import View, figure_name, headline_table, register, slug

__all__ = ["FitView"]


@register
class FitView(View):
    kind = "fit"

    @classmethod
    def render(cls, experiment: str, frame: pd.DataFrame, comparisons: pd.DataFrame) -> list[Any]:
        from lossbench.text import markup as escape

        metric = _decided_by(comparisons) or cls.headline(frame)
        if metric is None:
            return []
        parts: list[Any] = []
        for model, own, compared in _per_model(frame, comparisons):
            title = f"{experiment} ({model})" if model else experiment
            parts.append(headline_table(title, own, metric, compared))
        lines = cls.verdicts(frame, comparisons)
        if lines:
            parts.append(escape("\n".join(lines)))
        return parts

    @classmethod
    def verdicts(cls, frame: pd.DataFrame, comparisons: pd.DataFrame) -> list[str]:
        """One plain sentence per dataset and loss against the baseline, from its comparison:
        the verdict, the relative difference with the interval that decides it, the adjusted
        p-value and the number of trials; an inconclusive one says what would settle it. Then
        the ranking: the most improved winner against every other candidate, and a swept loss's
        best setting. With a model grid, that per model, then each loss across models."""
        # each score the run judged on (`score` may list several), in its order
        metrics = list(dict.fromkeys(comparisons["metric"])) if len(comparisons) else []
        lines = []
        for metric in metrics or [cls.headline(frame)]:
            for model, own, compared in _per_model(frame, comparisons):
                rows = compared[compared["metric"] == metric] if len(compared) else compared
                versus = against_baseline(rows)
                ranked = rows.drop(index=versus.index)
                internal = within_sweeps(ranked)
                between = ranked.drop(index=internal.index)
                lines += [_sentence(row, model) for row in versus.itertuples()]
                lines += [f"ranking, {_sentence(row, model)}" for row in between.itertuples()]
                lines += _sweeps(own, metric, compared, model)
        if len(comparisons):
            lines += [_sentence(row) for row in across_models(comparisons).itertuples()]
        return lines

    @classmethod
    def figures(cls, experiment, frame, trials, palette) -> dict[str, Any]:
        metric = cls.headline(frame)
        if metric is None:
            return {}
        out = {figure_name(cls.kind, experiment): _figure(experiment, frame, metric, palette)}
        for model, own, _ in _per_model(frame, frame.iloc[:0]):
            title = f"{experiment} ({model})" if model else experiment
            sweep = _sweep_figure(title, own, metric)
            if sweep is not None:
                what = f"sweep-{slug(model)}" if model else "sweep"
                out[figure_name(cls.kind, experiment, what)] = sweep
        return out


def _swept(rows: pd.DataFrame) -> dict[str, list[str]]:
    """Built-in losses run at several parameter settings: name -> their labels, in order (from
    the summary's label columns)."""
    rows = with_label_columns(rows)
    own = rows[(rows["variant"] == "") & ~rows["loss_name"].map(names_code)]
    found: dict[str, list[str]] = {}
    for label, name in dict(zip(own["loss"], own["loss_name"], strict=True)).items():
        found.setdefault(name, []).append(label)
    return {name: members for name, members in found.items() if len(members) > 1}


def _per_model(frame: pd.DataFrame, comparisons: pd.DataFrame):
    """(model, its summary rows, its comparisons within it) for each model of a model grid;
    one (None, all rows, all but those across models) without one."""
    models = models_of(frame)
    theirs = models_of(comparisons) if len(comparisons) else models.iloc[:0]
    within = comparisons.drop(index=across_models(comparisons).index)
    names = list(dict.fromkeys(models))
    if len(names) <= 1:
        yield None, frame, within
        return
    for name in names:
        yield name, frame[models == name], within[theirs.loc[within.index] == name]


def _sweeps(
    frame: pd.DataFrame, metric: str, comparisons: pd.DataFrame, model: str | None = None
) -> list[str]:
    """For a loss swept over a parameter grid, per dataset: its best setting, and which of
    the other settings the ranking shows it better than."""
    rows = frame[(frame["metric"] == metric) & frame["mean"].notna()]
    mine = comparisons[comparisons["metric"] == metric] if len(comparisons) else comparisons
    internal = within_sweeps(mine.drop(index=against_baseline(mine).index))
    lines = []
    for name, members in _swept(rows).items():
        for dataset, group in rows[rows["loss"].isin(list(members))].groupby("dataset", sort=False):
            against = internal[internal["dataset"] == dataset]
            against = against[against["loss"].isin(list(members))]
            if not len(against):
                continue
            best = against["loss"].iloc[0]
            beaten = list(against.loc[against["verdict"] == Verdict.better, "baseline"])
            level = numbers.level(float(against["confidence"].iloc[0]))
            if len(beaten) == len(against):
                told = "better than every other setting"
            elif beaten:
                told = f"better than {', '.join(beaten)}; not told apart from the rest"
            else:
                told = "not told apart from the other settings"
            where = f"{dataset}, {model}" if model else dataset
            lines.append(
                f"{where}: of {group['loss'].nunique()} {name} settings, {best} is the most "
                f"improved against the baseline, {told} ({level} intervals, ranking family)"
            )
    return lines


def _decided_by(comparisons: pd.DataFrame) -> str | None:
    """The metric the run compared losses on (the experiment's `score`), if it compared any."""
    return str(comparisons["metric"].iloc[0]) if len(comparisons) else None


def _sentence(row, model: str | None = None) -> str:
    """e.g. "student_t(df=3): huber(delta=1.345) is better than mse on coef_error: mean −28.1%
    [−33.0%, −22.4%] (98.3% interval), p = 2e-09 (Bonferroni, 3), 50 trials": the interval is
    at the level the row's family is decided at, and it alone decides."""
    percent = numbers.percent
    which = "median" if row.statistic == "median" else "mean"
    difference = f"{which} {percent(row.estimate)} [{percent(row.low)}, {percent(row.high)}]"
    confidence = getattr(row, "confidence", math.nan)
    family = numbers.family_size(confidence)
    if family:
        difference += f" ({numbers.level(confidence)} interval)"
    if not math.isfinite(row.p_adjusted):
        p = "no test"
    elif row.p_adjusted == 0:  # no replicate crossed 0: below the resolution, 2 / B per test
        p = f"p < {2 * family / MEDIAN_RESAMPLES:.1g} (Bonferroni, {family})"
    else:
        p = f"p = {row.p_adjusted:.2g} (Bonferroni, {family})"
    evidence = f"{difference}, {p}, {row.n} trials"
    loss, baseline = row.loss, row.baseline
    if getattr(row, "family", "") == "models":  # one loss, two models
        loss, baseline = f"{row.model} with {loss}", f"{row.baseline_model} with {baseline}"
    if row.verdict in (Verdict.better, Verdict.worse):
        text = f"{loss} is {row.verdict} than {baseline} on {row.metric}: {evidence}"
    elif row.verdict == Verdict.equivalent:
        text = (
            f"{loss} is equivalent to {baseline} on {row.metric} "
            f"(within ±{row.margin:.0%}): {evidence}"
        )
    else:
        text = (
            f"{loss} vs {baseline} on {row.metric} is inconclusive: {evidence}; "
            + _what_settles_it(row)
        )
    note = f" ({row.note})" if isinstance(row.note, str) and row.note else ""
    where = f"{row.dataset}, {model}" if model else row.dataset
    return f"{where}: {text}{note}"


def _what_settles_it(row) -> str:
    if isinstance(row.note, str) and row.note.startswith("no verdict"):
        return "see why in the note"
    if row.statistic == "median" and row.n < MEDIAN_FEWEST:
        return f"at least {MEDIAN_FEWEST} trials are needed for a verdict here; run more trials"
    if isinstance(row.note, str) and row.note.startswith("cross-validation"):
        # the corrected variance has a floor, n_test / n_train · s², that repeats cannot lower
        return "more data would settle it; more repeats of the same folds barely would"
    return "more trials would narrow the interval"


def _figure(experiment: str, frame: pd.DataFrame, metric: str, palette):
    """The metric's mean with its 95% interval per dataset and loss; with a model grid one
    panel per model, all on one y-axis so the models read against each other."""
    from lossbench.report.figures import new_figure

    rows = frame[(frame["metric"] == metric) & frame["mean"].notna()]
    datasets = list(dict.fromkeys(rows["dataset"]))
    loss_labels = list(dict.fromkeys(rows["loss"]))
    panels = [(model, mine) for model, mine, _ in _per_model(rows, rows.iloc[:0])]
    width_each = max(7.0 if len(panels) == 1 else 4.5, 1.6 * len(datasets) + 3)
    figure, axes = new_figure(width_each * len(panels), 4.8, len(panels))
    width = 0.8 / max(1, len(loss_labels))
    positive = rows["mean"][(rows["mean"] > 0) & np.isfinite(rows["mean"])]
    logarithmic = len(positive) and positive.max() / positive.min() > 20
    better = "higher" if metric in HIGHER_IS_BETTER else "lower"
    for ax, (model, mine) in zip(axes, panels, strict=True):
        for j, loss in enumerate(loss_labels):
            here = mine[mine["loss"] == loss].set_index("dataset").reindex(datasets)
            x = np.arange(len(datasets)) - 0.4 + width * (j + 0.5)
            ax.errorbar(
                x,
                here["mean"],
                yerr=_bars(here),
                fmt="o",
                ms=7,
                capsize=4,
                color=palette(loss),
                label=loss,
            )
        ax.set_xticks(range(len(datasets)), datasets, rotation=15, ha="right", fontsize=9)
        if logarithmic:
            ax.set_yscale("log")
        ax.set(
            title=model or "",
            xlabel="dataset",
            ylabel=f"{metric} ({_UNITS[metric]})" if metric in _UNITS else metric,
        )
        ax.grid(alpha=0.3)
    if len(panels) > 1:  # one y-axis for every model
        low = min(ax.get_ylim()[0] for ax in axes)
        high = max(ax.get_ylim()[1] for ax in axes)
        for ax in axes:
            ax.set_ylim(low, high)
    figure.suptitle(f"{experiment}: {metric}, mean with 95% CI ({better} is better)")
    # beside the axes, never over a point or an error bar
    axes[-1].legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return figure


# what a headline metric is measured in, for axis labels
_UNITS = {
    "coef_error": "distance to the true coefficients",
    "log_loss": "nats per test point",
    "brier": "squared probability",
    "ece": "probability",
    "test_mse": "units of y, squared",
    "test_mae": "units of y",
    "test_median_ae": "units of y",
    "r2": "share of variance",
}


def _sweep_figure(experiment: str, frame: pd.DataFrame, metric: str):
    """For each loss swept over a parameter, one panel per dataset (each its own y-axis): the
    metric's mean with its 95% interval against the parameter, and the baseline's mean as a
    dashed line (None when nothing was swept)."""
    from lossbench.report.figures import new_figure

    rows = frame[(frame["metric"] == metric) & frame["mean"].notna()]
    swept = _swept(rows)
    if not swept:
        return None
    named = with_label_columns(rows).drop_duplicates("loss").set_index("loss")
    datasets = list(dict.fromkeys(rows["dataset"]))
    columns = min(3, len(datasets))
    per_loss = math.ceil(len(datasets) / columns)
    figure, axes = new_figure(
        4.6 * columns, 3.8 * per_loss * len(swept), columns, per_loss * len(swept)
    )
    for index, (name, members) in enumerate(swept.items()):
        params = {text: json.loads(str(named.at[text, "loss_params"])) for text in members}
        first = params[members[0]]
        varying = [k for k in first if len({str(p.get(k)) for p in params.values()}) > 1]
        parameter = varying[0] if varying else next(iter(first), "setting")
        values = {text: p.get(parameter) for text, p in params.items()}
        scale = named.at[members[0], "scale"]
        unit = f"\n(units of the residual scale: {scale})" if scale else ""
        panels = axes[index * per_loss * columns : (index + 1) * per_loss * columns]
        for ax, dataset in zip(panels, datasets, strict=False):
            here = rows[rows["dataset"] == dataset]
            mine = here[here["loss"].isin(list(values))]
            mine = mine.assign(at=mine["loss"].map(values)).sort_values("at")
            ax.errorbar(
                mine["at"],
                mine["mean"],
                yerr=_bars(mine),
                marker="o",
                capsize=4,
                color="C0",
                label=name,
            )
            base = here[here["loss"] == here["baseline"]]
            if len(base):
                ax.axhline(
                    base["mean"].iloc[0],
                    ls="--",
                    color="grey",
                    label=f"{base['loss'].iloc[0]} (baseline)",
                )
            ax.set(
                title=f"{name} on {dataset}",
                xlabel=f"{parameter}{unit}",
                ylabel=f"{metric}, mean with 95% CI",
            )
            ax.grid(alpha=0.3)
        for ax in panels[len(datasets) :]:
            ax.set_axis_off()
    # one legend below the panels: inside one it could cover a point or an error bar
    legend: dict[str, Any] = {}
    for ax in axes:
        legend.update(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
    figure.legend(
        legend.values(),
        legend.keys(),
        loc="outside lower center",
        ncols=min(4, len(legend)),
        fontsize=9,
    )
    figure.suptitle(f"{experiment}: swept loss parameters (each panel its own scale)", fontsize=13)
    return figure


def _bars(rows) -> np.ndarray:
    """Error bars from the interval: none where it is missing or not finite (a damaged or
    degenerate summary), never negative."""
    error = np.vstack([rows["mean"] - rows["ci_low"], rows["ci_high"] - rows["mean"]])
    return np.clip(np.nan_to_num(error, nan=0.0, posinf=0.0, neginf=0.0), 0.0, None)
