"""How a ``landscape`` experiment reads: per loss, how many verified minima its random starts
found and where the others ended; the final objective of each start, one panel per loss."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lossbench.experiments.kinds.landscape import END_POINTS
from lossbench.report.kinds.base import View, figure_name, register
from lossbench.report.numbers import fmt

__all__ = ["LandscapeView"]


@register
class LandscapeView(View):
    kind = "landscape"

    @classmethod
    def render(cls, experiment: str, frame: pd.DataFrame, comparisons: pd.DataFrame) -> list[Any]:
        from rich.table import Table

        from lossbench.text import markup as escape

        table = Table(
            title=escape(f"{experiment}: a sigmoid unit from random starts (mean over trials)"),
            title_justify="left",
        )
        columns = (
            "loss",
            "verified minima",
            "minimum",
            "plateau",
            "→ ∞",
            "not stationary",
            "objective spread",
        )
        for column in columns:
            table.add_column(column, justify="left" if column == "loss" else "right")
        for loss, rows in frame.groupby("loss", sort=False):
            get = rows.set_index("metric")["mean"]
            shares = [get.get(f"{end}_share", np.nan) for end in END_POINTS]
            table.add_row(
                escape(loss),
                fmt(get.get("distinct_minima", np.nan)),
                *(f"{share:.0%}" if share == share else "n/a" for share in shares),
                fmt(get.get("objective_spread", np.nan)),
            )
        table.caption = (
            "share of starts ending at a verified minimum (zero gradient, positive definite "
            "Hessian), a saturated plateau, a run toward an infimum at infinity, or a "
            "non-stationary stop"
        )
        return [table]

    @classmethod
    def figures(cls, experiment, frame, trials, palette) -> dict[str, Any]:
        return {figure_name(cls.kind, experiment): _figure(experiment, trials, palette)}


def _figure(experiment: str, trials: pd.DataFrame, palette):
    """One panel per loss, each on its own scale: the end points differ by little in absolute
    terms (squared error's minima 0.227 vs 0.234 here) and would vanish on a shared axis."""
    from lossbench.report.figures import new_figure

    rows = trials[(trials["experiment"] == experiment) & (trials["metric"] == "final_objective")]
    groups = list(rows.groupby("loss", sort=False))
    figure, axes = new_figure(4.5 * max(1, len(groups)), 4.4, columns=max(1, len(groups)))
    for ax, (loss, mine) in zip(axes, groups, strict=False):
        first = mine[mine["trial"] == mine["trial"].min()].sort_values("value")
        ax.plot(
            np.arange(len(first)),
            first["value"],
            marker="o",
            ms=4,
            lw=1.5,
            color=palette(loss),
            label=loss,
        )
        ax.ticklabel_format(axis="y", useOffset=False)
        low, high = first["value"].min(), first["value"].max()
        if high - low <= 1e-6 * max(1.0, abs(high)):  # one minimum: do not zoom into rounding
            ax.set_ylim(low - 0.02 * abs(low) - 1e-9, high + 0.02 * abs(high) + 1e-9)
            ax.annotate(
                "all starts end at one minimum", (0.5, 0.85), xycoords="axes fraction", ha="center"
            )
        ax.set(
            title=loss,
            xlabel="start (sorted by final objective)",
            ylabel="final objective (loss units)",
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
    figure.suptitle(
        f"{experiment}: final objective of each random start (first trial)", fontsize=13
    )
    return figure
