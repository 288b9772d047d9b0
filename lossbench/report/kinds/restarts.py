"""How a ``restarts`` experiment reads: per dataset and loss, the share of restarts stuck
above the best one found, how many distinct solutions they reached and how far apart their
objectives and held-out scores ended; a figure of every restart's final objective over the
best, per dataset, one line per loss."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lossbench.analysis.constants import Verdict
from lossbench.report.kinds.base import View, figure_name, register
from lossbench.report.numbers import family_size, fmt, level, points

__all__ = ["RestartsView"]

_COLUMNS = ("dataset", "loss", "stuck", "distinct", "objective spread", "score spread")


@register
class RestartsView(View):
    kind = "restarts"

    @classmethod
    def render(cls, experiment: str, frame: pd.DataFrame, comparisons: pd.DataFrame) -> list[Any]:
        from rich.table import Table

        from lossbench.text import markup as escape

        title = f"{experiment}: a network from random restarts (mean over trials)"
        table = Table(title=escape(title), title_justify="left")
        for column in _COLUMNS:
            left = column in ("dataset", "loss")
            table.add_column(
                column, justify="left" if left else "right", overflow="fold" if left else "ellipsis"
            )
        overall = frame[frame["x"].isna()]
        for (dataset, loss), rows in overall.groupby(["dataset", "loss"], sort=False):
            get = rows.set_index("metric")["mean"]
            stuck = get.get("stuck_share", np.nan)
            spread = get.get("objective_spread", np.nan)
            table.add_row(
                escape(dataset),
                escape(loss),
                f"{stuck:.0%}" if stuck == stuck else "n/a",
                fmt(get.get("distinct_solutions", np.nan)),
                f"{spread:.1%}" if spread == spread else "n/a",
                fmt(get.get("score_spread", np.nan)),
            )
        table.caption = (
            "stuck: restarts whose final objective ends more than `near` (default 1%) above "
            "the best any restart of the loss found; distinct: solutions told apart by their "
            "held-out predictions; spreads: worst over best objective, max − min held-out score "
            "(accuracy, or RMSE)"
        )
        return [table, *map(escape, cls.verdicts(frame, comparisons))]

    @classmethod
    def verdicts(cls, frame: pd.DataFrame, comparisons: pd.DataFrame) -> list[str]:
        """Per dataset and loss, e.g. "moons(noise=0.2): mse is stuck less often than
        bce_logits: in 22% against 79% of 80 restarts paired by their initial weights,
        −56.2 points [−74.1, −30.7] (95% interval), p = 4e-08 (McNemar exact, Bonferroni,
        1)"."""
        rows = (
            comparisons[comparisons["metric"] == "stuck_share"] if len(comparisons) else comparisons
        )
        shares = frame[(frame["metric"] == "stuck_share") & frame["x"].isna()]
        share = shares.set_index(["dataset", "loss"])["mean"]
        lines = []
        for row in rows.itertuples():
            own = share.get((row.dataset, row.loss), float("nan"))
            theirs = share.get((row.dataset, row.baseline), float("nan"))
            evidence = (
                f"in {own:.0%} against {theirs:.0%} of {row.n} restarts paired by their "
                f"initial weights, {points(row.estimate)} points [{points(row.low)}, "
                f"{points(row.high)}] ({level(row.confidence)} interval), p = "
                f"{row.p_adjusted:.2g} (McNemar exact, Bonferroni, "
                f"{family_size(row.confidence)})"
            )
            if row.verdict in (Verdict.better, Verdict.worse):
                how = "less" if row.verdict == Verdict.better else "more"
                text = f"{row.loss} is stuck {how} often than {row.baseline}: {evidence}"
            elif row.verdict == Verdict.equivalent:
                text = (
                    f"{row.loss} is stuck as often as {row.baseline} (within "
                    f"±{100 * row.margin:.0f} points): {evidence}"
                )
            else:
                text = f"{row.loss} vs {row.baseline}, stuck: inconclusive: {evidence}"
                if isinstance(row.note, str) and row.note.startswith("no verdict"):
                    text += f"; {row.note}"
            lines.append(f"{row.dataset}: {text}")
        return lines

    @classmethod
    def figures(cls, experiment, frame, trials, palette) -> dict[str, Any]:
        return {figure_name(cls.kind, experiment): _figure(experiment, trials, palette)}


def _figure(experiment: str, trials: pd.DataFrame, palette):
    """Per dataset, each loss's restarts of the first trial sorted by their final objective
    over the best one's, minus 1 (0: the best): a shared axis, as the ratio has no unit."""
    from matplotlib.ticker import FuncFormatter

    from lossbench.report.figures import new_figure

    rows = trials[(trials["experiment"] == experiment) & (trials["metric"] == "final_objective")]
    datasets = list(dict.fromkeys(rows["dataset"]))
    figure, axes = new_figure(5.0 * max(1, len(datasets)), 4.4, columns=max(1, len(datasets)))
    for ax, dataset in zip(axes, datasets, strict=False):
        mine = rows[rows["dataset"] == dataset]
        first = mine[mine["trial"] == mine["trial"].min()]
        for loss, restarts in first.groupby("loss", sort=False):
            values = np.sort(restarts["value"].to_numpy(float))
            excess = values / values[0] - 1 if values[0] > 0 else values - values[0]
            ax.plot(
                np.arange(1, len(values) + 1),
                excess,
                marker="o",
                ms=4,
                lw=1.5,
                color=palette(loss),
                label=loss,
            )
        ax.axhline(0.01, color="0.5", lw=1, ls="--", label="1% above the best (default near)")
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.set_ylim(bottom=-3e-4)  # nothing is below the best: no negative decades
        # plain numbers: figures render text without mathtext (names are escaped for it)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.set(
            title=dataset,
            xlabel="restart (sorted by final objective)",
            ylabel="final objective / best − 1",
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
    figure.suptitle(f"{experiment}: where each restart ended (first trial)", fontsize=13)
    return figure
