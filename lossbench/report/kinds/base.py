"""The base of every view (`View`), the registry (`VIEWS`, `register`, `view_of`) and the
tables views share (`headline_table`, `curve_table`)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import pandas as pd

from lossbench.analysis.constants import Verdict
from lossbench.experiments import KINDS
from lossbench.experiments.metrics import HIGHER_IS_BETTER
from lossbench.report import numbers
from lossbench.report.answer import against_baseline
from lossbench.report.grid import Grid, grid

__all__ = [
    "VIEWS",
    "View",
    "curve_table",
    "figure_name",
    "headline_table",
    "register",
    "slug",
    "view_of",
]


class View:
    """The reading of one experiment kind; subclasses set `kind` and override what they show."""

    kind: ClassVar[str] = ""

    @classmethod
    def headline(cls, frame: pd.DataFrame) -> str | None:
        """The metric that judges the kind's losses (the kind's own choice)."""
        known = KINDS.get(cls.kind or _kind(frame))
        return known.headline(frame) if known is not None else None

    @classmethod
    def render(cls, experiment: str, frame: pd.DataFrame, comparisons: pd.DataFrame) -> list[Any]:
        """Terminal output for an experiment's summary rows: rich renderables and lines."""
        metric = cls.headline(frame)
        if metric is None:
            return []
        return [headline_table(experiment, frame, metric, comparisons)]

    @classmethod
    def verdicts(cls, frame: pd.DataFrame, comparisons: pd.DataFrame) -> list[str]:
        """Plain sentences: what the numbers say."""
        return []

    @classmethod
    def figures(
        cls, experiment: str, frame: pd.DataFrame, trials: pd.DataFrame, palette: Any
    ) -> dict[str, Any]:
        """name -> matplotlib Figure for the report (only called with matplotlib present)."""
        return {}


VIEWS: dict[str, type[View]] = {}


def register(cls: type[View]) -> type[View]:
    """Class decorator: make a view the reading of experiments of kind `cls.kind`."""
    VIEWS[cls.kind] = cls
    return cls


def view_of(frame: pd.DataFrame) -> type[View] | None:
    """The view for one experiment's summary rows: its kind's, the base view for a kind
    registered without one, None for a kind unknown here."""
    kind = _kind(frame)
    if kind in VIEWS:
        return VIEWS[kind]
    return View if kind in KINDS else None


def _kind(frame: pd.DataFrame) -> str:
    return str(frame["kind"].iloc[0]) if "kind" in frame and len(frame) else ""


def slug(name: str) -> str:
    """`name` safe as part of a file name: letters, digits, '-' and '_'."""
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)


def figure_name(kind: str, experiment: str, what: str = "") -> str:
    """A file-safe name for a figure of `experiment`: ``<kind>-<experiment>[-what]``, or
    ``<kind>[-what]`` when the experiment is named as its kind (no ``influence-influence``)."""
    name = slug(experiment)
    stem = kind if name == kind else f"{kind}-{name}"
    return stem + (f"-{what}" if what else "")


def headline_table(
    experiment: str, frame: pd.DataFrame, metric: str, comparisons: pd.DataFrame
) -> Grid:
    """Loss × dataset: `metric`'s estimate per cell, green where the comparison with the
    baseline says better, red where worse."""

    higher = metric in HIGHER_IS_BETTER
    rows = frame[frame["metric"] == metric]
    datasets = list(dict.fromkeys(frame["dataset"]))
    # colour only what a comparison supports: better than the baseline green, worse red
    colour = {Verdict.better: "bold green", Verdict.worse: "red"}
    verdict = {}
    if len(comparisons):
        mine = against_baseline(comparisons[comparisons["metric"] == metric])
        verdict = {(r.loss, r.dataset): colour.get(r.verdict) for r in mine.itertuples()}
    statistic = numbers.declared(comparisons)
    unstable = False
    cells = {}
    for loss in dict.fromkeys(frame["loss"]):
        for dataset in datasets:
            cell = rows[(rows["loss"] == loss) & (rows["dataset"] == dataset)]
            if cell.empty or math.isnan(cell["mean"].iloc[0]):
                cells[loss, dataset] = "[dim]n/a[/]"
                continue
            text = numbers.estimate(cell.iloc[0], statistic.get(dataset, "mean"))
            unstable = unstable or text.endswith("*")
            style = verdict.get((loss, dataset))
            cells[loss, dataset] = f"[{style}]{text}[/]" if style else text
    notes = sorted({n for n in rows["note"] if isinstance(n, str) and n})
    medians = [d for d in datasets if statistic.get(d) == "median"]
    if medians:
        notes.append(f"median [95% CI] on {', '.join(medians)}: the statistic declared there")
    if unstable:
        notes.append(numbers.DOMINATED_MARK)
    if "n_test" in set(frame["metric"]):
        notes.append(
            "intervals over cross-validation folds: Nadeau-Bengio corrected for their "
            "overlap, as in the verdicts"
        )
    title = f"{experiment}: {metric} (mean [95% CI], {'higher' if higher else 'lower'} better)"
    return grid(
        title,
        "loss",
        list(dict.fromkeys(frame["loss"])),
        datasets,
        cells,
        across="dataset",
        value=metric,
        caption="; ".join(notes) if notes else None,
    )


def curve_table(
    title: str, frame: pd.DataFrame, metric: str, columns: list[float], label: str
) -> Grid:
    """Loss × swept x: the mean of `metric` at each x in `columns` (headed `label`x)."""
    rows = frame[frame["metric"] == metric]
    heads = [f"{label}{numbers.fmt(x)}" for x in columns]
    cells = {}
    for loss in dict.fromkeys(rows["loss"]):
        mine = rows[rows["loss"] == loss].set_index("x")["mean"]
        cells.update(
            {
                (loss, head): numbers.fmt(mine.get(x, math.nan))
                for head, x in zip(heads, columns, strict=True)
            }
        )
    return grid(
        title,
        "loss",
        list(dict.fromkeys(rows["loss"])),
        heads,
        cells,
        across=label.rstrip("="),
        value=metric,
    )
