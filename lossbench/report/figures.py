"""Figure primitives (matplotlib, the `plot` extra, imported only when a figure is drawn): a
figure with its axes, one colour per loss (`Palette`), curves of a metric against x with their
intervals, and PNG bytes. Every figure has a title, labelled axes with units and a legend."""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
import pandas as pd

from lossbench.analysis.frames import with_label_columns
from lossbench.errors import require

__all__ = [
    "Palette",
    "curves",
    "literal_text",
    "named_on_twin",
    "new_figure",
    "png",
    "require_matplotlib",
]

_INSTALL = "the report needs matplotlib: pip install 'lossbench[plot]'"


def require_matplotlib() -> None:
    """Raise a one-line `LossbenchError` naming the install command when matplotlib is absent."""
    require("matplotlib", _INSTALL)


def literal_text():
    """A matplotlib context in which every text is drawn as its characters: `$` in a name
    starts no mathtext, and no TeX runs."""
    import matplotlib

    return matplotlib.rc_context({"text.parse_math": False, "text.usetex": False})


def new_figure(width: float = 8.0, height: float = 4.8, columns: int = 1, rows: int = 1):
    """A constrained-layout Figure (no pyplot state) and its axes as a flat list."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=110, layout="constrained")
    return figure, list(figure.subplots(rows, columns, squeeze=False).flat)


def colors(name: str) -> list:
    """The colours of one of matplotlib's qualitative (listed) colour maps."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    colormap = colormaps[name]
    assert isinstance(colormap, ListedColormap), f"{name} is a listed colour map"
    return list(cast("Sequence[Any]", colormap.colors))


class Palette:
    """One colour per loss label, the same in every figure of a run."""

    def __init__(self, labels: list[str], own: Mapping[str, str] | None = None) -> None:
        """`own`: each label's loss itself (`lossbench.analysis.frames.own_labels`)."""
        cycle = colors("tab10")
        self.colours = {
            label: cycle[i % len(cycle)] for i, label in enumerate(dict.fromkeys(labels))
        }
        # the loss itself, as figures without the fit's settings name it: the loss-shape
        # figure draws "huber(delta=1.345)" for the run's "huber(delta=1.345, scale=mad)"
        self.losses: dict[str, object] = {}
        for label, colour in self.colours.items():
            self.losses.setdefault((own or {}).get(label, label), colour)

    def __call__(self, label: str):
        if label in self.colours:
            return self.colours[label]
        return self.losses.get(label, "grey")


def curves(
    experiment: str,
    frame: pd.DataFrame,
    metric: str,
    palette: Palette,
    *,
    title,
    xlabel,
    ylabel,
    logx=False,
    logy=False,
):
    """Mean of `metric` against x per loss, with its 95% CI band."""
    rows = frame[frame["metric"] == metric]
    figure, (ax,) = new_figure(8, 4.8)
    drawn: list[tuple[np.ndarray, list]] = []
    for loss, mine in with_label_columns(rows).groupby("loss", sort=False):
        mine = mine.sort_values("x")
        curve = np.concatenate([mine["x"].to_numpy(float), mine["mean"].to_numpy(float)])
        if named_on_twin(drawn, curve, loss):
            continue
        (line,) = ax.plot(
            mine["x"],
            mine["mean"],
            marker="o",
            ms=4,
            lw=2,
            color=palette(loss),
            label=loss,
            ls="--" if mine["variant"].iloc[0] else "-",  # a derived curve: bce (unclipped)
        )
        drawn.append((curve, [line]))
        if mine["ci_low"].notna().any():
            ax.fill_between(
                mine["x"], mine["ci_low"], mine["ci_high"], color=palette(loss), alpha=0.15
            )
    ax.set(title=f"{experiment}: {title}", xlabel=xlabel, ylabel=ylabel)
    if logx:
        ax.set_xscale("symlog", linthresh=1e-8)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return figure


def named_on_twin(drawn: list[tuple[np.ndarray, list]], curve: np.ndarray, name: str) -> bool:
    """Whether `curve` equals one already drawn (infinities included, to plotting precision);
    if so its name is added to that one's lines, so that no curve hides under another."""
    for earlier, lines in drawn:
        if earlier.shape == curve.shape and np.allclose(earlier, curve, rtol=1e-9, equal_nan=True):
            for line in lines:
                line.set_label(f"{line.get_label()} = {name}")
            return True
    return False


def png(figure) -> bytes:
    """The figure as PNG bytes (a character no font has is drawn as a box, unannounced)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from", category=UserWarning)
        try:
            figure.savefig(buffer, format="png")
        except ValueError as error:  # a log axis with nothing positive and finite to draw
            if "log-scaled" not in str(error):
                raise
            _linear_where_log_fails(figure)
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _linear_where_log_fails(figure) -> None:
    """Axes whose log scale has no positive finite value (infinite or negative means read
    from a damaged summary.csv) drawn linear, saying so on the axes: nothing hidden."""
    for ax in figure.axes:
        logged = [axis for axis in ("x", "y") if getattr(ax, f"get_{axis}scale")() == "log"]
        for axis in logged:
            getattr(ax, f"set_{axis}scale")("linear")
        if logged:
            ax.text(
                0.5,
                0.5,
                "no positive finite value to draw on a log scale",
                transform=ax.transAxes,
                ha="center",
                va="center",
                color="0.3",
            )
