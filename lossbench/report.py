"""Terminal tables and plain-words verdicts, built from a run's summary (only the CLI prints).

Everything here reads `summary.csv`'s columns, so `lossbench show` re-renders a stored run
exactly as `lossbench run` printed it.
"""

from __future__ import annotations

import math

import pandas as pd
from rich.markup import escape
from rich.table import Table

from lossbench.metrics import HIGHER_IS_BETTER

__all__ = ["HEADLINE", "render", "render_timings", "timing_verdicts", "verdicts"]

# the metric a fit experiment's table shows, by the kind of target
HEADLINE = {"regression": "coef_error", "classification": "log_loss"}


def _fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return f"{x:.3g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


def _headline(frame: pd.DataFrame) -> str | None:
    metrics = set(frame["metric"])
    for metric in ("coef_error", "log_loss"):
        if metric in metrics:
            return metric
    return None


def render(summary: pd.DataFrame) -> list[Table | str]:
    """Per experiment a table (and for fit experiments a verdict line per dataset)."""
    parts: list[Table | str] = []
    for experiment, frame in summary.groupby("experiment", sort=False):
        metrics = set(frame["metric"])
        if "coef_shift" in metrics:
            parts.append(_influence(experiment, frame))
        elif "distinct_minima" in metrics:
            parts.append(_landscape(experiment, frame))
        elif "logit_gradient" in metrics:
            parts.append(_punishment(experiment, frame))
        elif _headline(frame):
            parts.append(_fit(experiment, frame))
            lines = verdicts(frame)
            if lines:
                parts.append(escape("\n".join(lines)))
    return parts


def _fit(experiment: str, frame: pd.DataFrame) -> Table:
    metric = _headline(frame)
    higher = metric in HIGHER_IS_BETTER
    rows = frame[frame["metric"] == metric]
    datasets = list(dict.fromkeys(frame["dataset"]))
    table = Table(
        title=f"{experiment}: {metric} (mean ± 95% CI, {'higher' if higher else 'lower'} better)",
        title_justify="left",
    )
    table.add_column("loss")
    for dataset in datasets:
        table.add_column(escape(dataset), justify="right")
    best = {}
    for dataset in datasets:
        cells = rows[(rows["dataset"] == dataset) & rows["mean"].notna()]
        if len(cells):
            best[dataset] = cells.loc[
                cells["mean"].idxmax() if higher else cells["mean"].idxmin(), "loss"
            ]
    for loss in dict.fromkeys(frame["loss"]):
        cells = []
        for dataset in datasets:
            cell = rows[(rows["loss"] == loss) & (rows["dataset"] == dataset)]
            if cell.empty or math.isnan(cell["mean"].iloc[0]):
                cells.append("[dim]n/a[/]")
                continue
            r = cell.iloc[0]
            half = (r["ci_high"] - r["ci_low"]) / 2 if not math.isnan(r["ci_high"]) else math.nan
            text = f"{_fmt(r['mean'])} ± {_fmt(half)}" if not math.isnan(half) else _fmt(r["mean"])
            cells.append(f"[bold green]{text}[/]" if best.get(dataset) == loss else text)
        table.add_row(escape(loss), *cells)
    notes = sorted({n for n in rows["note"] if isinstance(n, str) and n})
    if notes:
        table.caption = escape("; ".join(notes))
    return table


def verdicts(frame: pd.DataFrame, decisive: float = 0.75) -> list[str]:
    """One plain sentence per dataset, from the numbers: the best loss against the baseline (the
    experiment's first loss), both means, and the paired win rate. A win rate of at least
    `decisive` "beats"; a narrower one "edges out"; a baseline that stays best is "best"
    unless the runner-up wins more than 1 − `decisive` of the trials ("close")."""
    metric = _headline(frame)
    higher = metric in HIGHER_IS_BETTER
    lines = []
    rows = frame[(frame["metric"] == metric) & frame["mean"].notna()]
    for dataset, cells in rows.groupby("dataset", sort=False):
        cells = cells.sort_values("mean", ascending=not higher)
        base = cells[cells["loss"] == cells.iloc[0]["baseline"]]
        if base.empty or len(cells) < 2:
            continue
        best, base = cells.iloc[0], base.iloc[0]
        challenger = best if best["loss"] != base["loss"] else cells.iloc[1]
        new, old = challenger["loss"], base["loss"]
        a, b, wins = _fmt4(challenger["mean"]), _fmt4(base["mean"]), challenger["win_rate"]
        share = f"{wins:.0%} of trials"
        if challenger is best and wins >= decisive:
            text = f"{new} beats {old} on {metric}, {a} vs {b}, wins {share}"
        elif challenger is best:
            text = f"{new} edges out {old} on {metric}, {a} vs {b}, but wins only {share}"
        elif wins <= 1 - decisive:
            text = f"{old} is best on {metric}, {b} vs {a} for {new}, which wins {share}"
        else:
            text = f"{new} and {old} are close on {metric}, {a} vs {b}; {new} wins {share}"
        lines.append(f"{dataset}: {text}")
    return lines


def _fmt4(x: float) -> str:
    return f"{x:.4g}"


