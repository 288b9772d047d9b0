"""How an ``influence`` experiment reads: the shift of the fit as one point moves away, per
loss, as a table (a readable selection of the sweep) and as curves."""

from __future__ import annotations

from typing import Any

import pandas as pd

from lossbench.report.kinds.base import View, curve_table, figure_name, register

__all__ = ["InfluenceView"]


@register
class InfluenceView(View):
    kind = "influence"

    @classmethod
    def render(cls, experiment: str, frame: pd.DataFrame, comparisons: pd.DataFrame) -> list[Any]:
        xs = sorted(frame["x"].dropna().unique())
        if len(xs) > 8:  # a readable selection of the sweep
            xs = [xs[round(i * (len(xs) - 1) / 7)] for i in range(8)]
        title = f"{experiment}: shift of the fitted parameters as one point moves k σ away"
        return [curve_table(title, frame, "coef_shift", xs, "k=")]

    @classmethod
    def figures(cls, experiment, frame, trials, palette) -> dict[str, Any]:
        from lossbench.report.figures import curves

        figure = curves(
            experiment,
            frame,
            "coef_shift",
            palette,
            title="shift of the fit as one point moves k σ away",
            xlabel="k: the moving point's residual (noise σ)",
            ylabel="‖θ(k) − θ(0)‖ (parameter units)",
        )
        return {figure_name(cls.kind, experiment): figure}
