"""The history as one self-contained HTML page: the answer, then one small trend plot per
benchmark (every process median as a dot, the per-commit median as a line, each segment's
median, each step marked at its first commit and labelled with its size)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from lossbench import __version__, text
from lossbench.history.trends import Trend
from lossbench.history.view import amount, answer, by_machine, step
from lossbench.report import figures
from lossbench.report.html import img
from lossbench.report.numbers import time_unit
from lossbench.results import write_atomic

__all__ = ["write_page"]

_SLOWER, _FASTER = "#c0392b", "#1e8449"  # a step up in time or count is a slowdown
_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; max-width: 1280px; margin: 1.5em auto;
       padding: 0 1em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; border-bottom: 1px solid #ddd; }
.answer { background: #f3f8f3; border-left: 4px solid #4a4; padding: .4em 1em; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(400px, 1fr));
        gap: 1em; }
figure { margin: 0; } figcaption { font-size: 12px; color: #444; overflow-wrap: anywhere; }
img { max-width: 100%; height: auto; display: block; }
"""


def write_page(found: list[Trend], output: Path, *, source: str) -> Path:
    """Write the page for `found` to `output` (atomically); its path."""
    figures.require_matplotlib()
    with figures.literal_text():
        sections = []
        for machine, trends in by_machine(found).items():
            cells = "\n".join(_cell(t) for t in trends)
            sections.append(f"<h2>{text.html(machine)}</h2>\n<div class='grid'>{cells}</div>")
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>lossbench history: {text.html(source)}</title><style>{_STYLE}</style>"
        f"</head><body><h1>lossbench history: {text.html(source)}</h1>"
        f"<p class='answer'>{text.html(answer(found))}</p>"
        "<p>Per commit, the median of every recorded process's median time (or instruction "
        "count); steps found by PELT on rank scores (docs/history.md), each marked at the "
        "first commit that has it, with the ratio of the medians either side.</p>"
        + "\n".join(sections)
        + f"<p><small>written {when} by lossbench {text.html(__version__)}</small></p>"
        "</body></html>\n"
    )
    write_atomic(output, page)
    return output


def _cell(trend: Trend) -> str:
    steps = "; ".join(step(trend, i) for i in range(len(trend.changes))) or "no step"
    caption = (
        f"{trend.benchmark}: {len(trend.commits)} commits, latest "
        f"{amount(trend, float(trend.values[-1]))}; {steps}"
    )
    picture = img(trend.benchmark, figures.png(_plot(trend)))
    return f"<figure>{picture}<figcaption>{text.html(caption)}</figcaption></figure>"


def _plot(trend: Trend):
    from matplotlib.figure import Figure

    # fixed margins: a constrained layout is most of a small figure's time (30 in 4 s)
    figure = Figure(figsize=(4.0, 1.9), dpi=100)
    ax = figure.add_axes((0.14, 0.22, 0.83, 0.66))
    scale, unit = _unit(trend)
    x = np.arange(len(trend.commits))
    dots_x = np.concatenate([np.full(p.size, i) for i, p in enumerate(trend.processes)])
    ax.plot(
        dots_x, np.concatenate(trend.processes) / scale, ".", color="0.65", ms=2.5, label="process"
    )
    ax.plot(x, trend.values / scale, "-", color="#2c6fbb", lw=1, label="commit median")
    edges = [0, *(c.index for c in trend.changes), len(x)]
    for low, high in itertools.pairwise(edges):
        level = np.median(trend.values[low:high]) / scale
        ax.hlines(level, low - 0.5, high - 0.5, color="#e67e22", lw=1.6)
    for change in trend.changes:
        colour = _SLOWER if change.ratio > 1 else _FASTER
        ax.axvline(change.index - 0.5, color=colour, ls="--", lw=1)
        ax.annotate(
            f"{change.ratio - 1:+.1%}",
            (change.index - 0.5, 1),
            xycoords=("data", "axes fraction"),
            xytext=(2, -2),
            textcoords="offset points",
            ha="left",
            va="top",
            color=colour,
            fontsize=8,
        )
    ticks = np.unique(np.linspace(0, len(x) - 1, num=min(4, len(x))).round().astype(int))
    ax.set_xticks(ticks, [trend.commits[i] for i in ticks], fontsize=7)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("commit", fontsize=8)
    ax.set_ylabel(unit, fontsize=8)
    ax.set_title(text.elided(text.visible(trend.benchmark), 60), fontsize=8, loc="left")
    return figure


def _unit(trend: Trend) -> tuple[float, str]:
    if trend.measure != "time":
        return 1.0, "instructions"
    return time_unit(float(max(p.max() for p in trend.processes))) or (1e-9, "ns")
