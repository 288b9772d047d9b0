"""The figures of a run (matplotlib, the `plot` extra, loaded only when asked): the losses and
their derivatives, each experiment's figures as its kind's view draws them, convergence
curves of gradient descent, and the timing. A loss keeps its colour across all of them
(`lossbench.report.figures.Palette`)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from lossbench import losses
from lossbench.analysis.frames import own_labels, with_label_columns
from lossbench.errors import LossbenchError
from lossbench.losses import SIGMOID
from lossbench.losses.labels import names_code
from lossbench.report import verdicts
from lossbench.report.figures import (
    Palette,
    colors,
    curves,
    literal_text,
    named_on_twin,
    new_figure,
    png,
    require_matplotlib,
)
from lossbench.report.kinds import slug, view_of
from lossbench.timing.bench import FLOOR

# the primitives are re-exported: a kind's view may use them from here or from figures
__all__ = ["Palette", "curves", "figures", "new_figure", "png", "require_matplotlib"]


def _loss_shapes(builtin: list[losses.Loss], palette: Palette):
    """Each loss and its derivative: against the residual r = y − ŷ (regression losses), and
    against the predicted probability p at y = 1 (losses on probabilities or logits)."""
    real = [loss for loss in builtin if not loss.labels]
    binary = [loss for loss in builtin if loss.labels]
    figure, axes = new_figure(12, 7.5 if binary else 4.2, columns=2, rows=2 if binary else 1)
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
            link = loss.link("classification")
            pred = np.array([link.from_probability(q) for q in p])
            values, grads = loss.value_and_gradient(ones, pred, reduction="none")
            grads = np.array([link.per_probability(g, q) for g, q in zip(grads, p, strict=True)])
            on_logits = link is not SIGMOID
            style = {"lw": 2, "ls": ":" if on_logits else "-"}  # logits may overlap bce
            axes[2].plot(p, values, color=palette(str(loss)), label=str(loss), **style)
            axes[3].plot(p, -grads, color=palette(str(loss)), label=str(loss), **style)
        drawn: list[tuple[np.ndarray, list]] = []
        for loss in real:
            values, grads = loss.value_and_gradient(ones, p, reduction="none")
            # huber with δ ≥ 1 equals another here: every |1 − p| ≤ 1 is in its quadratic part
            if named_on_twin(drawn, values, f"{loss} on p"):
                continue
            lines = [
                axes[2].plot(
                    p, values, color=palette(str(loss)), label=f"{loss} on p", lw=1.5, ls="--"
                )[0],
                axes[3].plot(
                    p, -grads, color=palette(str(loss)), label=f"{loss} on p", lw=1.5, ls="--"
                )[0],
            ]
            drawn.append((values, lines))
        axes[2].set(
            title="at y = 1, against the predicted probability",
            xlabel="p",
            ylabel="loss",
            yscale="log",
        )
        # every derivative here is negative: its magnitude on a log scale shows the true shapes
        # (a symmetric-log axis drew a kink into 1/p where it changes scale)
        axes[3].set(
            title="its derivative", xlabel="p", ylabel="−d loss / d p (log scale)", yscale="log"
        )
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    figure.suptitle("The losses of this run and their gradients", fontsize=13)
    return figure


def _timing(timings: pd.DataFrame):
    """Bars per op (implementations side by side, the memory floor as a line) when the run
    timed one size; lines over n when it timed several."""
    kernels = timings[timings["loss"] != "probe"]
    if kernels[["n", "dtype"]].drop_duplicates().shape[0] == 1:
        return _timing_bars(timings)
    return _timing_lines(timings)


def _timing_bars(timings: pd.DataFrame):
    import numpy as np

    kernels = timings[timings["loss"] != "probe"]
    ops = list(dict.fromkeys(kernels["op"]))
    impls = list(dict.fromkeys(kernels["impl"]))
    colours = dict(zip(impls, colors("Dark2"), strict=False))
    figure, axes = new_figure(6.5 * len(ops), 4.6, columns=len(ops))
    n, dtype = kernels["n"].iloc[0], kernels["dtype"].iloc[0]
    for ax, op in zip(axes, ops, strict=False):
        mine = kernels[kernels["op"] == op]
        loss_labels = list(dict.fromkeys(mine["loss"]))
        width = 0.8 / len(impls)
        for i, impl in enumerate(impls):
            by = mine[mine["impl"] == impl].set_index("loss")["ns_per_element"]
            x = np.arange(len(loss_labels)) + (i - (len(impls) - 1) / 2) * width
            heights = [by.get(loss, np.nan) for loss in loss_labels]
            ax.bar(x, heights, width, color=colours[impl], label=impl)
        floor = timings[(timings["loss"] == "probe") & (timings["op"] == FLOOR[op])]
        if len(floor):
            ax.axhline(
                floor["ns_per_element"].iloc[0],
                color="black",
                ls="--",
                lw=1.2,
                label=f"{FLOOR[op]} probe (floor)",
            )
        ax.set_xticks(range(len(loss_labels)), loss_labels, rotation=10, fontsize=9)
        ax.set(yscale="log", title=f"{op}", ylabel="time per element (ns, log scale)")
        ax.grid(alpha=0.3, axis="y", which="both")
    axes[len(ops) - 1].legend(
        fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0
    )
    figure.suptitle(f"Cost per element at n={n:.0e} ({dtype}), with the memory floor", fontsize=13)
    return figure


def _timing_lines(timings: pd.DataFrame):
    kernels = timings[(timings["loss"] != "probe") & (timings["op"] == "value")]
    probes = timings[(timings["loss"] == "probe") & (timings["op"] == "read")]
    loss_labels = list(dict.fromkeys(kernels["loss"]))
    figure, axes = new_figure(4.2 * max(1, len(loss_labels)), 4.2, columns=max(1, len(loss_labels)))
    impl_colours = dict(zip(dict.fromkeys(timings["impl"]), colors("Dark2"), strict=False))
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


def _builtin(summary: pd.DataFrame) -> list[losses.Loss]:
    """The built-in losses the summary's rows name, each once ("huber(delta=1.345)" for
    "huber(delta=1.345, scale=mad)"): not a user loss (not imported just to draw it), not a
    derived curve such as "bce (unclipped)", not cross_entropy (it has no curve)."""
    rows = with_label_columns(summary).drop_duplicates("loss")
    found: dict[str, losses.Loss] = {}
    for name, params, variant in zip(
        rows["loss_name"], rows["loss_params"], rows["variant"], strict=True
    ):
        if variant or names_code(str(name)):
            continue
        try:
            loss = losses.get(str(name), **json.loads(str(params)))
        except LossbenchError:
            continue
        if isinstance(loss, losses.Loss):
            found.setdefault(str(loss), loss)
    return list(found.values())


def figures(
    trials: pd.DataFrame,
    summary: pd.DataFrame,
    timings: pd.DataFrame | None,
    comparisons: pd.DataFrame | None = None,
) -> list[tuple[str, str, object]]:
    """(section, name, Figure) for everything the run holds: section "losses",
    "experiment:<name>" (drawn by its kind) or "timing". Every text is drawn as its
    characters: `$` in a name starts no mathtext."""
    require_matplotlib()
    with literal_text():
        return _figures(trials, summary, timings, comparisons)


def _figures(trials, summary, timings, comparisons) -> list[tuple[str, str, object]]:
    labels = [str(label) for label in dict.fromkeys(summary["loss"])] if len(summary) else []
    # one curve per loss: "huber(delta=1.345, scale=mad)" draws huber(delta=1.345)
    builtin = _builtin(summary) if len(summary) else []
    palette = Palette(labels, own_labels(summary) if len(summary) else {})
    out: list[tuple[str, str, object]] = []
    if builtin:
        out.append(("losses", "losses", _loss_shapes(builtin, palette)))
    for experiment, frame in summary.groupby("experiment", sort=False) if len(summary) else []:
        view = view_of(frame)
        if view is not None:
            drawn = view.figures(experiment, frame, trials, palette)
            out += [(f"experiment:{experiment}", name, fig) for name, fig in drawn.items()]
        mine = (
            comparisons[comparisons["experiment"] == experiment]
            if comparisons is not None and len(comparisons)
            else None
        )
        forest = verdicts.forest(str(experiment), mine, palette) if mine is not None else None
        if forest is not None:
            out.append((f"verdicts:{experiment}", f"verdicts-{slug(experiment)}", forest))
        if "objective" in set(frame["metric"]):  # any fit by gradient descent keeps its curve
            figure = curves(
                experiment,
                frame,
                "objective",
                palette,
                title="gradient descent: objective per iteration",
                xlabel="iteration",
                ylabel="objective (loss units)",
                logy=True,
            )
            out.append((f"experiment:{experiment}", f"convergence-{slug(experiment)}", figure))
    if timings is not None and len(timings):
        out.append(("timing", "timing", _timing(timings)))
    return out
