"""``fit``: datasets × losses × trials; each trial fits every loss on the same data and scores
it with `lossbench.experiments.metrics`.

A loss that needs labels on continuous targets is reported "n/a" with the reason. With
``fit.method: gd`` the objective curve is kept too (metric ``objective``, x = iteration, at most
50 log-spaced points). The table shows the headline metric (`metrics.headline`) per dataset and
loss, and a verdict per dataset compares each loss with the experiment's first.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import pandas as pd

from lossbench.experiments.fitting import fit
from lossbench.experiments.kind import ExperimentKind, Task, register
from lossbench.experiments.metrics import FIT, HIGHER_IS_BETTER, REGRESSION, headline, score

__all__ = ["FitExperiment", "not_applicable"]


def not_applicable(loss, dataset) -> str:
    """Why `loss` cannot be fitted to `dataset` ("" if it can)."""
    if loss.labels and dataset.task == "regression":
        return f"n/a: {loss.name} needs labels in [0, 1], and these targets are continuous"
    return ""


@register
class FitExperiment(ExperimentKind):
    kind: Literal["fit"] = "fit"

    def run_task(self, task: Task) -> list[dict[str, Any]]:
        dataset, options = task.dataset, self.fit
        sample = dataset.sample(task.rng())
        model = "logistic" if dataset.task == "classification" else "linear"
        rows = []
        for loss in task.losses:
            note = not_applicable(loss, dataset)
            if note:
                rows += [task.row(str(loss), m, math.nan, note=note) for m in REGRESSION]
                continue
            result = fit(
                loss, sample.X, sample.y, model=model, method=options.method,
                max_iter=options.max_iter, tol=options.tol, lr=options.lr,
            )  # fmt: skip
            # classification: the same fresh labels for every loss; task.rng(1) restarts a stream
            values, notes = score(result, sample, dataset.task, task.rng(1))
            rows += [
                task.row(str(loss), metric, value, note=notes.get(metric, ""))
                for metric, value in values.items()
            ]
            rows += [
                task.row(str(loss), "objective", result.curve[i], x=i)
                for i in _curve_points(len(result.curve))
            ]
        return rows

    # -- reading -------------------------------------------------------------------------------
    @classmethod
    def identifies(cls, metrics: set[str]) -> bool:
        return bool(set(FIT) & metrics)

    @classmethod
    def headline(cls, frame: pd.DataFrame) -> str | None:
        return headline(frame.loc[frame["mean"].notna(), "metric"]) or headline(frame["metric"])

    @classmethod
    def render(cls, experiment: str, frame: pd.DataFrame) -> list[Any]:
        from rich.markup import escape

        metric = cls.headline(frame)
        if metric is None:
            return []
        parts: list[Any] = [_table(experiment, frame, metric)]
        lines = cls.verdicts(frame)
        if lines:
            parts.append(escape("\n".join(lines)))
        return parts

    @classmethod
    def verdicts(cls, frame: pd.DataFrame, decisive: float = 0.75) -> list[str]:
        """One plain sentence per dataset, from the numbers: the best loss against the baseline
        (the experiment's first loss), both means, and the paired win rate. A win rate of at
        least `decisive` "beats"; a narrower one "edges out"; a baseline that stays best is
        "best" unless the runner-up wins more than 1 − `decisive` of the trials ("close")."""
        metric = cls.headline(frame)
        higher = metric in HIGHER_IS_BETTER
        lines = []
        rows = frame[(frame["metric"] == metric) & frame["mean"].notna()]
        for dataset, cells in rows.groupby("dataset", sort=False):
            cells = cells.sort_values("mean", ascending=not higher)
            base = cells[cells["loss"] == cells.iloc[0]["baseline"]]
            if base.empty or len(cells) < 2:
                continue
            best, base = cells.iloc[0], base.iloc[0]
            challenger = best if best["loss"] != base["loss"] else cells.iloc[1]
            new, old = challenger["loss"], base["loss"]
            a, b, wins = f"{challenger['mean']:.4g}", f"{base['mean']:.4g}", challenger["win_rate"]
            share = f"{wins:.0%} of trials"
            if challenger is best and wins >= decisive:
                text = f"{new} beats {old} on {metric}, {a} vs {b}, wins {share}"
            elif challenger is best:
                text = f"{new} edges out {old} on {metric}, {a} vs {b}, but wins only {share}"
            elif wins <= 1 - decisive:
                text = f"{old} is best on {metric}, {b} vs {a} for {new}, which wins {share}"
            else:
                text = f"{new} and {old} are close on {metric}, {a} vs {b}; {new} wins {share}"
            lines.append(f"{dataset}: {text}")
        return lines

    @classmethod
    def figures(cls, experiment, frame, trials, palette) -> dict[str, Any]:
        metric = cls.headline(frame)
        if metric is None:
            return {}
        return {cls.figure_name(experiment): _figure(experiment, frame, metric, palette)}


def _curve_points(length: int, most: int = 50) -> list[int]:
    """Iterations at which to keep a convergence curve: all if few, else log-spaced."""
    if length <= most:
        return list(range(length))
    return sorted({0, length - 1, *np.unique(np.geomspace(1, length - 1, most - 1).astype(int))})


def _table(experiment: str, frame: pd.DataFrame, metric: str):
    from rich.markup import escape
    from rich.table import Table

    from lossbench.report.terminal import fmt

    higher = metric in HIGHER_IS_BETTER
    rows = frame[frame["metric"] == metric]
    datasets = list(dict.fromkeys(frame["dataset"]))
    table = Table(
        title=f"{experiment}: {metric} (mean ± 95% CI, {'higher' if higher else 'lower'} better)",
        title_justify="left",
    )
    table.add_column("loss")
    for dataset in datasets:
        table.add_column(escape(dataset), justify="right")
    best = {}
    for dataset in datasets:
        cells = rows[(rows["dataset"] == dataset) & rows["mean"].notna()]
        if len(cells):
            best[dataset] = cells.loc[
                cells["mean"].idxmax() if higher else cells["mean"].idxmin(), "loss"
            ]
    for loss in dict.fromkeys(frame["loss"]):
        cells = []
        for dataset in datasets:
            cell = rows[(rows["loss"] == loss) & (rows["dataset"] == dataset)]
            if cell.empty or math.isnan(cell["mean"].iloc[0]):
                cells.append("[dim]n/a[/]")
                continue
            r = cell.iloc[0]
            half = (r["ci_high"] - r["ci_low"]) / 2 if not math.isnan(r["ci_high"]) else math.nan
            text = f"{fmt(r['mean'])} ± {fmt(half)}" if not math.isnan(half) else fmt(r["mean"])
            cells.append(f"[bold green]{text}[/]" if best.get(dataset) == loss else text)
        table.add_row(escape(loss), *cells)
    notes = sorted({n for n in rows["note"] if isinstance(n, str) and n})
    if notes:
        table.caption = escape("; ".join(notes))
    return table


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
        ylabel=f"{metric} (model units)",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    return figure
