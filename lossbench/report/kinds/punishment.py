"""How a ``punishment`` experiment reads: the loss at y = 1 as p goes to 0, as a table and on
log axes."""

from __future__ import annotations

from typing import Any

import pandas as pd

from lossbench.report.kinds.base import View, curve_table, figure_name, register

__all__ = ["PunishmentView"]


@register
class PunishmentView(View):
    kind = "punishment"

    @classmethod
    def render(cls, experiment: str, frame: pd.DataFrame, comparisons: pd.DataFrame) -> list[Any]:
        xs = sorted(frame.loc[frame["metric"] == "value", "x"].dropna().unique(), reverse=True)
        title = f"{experiment}: loss at y = 1 as the prediction p goes to 0"
        return [curve_table(title, frame, "value", xs, "p=")]

    @classmethod
    def figures(cls, experiment, frame, trials, palette) -> dict[str, Any]:
        from lossbench.report.figures import curves

        figure = curves(
            experiment,
            frame,
            "value",
            palette,
            title="loss at y = 1 as p → 0 (log scale)",
            xlabel="predicted probability of the true class p",
            ylabel="loss",
            logx=True,
            logy=True,
        )
        return {figure_name(cls.kind, experiment): figure}