def _curve_table(
    title: str, frame: pd.DataFrame, metric: str, columns: list[float], label: str
) -> Table:
    rows = frame[frame["metric"] == metric]
    table = Table(title=title, title_justify="left")
    table.add_column("loss")
    for x in columns:
        table.add_column(f"{label}{_fmt(x)}", justify="right")
    for loss in dict.fromkeys(rows["loss"]):
        mine = rows[rows["loss"] == loss].set_index("x")["mean"]
        table.add_row(escape(loss), *(_fmt(mine.get(x, math.nan)) for x in columns))
    return table


def _punishment(experiment: str, frame: pd.DataFrame) -> Table:
    values = frame[frame["metric"] == "value"]
    xs = sorted(values["x"].dropna().unique(), reverse=True)
    return _curve_table(
        f"{experiment}: loss at y = 1 as the prediction p goes to 0", frame, "value", xs, "p="
    )


def _influence(experiment: str, frame: pd.DataFrame) -> Table:
    xs = sorted(frame["x"].dropna().unique())
    if len(xs) > 8:  # a readable selection of the sweep
        xs = [xs[round(i * (len(xs) - 1) / 7)] for i in range(8)]
    return _curve_table(
        f"{experiment}: shift of the fitted parameters as one point moves k σ away",
        frame, "coef_shift", xs, "k=",
    )  # fmt: skip


def _landscape(experiment: str, frame: pd.DataFrame) -> Table:
    table = Table(
        title=f"{experiment}: a sigmoid unit from random starts (mean over trials)",
        title_justify="left",
    )
    for column in ("loss", "distinct end points", "objective spread", "share reaching the best"):
        table.add_column(column, justify="left" if column == "loss" else "right")
    for loss, rows in frame.groupby("loss", sort=False):
        get = rows.set_index("metric")["mean"]
        table.add_row(
            escape(loss), _fmt(get.get("distinct_minima", math.nan)),
            _fmt(get.get("objective_spread", math.nan)), f"{get.get('best_share', math.nan):.0%}",
        )  # fmt: skip
    return table


def render_timings(timings: pd.DataFrame) -> list[Table | str]:
    """Per (dtype, n): ns per element by impl (median ± stdev), fused's speed-up over numpy and
    its roofline; then a verdict per loss at the largest n."""
    if timings is None or timings.empty:
        return []
    parts: list[Table | str] = []
    kernels = timings[timings["loss"] != "probe"]
    impls = list(dict.fromkeys(kernels["impl"]))
    for (dtype, n), cells in kernels.groupby(["dtype", "n"], sort=False):
        probes = timings[
            (timings["loss"] == "probe") & (timings["dtype"] == dtype) & (timings["n"] == n)
        ]
        floor = ", ".join(f"{r.op} {r.ns_per_element:.3g}" for r in probes.itertuples())
        table = Table(
            title=f"timing, {dtype}, n={n:.0e}: ns per element (median ± stdev); probes: {floor}",
            title_justify="left",
        )
        table.add_column("loss")
        table.add_column("op")
        for impl in impls:
            table.add_column(impl, justify="right")
        table.add_column("fused vs numpy", justify="right")
        table.add_column("fused roofline", justify="right")
        for (loss, op), row in cells.groupby(["loss", "op"], sort=False):
            by = row.set_index("impl")
            cols = []
            for impl in impls:
                if impl not in by.index:
                    cols.append("[dim]—[/]")
                    continue
                r = by.loc[impl]
                spread = r["stdev_s"] / n * 1e9 if not math.isnan(r["stdev_s"]) else math.nan
                cols.append(
                    f"{r['ns_per_element']:.3g} ± {spread:.2g}"
                    if not math.isnan(spread)
                    else f"{r['ns_per_element']:.3g}"
                )
            speedup = roof = "—"
            if {"fused", "numpy"} <= set(by.index):
                speedup = f"{by.loc['numpy', 'median_s'] / by.loc['fused', 'median_s']:.1f}×"
            if "fused" in by.index and not math.isnan(by.loc["fused", "roofline"]):
                roof = f"{by.loc['fused', 'roofline']:.0%}"
            table.add_row(escape(loss), op, *cols, speedup, roof)
        parts.append(table)
    lines = timing_verdicts(timings)
    if lines:
        parts.append(escape("\n".join(lines)))
    return parts


def timing_verdicts(timings: pd.DataFrame) -> list[str]:
    """One plain sentence per loss at the largest n: fused's roofline and its speed-up over
    every other implementation timed."""
    kernels = timings[timings["loss"] != "probe"]
    largest = kernels[kernels["n"] == kernels["n"].max()]
    lines = []
    for loss, rows in largest.groupby("loss", sort=False):
        rows = rows[rows["op"] == rows["op"].iloc[0]]
        by = rows[rows["dtype"] == rows["dtype"].iloc[0]].set_index("impl")
        if "fused" not in by.index:
            continue
        fused = by.loc["fused"]
        others = ", ".join(
            f"{by.loc[impl, 'median_s'] / fused['median_s']:.1f}× {impl}"
            for impl in by.index
            if impl != "fused"
        )
        floor = "memory bandwidth" if fused["op"] == "value" else "the read-write floor"
        lines.append(
            f"fused {loss} {fused['op']} at n={fused['n']:.0e} ({fused['dtype']}): "
            f"{fused['roofline']:.2f} of {floor}" + (f", {others}" if others else "")
        )
    return lines
