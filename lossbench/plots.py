"""Figures of a run (matplotlib, the `plot` extra, imported only here and only when asked).

Every figure has a title, labelled axes with units, a legend and readable sizes, and a loss
keeps its colour across all of them (`Palette`). Functions return matplotlib Figures; `png`
renders one.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from lossbench import losses
from lossbench.errors import LossbenchError
from lossbench.metrics import HIGHER_IS_BETTER

__all__ = ["Palette", "figures", "png", "require_matplotlib"]

_INSTALL = "the report needs matplotlib: pip install 'lossbench[plot]'"


def require_matplotlib() -> None:
    """Raise a one-line `LossbenchError` naming the install command when matplotlib is absent."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise LossbenchError(_INSTALL) from None


def _figure(width: float = 8.0, height: float = 4.8, columns: int = 1, rows: int = 1):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=110, layout="constrained")
    return figure, list(figure.subplots(rows, columns, squeeze=False).flat)


class Palette:
    """One colour per loss label, the same in every figure of a run."""

    def __init__(self, labels: list[str]) -> None:
        from matplotlib import colormaps

        cycle = colormaps["tab10"].colors
        self.colours = {
            label: cycle[i % len(cycle)] for i, label in enumerate(dict.fromkeys(labels))
        }

    def __call__(self, label: str):
        base = label.replace(" (unclipped)", "")
        return self.colours.get(label, self.colours.get(base, "grey"))


def _loss_shapes(builtin: list[losses.Loss], palette: Palette):
    """Each loss and its derivative: against the residual r = y − ŷ (regression losses), and
    against the predicted probability p at y = 1 (losses on probabilities or logits)."""
    real = [loss for loss in builtin if not loss.labels]
    binary = [loss for loss in builtin if loss.labels]
    figure, axes = _figure(12, 7.5 if binary else 4.2, columns=2, rows=2 if binary else 1)
    r = np.linspace(-4, 4, 801)
    for loss in real:
        values, grads = loss.value_and_gradient(r, np.zeros_like(r), reduction="none")
        axes[0].plot(r, values, color=palette(str(loss)), label=str(loss), lw=2)
        axes[1].plot(r, -grads, color=palette(str(loss)), label=str(loss), lw=2)  # d/dr = −d/dŷ
    axes[0].set(title="loss against the residual", xlabel="residual r = y − ŷ", ylabel="loss")
    axes[1].set(title="its derivative", xlabel="residual r = y − ŷ", ylabel="d loss / d r")
    if binary:
        p = np.linspace(1e-3, 1 - 1e-3, 999)
        ones = np.ones_like(p)
        for loss in binary:
            pred = np.log(p) - np.log1p(-p) if loss.prediction == "logit" else p
            values, grads = loss.value_and_gradient(ones, pred, reduction="none")
            if loss.prediction == "logit":
                grads = grads / (p * (1 - p))  # d/dp = d/dz · dz/dp
            style = {
                "lw": 2,
                "ls": ":" if loss.prediction == "logit" else "-",
            }  # logits may overlap bce
            axes[2].plot(p, values, color=palette(str(loss)), label=str(loss), **style)
            axes[3].plot(p, grads, color=palette(str(loss)), label=str(loss), **style)
        for loss in real:
            values, grads = loss.value_and_gradient(ones, p, reduction="none")
            axes[2].plot(p, values, color=palette(str(loss)), label=f"{loss} on p", lw=1.5, ls="--")
            axes[3].plot(p, grads, color=palette(str(loss)), label=f"{loss} on p", lw=1.5, ls="--")
        axes[2].set(
            title="at y = 1, against the predicted probability",
            xlabel="p",
            ylabel="loss",
            yscale="log",
        )
        axes[3].set(title="its derivative", xlabel="p", ylabel="d loss / d p", yscale="symlog")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    figure.suptitle("The losses of this run and their gradients", fontsize=13)
    return figure


def _fit(experiment: str, frame: pd.DataFrame, palette: Palette):
    metric = "coef_error" if "coef_error" in set(frame["metric"]) else "log_loss"
    rows = frame[(frame["metric"] == metric) & frame["mean"].notna()]
    datasets = list(dict.fromkeys(rows["dataset"]))
    loss_labels = list(dict.fromkeys(rows["loss"]))
    figure, (ax,) = _figure(max(7.0, 1.6 * len(datasets) + 3), 4.8)
    width = 0.8 / max(1, len(loss_labels))
    for j, loss in enumerate(loss_labels):
        mine = rows[rows["loss"] == loss].set_index("dataset").reindex(datasets)
        x = np.arange(len(datasets)) - 0.4 + width * (j + 0.5)
        error = np.vstack([mine["mean"] - mine["ci_low"], mine["ci_high"] - mine["mean"]])
        ax.errorbar(
            x,
            mine["mean"],
            yerr=np.nan_to_num(error),
            fmt="o",
            ms=7,
            capsize=4,
            color=palette(loss),
            label=loss,
        )
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


