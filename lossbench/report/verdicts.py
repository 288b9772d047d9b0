"""The verdicts themselves, for the report: a forest plot of each comparison's paired interval
against the equivalence band (what decides; the per-loss intervals that overlap do not), and
the verdicts as a table rather than a wall of sentences."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from lossbench import text
from lossbench.analysis.constants import Verdict
from lossbench.report import numbers
from lossbench.report.figures import Palette, new_figure

__all__ = ["forest", "table_html"]

_SHAPES = {
    Verdict.better: "o",
    Verdict.worse: "s",
    Verdict.equivalent: "D",
    Verdict.inconclusive: "o",
}
RELATIVE = ("mean", "median")  # statistics whose estimate is a relative difference


def _label(row) -> str:
    where = str(row["dataset"]) + (f" @ {numbers.fmt(row['x'])}" if pd.notna(row["x"]) else "")
    return f"{where}: {row['loss']} vs {row['baseline']} ({row['metric']})"


def _short(label: str, width: int = 44) -> str:
    """A label on at most two lines of `width` characters, its middle elided beyond that."""
    import textwrap

    lines = textwrap.wrap(label, width)
    return "\n".join(lines) if len(lines) <= 2 else lines[0] + "\n…" + label[-(width - 1) :]


_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2, 5, 10, 20, 50, 100)


def forest(experiment: str, rows: pd.DataFrame, palette: Palette):
    """Each comparison of `experiment` as its estimate and paired interval, at the level its
    family decides at, on a ratio scale (loss / baseline) with the ±margin band shaded: a
    verdict is `better` or `worse` where the interval clears the band, `equivalent` where it
    lies inside it. Comparisons with no interval are listed at 1 with why. None when the
    experiment has no relative comparison."""
    rows = rows[rows["statistic"].isin(RELATIVE)].reset_index(drop=True)
    if rows.empty:
        return None
    height = max(3.0, 1.4 + 0.42 * len(rows))
    figure, (ax,) = new_figure(10.0, min(height, 40.0))
    ys = np.arange(len(rows))[::-1]
    margin = float(rows["margin"].dropna().iloc[0]) if rows["margin"].notna().any() else 0.0
    ax.axvspan(1 - margin, 1 + margin, color="0.85", label=f"±{margin:.0%}: no difference")
    ax.axvline(1, color="0.4", lw=0.8)
    for y, (_, row) in zip(ys, rows.iterrows(), strict=True):
        colour = palette(str(row["loss"]))
        low, high, point = (1 + row[k] for k in ("low", "high", "estimate"))
        if not all(math.isfinite(v) and v > 0 for v in (low, high, point)):
            why = str(row["note"]) if pd.notna(row["note"]) else "no interval"
            ax.plot(1, y, marker="x", color="0.35")
            # from the left edge, inside the axes: a long reason never leaves the figure
            ax.annotate(
                f"no interval: {why[:80]}",
                (0.01, y),
                xycoords=("axes fraction", "data"),
                va="center",
                fontsize=7,
                color="0.35",
            )
            continue
        filled = row["verdict"] != Verdict.inconclusive
        ax.plot([low, high], [y, y], color=colour, lw=2)
        ax.plot(
            point,
            y,
            marker=_SHAPES.get(row["verdict"], "o"),
            color=colour,
            ms=6,
            markerfacecolor=colour if filled else "white",
        )
    ax.set_xscale("log")
    ax.set_yticks(ys, [_short(_label(r)) for _, r in rows.iterrows()], fontsize=7)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    lows, highs = (1 + rows["low"]).clip(lower=1e-3), (1 + rows["high"]).clip(upper=1e3)
    span = np.concatenate([lows[np.isfinite(lows)], highs[np.isfinite(highs)], [0.9, 1.1]])
    left, right = span.min() / 1.15, span.max() * 1.15
    ax.set_xlim(left, right)
    spacing = math.log10(right / left) / 9  # at most about nine ticks, none crowded
    ticks: list[float] = []
    for t in sorted(_TICKS, key=lambda t: (t != 1.0, abs(math.log10(t)))):  # 1 first, then out
        if left <= t <= right and all(abs(math.log10(t / u)) >= spacing for u in ticks):
            ticks.append(t)
    ticks.sort()
    ax.set_xticks(ticks, [numbers.percent(t - 1) for t in ticks], fontsize=8)
    ax.minorticks_off()
    ax.grid(axis="x", color="0.92")
    levels = sorted({numbers.level(c) for c in rows["confidence"].dropna()})
    ax.set_xlabel(
        f"difference of the {'/'.join(rows['statistic'].unique())} from the "
        f"baseline's (log scale; {', '.join(levels)} intervals)",
        fontsize=8,
    )
    ax.set_title(
        f"{experiment}: the verdicts, each a paired interval against the band of no "
        "difference\n(filled: better, worse or equivalent; hollow: inconclusive)",
        fontsize=9,
    )
    ax.legend(loc="best", fontsize=7)
    return figure


def table_html(rows: pd.DataFrame) -> str:
    """The comparisons as one table: what is compared, the difference and its interval at its
    level, the adjusted p, the verdict and what would settle it or why there is none."""
    if rows.empty:
        return ""
    head = ("compared", "difference [interval]", "level", "p (adjusted)", "verdict", "note")
    body = []
    for _, row in rows.iterrows():
        statistic = str(row.get("statistic", "mean"))
        shown = [numbers.difference(row[k], statistic) for k in ("estimate", "low", "high")]
        level = numbers.level(row["confidence"]) if pd.notna(row["confidence"]) else ""
        note = str(row["note"]) if pd.notna(row["note"]) else ""
        cells = (
            _label(row),
            f"{shown[0]} [{shown[1]}, {shown[2]}]",
            level,
            numbers.fmt(row["p_adjusted"]),
            str(row["verdict"]),
            note,
        )
        verdict = text.html(str(row["verdict"]))
        body.append(
            f"<tr class='{verdict}'>" + "".join(f"<td>{text.html(c)}</td>" for c in cells) + "</tr>"
        )
    header = "".join(f"<th>{h}</th>" for h in head)
    return (
        f"<div class='wide'><table class='verdicts'><tr>{header}</tr>{''.join(body)}</table></div>"
    )
