"""``fit``: datasets × losses × trials; each trial fits every loss on the same data and scores
it with `lossbench.experiments.metrics`.

A loss that needs labels on continuous targets is reported "n/a" with the reason. With
``fit.method: gd`` the objective curve is kept too (metric ``objective``, x = iteration, at most
50 log-spaced points). The table shows the headline metric (`metrics.headline`) per dataset and
loss, and a verdict per dataset compares each loss with the experiment's first.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator

from lossbench.experiments.fitting import fit
from lossbench.experiments.kind import ExperimentKind, Task, register
from lossbench.experiments.metrics import (
    FIT,
    HIGHER_IS_BETTER,
    METRICS,
    REGRESSION,
    headline,
    score,
)
from lossbench.experiments.separation import separated

__all__ = ["FitExperiment", "not_applicable"]

_SEPARATED = "the classes are separable: the fit has no finite maximum-likelihood solution"


def not_applicable(loss, dataset) -> str:
    """Why `loss` cannot be fitted to `dataset` ("" if it can)."""
    if loss.labels and dataset.task == "regression":
        return f"n/a: {loss.name} needs labels in [0, 1], and these targets are continuous"
    return ""


class CrossValidation(BaseModel):
    """Repeated K-fold cross-validation for data without ground truth."""

    model_config = ConfigDict(extra="forbid")
    folds: int = Field(5, ge=2)
    repeats: PositiveInt = 10


@register
class FitExperiment(ExperimentKind):
    kind: Literal["fit"] = "fit"
    # data without truth (tables, sklearn): each trial is one fold, the same for every loss
    cv: CrossValidation = Field(default_factory=CrossValidation)
    # the metric that decides which loss is better (default: coef_error on synthetic data,
    # test_mae on real regression data, log_loss on classification)
    score: str | None = None

    @field_validator("score")
    @classmethod
    def _known_metric(cls, value: str | None) -> str | None:
        if value is not None and value not in METRICS:
            raise ValueError(f"unknown metric {value!r}; see `lossbench list metrics`")
        return value

    def tasks(self, losses, datasets, trials, seed, where):
        units = []
        for i, dataset in enumerate(datasets):
            if not dataset.cross_validated:
                units += super().tasks(losses, [dataset], trials, seed, where)
            else:
                dataset.check_folds(self.cv.folds, f"{where}.datasets[{i}]")
                runs = self.cv.folds * self.cv.repeats
                units += [Task(self, losses, dataset, t, seed) for t in range(runs)]
        return units or super().tasks(losses, datasets, trials, seed, where)

    def quick(self) -> FitExperiment:
        small = super().quick()
        small.cv.repeats = 1  # cross-validated data: one pass over the folds
        return small

    def compared_metrics(self, frame: pd.DataFrame) -> list[str]:
        return [self.score] if self.score else self.compared(frame)

    def run_task(self, task: Task) -> list[dict[str, Any]]:
        dataset, options = task.dataset, self.fit
        if dataset.cross_validated:
            sample = dataset.split(task.trial, self.cv.folds, task.seed)
        else:
            sample = dataset.sample(task.rng())
        model = "logistic" if dataset.task == "classification" else "linear"
        # separable labels: no finite maximum-likelihood fit, said once per trial
        split = model == "logistic" and separated(sample.X, sample.y)
        rows = []
        for loss in task.losses:
            label = loss.fit_label(options.scale, dataset.task)
            note = not_applicable(loss, dataset)
            if note:
                rows += [task.row(label, m, math.nan, note=note) for m in REGRESSION]
                continue
            result = fit(
                loss, sample.X, sample.y, model=model, method=options.method,
                max_iter=options.max_iter, tol=options.tol, lr=options.lr, scale=options.scale,
            )  # fmt: skip
            # classification: the same fresh labels for every loss; task.rng(1) restarts a stream
            values, notes = score(result, sample, dataset.task, task.rng(1))
            if model == "logistic":
                values["separated"] = float(split)
                if split:
                    values["coef_cosine"] = math.nan
                    notes["coef_cosine"] = f"n/a: {_SEPARATED}"
                    notes["separated"] = _SEPARATED
            rows += [
                task.row(label, metric, value, note=notes.get(metric, ""))
                for metric, value in values.items()
            ]
            rows += [
                task.row(label, "objective", result.curve[i], x=i)
                for i in _curve_points(len(result.curve))
            ]
            if dataset.cross_validated:  # the fold's sizes, for the corrected resampled t-test
                rows += [task.row(label, "n_train", float(len(sample.y))),
                         task.row(label, "n_test", float(len(sample.y_test)))]  # fmt: skip
        return rows

    # -- reading -------------------------------------------------------------------------------
    @classmethod
    def identifies(cls, metrics: set[str]) -> bool:
        return bool(set(FIT) & metrics)

    @classmethod
    def headline(cls, frame: pd.DataFrame) -> str | None:
        return headline(frame.loc[frame["mean"].notna(), "metric"]) or headline(frame["metric"])

    @classmethod
    def compared(cls, frame: pd.DataFrame) -> list[str]:
        metric = cls.headline(frame)
        return [metric] if metric else []

    @classmethod
    def render(cls, experiment: str, frame: pd.DataFrame, comparisons: pd.DataFrame) -> list[Any]:
        from rich.markup import escape

        metric = _decided_by(frame, comparisons) or cls.headline(frame)
        if metric is None:
            return []
        parts: list[Any] = [_table(experiment, frame, metric, comparisons)]
        lines = cls.verdicts(frame, comparisons) + _sweeps(frame, metric)
        if lines:
            parts.append(escape("\n".join(lines)))
        return parts

    @classmethod
    def verdicts(cls, frame: pd.DataFrame, comparisons: pd.DataFrame) -> list[str]:
        """One plain sentence per dataset and loss against the baseline, from its comparison:
        the verdict, the relative difference with its 95% interval, the Holm-adjusted p-value
        and the number of trials; an inconclusive one says what would settle it."""
        metric = _decided_by(frame, comparisons) or cls.headline(frame)
        rows = comparisons[comparisons["metric"] == metric] if len(comparisons) else comparisons
        family = len(rows)
        return [_sentence(row, family) for row in rows.itertuples()]

    @classmethod
    def figures(cls, experiment, frame, trials, palette) -> dict[str, Any]:
        metric = cls.headline(frame)
        if metric is None:
            return {}
        out = {cls.figure_name(experiment): _figure(experiment, frame, metric, palette)}
        sweep = _sweep_figure(experiment, frame, metric)
        if sweep is not None:
            out[cls.figure_name(experiment, "sweep")] = sweep
        return out


def _swept(labels) -> dict[str, list[tuple[str, dict]]]:
    """Built-in losses run at several parameter settings: name -> [(label, params)]."""
    from lossbench import losses
    from lossbench.errors import LossbenchError

    found: dict[str, list[tuple[str, dict]]] = {}
    for label in dict.fromkeys(labels):
        try:
            loss = losses.get(label)
        except LossbenchError:  # a user loss, or a derived label
            continue
        found.setdefault(loss.name, []).append((label, loss.params))
    return {name: members for name, members in found.items() if len(members) > 1}


def _sweeps(frame: pd.DataFrame, metric: str) -> list[str]:
    """For a loss swept over a parameter grid, per dataset: the best value with its interval
    (its comparisons with the baseline are in the verdicts)."""
    from lossbench.report import terminal

    rows = frame[(frame["metric"] == metric) & frame["mean"].notna()]
    higher = metric in HIGHER_IS_BETTER
    lines = []
    for name, members in _swept(rows["loss"]).items():
        mine = rows[rows["loss"].isin([label for label, _ in members])]
        for dataset, group in mine.groupby("dataset", sort=False):
            best = group.loc[group["mean"].idxmax() if higher else group["mean"].idxmin()]
            lines.append(
                f"{dataset}: of {group['loss'].nunique()} {name} settings, {best['loss']} has "
                f"the best mean {metric}: {terminal.estimate(best)} (the verdicts above say which "
                "differences are real)"
            )
    return lines


def _decided_by(frame: pd.DataFrame, comparisons: pd.DataFrame) -> str | None:
    """The metric the run compared losses on (the experiment's `score`), if it compared any."""
    return str(comparisons["metric"].iloc[0]) if len(comparisons) else None


def _sentence(row, family: int) -> str:
    """e.g. "student_t(df=3): huber(delta=1.345) is better than mse on coef_error: −28.1%
    [−33.0%, −22.4%], p = 2e-09 (Holm), 50 trials"."""
    from lossbench.report.terminal import percent as _percent

    which = "median" if row.statistic == "median" else "mean"
    difference = f"{which} {_percent(row.estimate)} [{_percent(row.low)}, {_percent(row.high)}]"
    p = f"p = {row.p_adjusted:.2g} (Holm)" if math.isfinite(row.p_adjusted) else "no test"
    evidence = f"{difference}, {p}, {row.n} trials"
    if row.verdict in ("better", "worse"):
        text = f"{row.loss} is {row.verdict} than {row.baseline} on {row.metric}: {evidence}"
    elif row.verdict == "equivalent":
        text = (
            f"{row.loss} is equivalent to {row.baseline} on {row.metric} "
            f"(within ±{row.margin:.0%}): {evidence}"
        )
    else:
        text = (
            f"{row.loss} vs {row.baseline} on {row.metric} is inconclusive: {evidence}; "
            + _what_settles_it(row, family)
        )
    note = f" ({row.note})" if isinstance(row.note, str) and row.note else ""
    return f"{row.dataset}: {text}{note}"


def _what_settles_it(row, family: int) -> str:
    if isinstance(row.note, str) and row.note.startswith("cross-validation"):
        # the corrected variance has a floor, n_test / n_train · s², that repeats cannot lower
        return "more data would settle it; more repeats of the same folds barely would"
    return _more_trials(row, family)


def _more_trials(row, family: int) -> str:
    # the exact two-sided Wilcoxon test cannot go below 2 / 2^n: with Holm over `family`
    # comparisons no verdict is possible before 2 / 2^n < alpha / family
    from lossbench.experiments.statistics import ALPHA

    needed = math.ceil(math.log2(2 * max(family, 1) / ALPHA) + 1e-9)
    if row.n < needed:
        return f"at least {needed} trials are needed for a verdict here; run more trials"
    return "more trials would narrow the interval"


def _curve_points(length: int, most: int = 50) -> list[int]:
    """Iterations at which to keep a convergence curve: all if few, else log-spaced."""
    if length <= most:
        return list(range(length))
    return sorted({0, length - 1, *np.unique(np.geomspace(1, length - 1, most - 1).astype(int))})


def _table(experiment: str, frame: pd.DataFrame, metric: str, comparisons: pd.DataFrame):
    from rich.markup import escape

    from lossbench.report import terminal
    from lossbench.report.grid import grid

    higher = metric in HIGHER_IS_BETTER
    rows = frame[frame["metric"] == metric]
    datasets = list(dict.fromkeys(frame["dataset"]))
    # colour only what a comparison supports: better than the baseline green, worse red
    colour = {"better": "bold green", "worse": "red"}
    verdict = {}
    if len(comparisons):
        mine = comparisons[comparisons["metric"] == metric]
        verdict = {(r.loss, r.dataset): colour.get(r.verdict) for r in mine.itertuples()}
    unstable = False
    cells = {}
    for loss in dict.fromkeys(frame["loss"]):
        for dataset in datasets:
            cell = rows[(rows["loss"] == loss) & (rows["dataset"] == dataset)]
            if cell.empty or math.isnan(cell["mean"].iloc[0]):
                cells[loss, dataset] = "[dim]n/a[/]"
                continue
            text = terminal.estimate(cell.iloc[0])
            unstable = unstable or text.endswith("*")
            style = verdict.get((loss, dataset))
            cells[loss, dataset] = f"[{style}]{text}[/]" if style else text
    notes = sorted({n for n in rows["note"] if isinstance(n, str) and n})
    if unstable:
        notes.append("* median [95% CI]: the mean is dominated by a few trials")
    if "n_test" in set(frame["metric"]):
        notes.append("intervals over cross-validation folds treat them as independent; the "
                     "verdicts correct for their overlap")  # fmt: skip
    title = f"{experiment}: {metric} (mean [95% CI], {'higher' if higher else 'lower'} better)"
    return grid(
        title, "loss", list(dict.fromkeys(frame["loss"])), datasets, cells, across="dataset",
        value=metric, caption=escape("; ".join(notes)) if notes else None,
    )  # fmt: skip


def _figure(experiment: str, frame: pd.DataFrame, metric: str, palette):
    from lossbench.report.plots import new_figure

    rows = frame[(frame["metric"] == metric) & frame["mean"].notna()]
    datasets = list(dict.fromkeys(rows["dataset"]))
    loss_labels = list(dict.fromkeys(rows["loss"]))
    figure, (ax,) = new_figure(max(7.0, 1.6 * len(datasets) + 3), 4.8)
    width = 0.8 / max(1, len(loss_labels))
    for j, loss in enumerate(loss_labels):
        mine = rows[rows["loss"] == loss].set_index("dataset").reindex(datasets)
        x = np.arange(len(datasets)) - 0.4 + width * (j + 0.5)
        error = np.vstack([mine["mean"] - mine["ci_low"], mine["ci_high"] - mine["mean"]])
        ax.errorbar(
            x, mine["mean"], yerr=np.nan_to_num(error), fmt="o", ms=7, capsize=4,
            color=palette(loss), label=loss,
        )  # fmt: skip
    ax.set_xticks(range(len(datasets)), datasets, rotation=15, ha="right", fontsize=9)
    positive = rows["mean"][rows["mean"] > 0]
    if len(positive) and positive.max() / positive.min() > 20:
        ax.set_yscale("log")
    better = "higher" if metric in HIGHER_IS_BETTER else "lower"
    ax.set(
        title=f"{experiment}: {metric}, mean with 95% CI ({better} is better)",
        xlabel="dataset",
        ylabel=f"{metric} ({_UNITS[metric]})" if metric in _UNITS else metric,
    )
    ax.grid(alpha=0.3)
    # beside the axes, never over a point or an error bar
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
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
    """For each loss swept over a parameter: the metric's mean with its 95% interval against
    the parameter, a line per dataset (None when nothing was swept)."""
    from lossbench.report.plots import new_figure

    rows = frame[(frame["metric"] == metric) & frame["mean"].notna()]
    swept = _swept(rows["loss"])
    if not swept:
        return None
    figure, axes = new_figure(5.5 * len(swept), 4.4, columns=len(swept))
    for ax, (name, members) in zip(axes, swept.items(), strict=True):
        varying = [k for k in members[0][1] if len({str(p[k]) for _, p in members}) > 1]
        parameter = varying[0] if varying else next(iter(members[0][1]), "setting")
        for dataset, mine in rows[rows["loss"].isin([m[0] for m in members])].groupby(
            "dataset", sort=False
        ):
            values = {label: params.get(parameter) for label, params in members}
            mine = mine.assign(at=mine["loss"].map(values)).sort_values("at")
            error = np.vstack([mine["mean"] - mine["ci_low"], mine["ci_high"] - mine["mean"]])
            ax.errorbar(mine["at"], mine["mean"], yerr=np.nan_to_num(error), marker="o",
                        capsize=4, label=dataset)  # fmt: skip
        scale = re.search(r"scale=(\w+)", members[0][0])
        unit = f" (units of the residual scale: {scale.group(1)})" if scale else ""
        ax.set(title=f"{name}: {metric} against {parameter}", xlabel=f"{parameter}{unit}",
               ylabel=f"{metric}, mean with 95% CI")  # fmt: skip
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    figure.suptitle(f"{experiment}: swept loss parameters", fontsize=13)
    return figure