def _curves(
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
    rows = frame[frame["metric"] == metric]
    figure, (ax,) = _figure(8, 4.8)
    for loss, mine in rows.groupby("loss", sort=False):
        mine = mine.sort_values("x")
        ax.plot(
            mine["x"],
            mine["mean"],
            marker="o",
            ms=4,
            lw=2,
            color=palette(loss),
            label=loss,
            ls="--" if "unclipped" in loss else "-",
        )
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
    ax.legend(fontsize=9)
    return figure


def _landscape(experiment: str, trials: pd.DataFrame, palette: Palette):
    """One panel per loss, each on its own scale: the end points differ by little in absolute
    terms (squared error's minima 0.227 vs 0.234 here) and would vanish on a shared axis."""
    rows = trials[(trials["experiment"] == experiment) & (trials["metric"] == "final_objective")]
    groups = list(rows.groupby("loss", sort=False))
    figure, axes = _figure(4.5 * max(1, len(groups)), 4.4, columns=max(1, len(groups)))
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


def _timing(timings: pd.DataFrame):
    kernels = timings[(timings["loss"] != "probe") & (timings["op"] == "value")]
    probes = timings[(timings["loss"] == "probe") & (timings["op"] == "read")]
    loss_labels = list(dict.fromkeys(kernels["loss"]))
    figure, axes = _figure(4.2 * max(1, len(loss_labels)), 4.2, columns=max(1, len(loss_labels)))
    from matplotlib import colormaps

    impl_colours = dict(
        zip(dict.fromkeys(timings["impl"]), colormaps["Dark2"].colors, strict=False)
    )
    for ax, loss in zip(axes, loss_labels, strict=False):
        for (impl, dtype), mine in kernels[kernels["loss"] == loss].groupby(
            ["impl", "dtype"], sort=False
        ):
            mine = mine.sort_values("n")
            ax.plot(
                mine["n"],
                mine["ns_per_element"],
                marker="o",
                lw=2,
                color=impl_colours[impl],
                ls="-" if dtype == "float64" else ":",
                label=f"{impl} {dtype}",
            )
        for dtype, floor in probes.groupby("dtype", sort=False):
            floor = floor.sort_values("n")
            ax.plot(
                floor["n"],
                floor["ns_per_element"],
                color="black",
                lw=1.5,
                marker="_",
                ms=18,
                ls="--" if dtype == "float64" else "-.",
                label=f"read probe (floor) {dtype}",
            )
        ax.set(
            xscale="log",
            yscale="log",
            title=f"{loss}: value",
            xlabel="n (elements)",
            ylabel="time per element (ns)",
        )
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    figure.suptitle("Cost per element against n, with the memory floor", fontsize=13)
    return figure


def _builtin(label: str) -> losses.Loss | None:
    """The built-in loss a summary label names ("huber(delta=1.345)"), or None for a user loss
    (not imported just to draw it) and for derived labels such as "bce (unclipped)"."""
    if ":" in label:
        return None
    try:
        return losses.get(label)
    except LossbenchError:
        return None


def figures(
    trials: pd.DataFrame, summary: pd.DataFrame, timings: pd.DataFrame | None
) -> dict[str, object]:
    """name -> Figure for everything the run holds."""
    require_matplotlib()
    labels = [str(label) for label in dict.fromkeys(summary["loss"])] if len(summary) else []
    builtin = [loss for loss in map(_builtin, labels) if loss is not None]
    palette = Palette(labels)
    out: dict[str, object] = {}
    if builtin:
        out["losses"] = _loss_shapes(builtin, palette)
    for experiment, frame in summary.groupby("experiment", sort=False):
        metrics = set(frame["metric"])
        slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in experiment)
        if "coef_shift" in metrics:
            out[f"influence-{slug}"] = _curves(
                experiment,
                frame,
                "coef_shift",
                palette,
                title="shift of the fit as one point moves k σ away",
                xlabel="k: the moving point's residual (noise σ)",
                ylabel="‖θ(k) − θ(0)‖ (parameter units)",
            )
        elif "logit_gradient" in metrics:
            out[f"punishment-{slug}"] = _curves(
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
        elif "distinct_minima" in metrics:
            out[f"landscape-{slug}"] = _landscape(experiment, trials, palette)
        elif {"coef_error", "log_loss"} & metrics:
            out[f"fit-{slug}"] = _fit(experiment, frame, palette)
        if "objective" in metrics:
            out[f"convergence-{slug}"] = _curves(
                experiment,
                frame,
                "objective",
                palette,
                title="gradient descent: objective per iteration",
                xlabel="iteration",
                ylabel="objective (loss units)",
                logy=True,
            )
    if timings is not None and len(timings):
        out["timing"] = _timing(timings)
    return out


def png(figure) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
