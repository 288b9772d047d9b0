"""Terminal tables and plain-words verdicts, built from a run's summary (only the CLI prints).

Everything here reads `summary.csv`'s columns, so `lossbench show` re-renders a stored run
exactly as `lossbench run` printed it. Each experiment is rendered by its kind's view
(`lossbench.report.kinds`, by the ``kind`` column); this module holds the timing tables.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from rich.table import Table

from lossbench import results
from lossbench.analysis.constants import ROOFLINE_LIMIT, UNSTABLE_CV
from lossbench.errors import LossbenchError
from lossbench.experiments import COMPARISON_COLUMNS
from lossbench.report.grid import Grid, grid
from lossbench.report.kinds import view_of
from lossbench.text import markup as escape

__all__ = [
    "comparisons_of",
    "kept",
    "progress_bar",
    "render",
    "render_timings",
    "timing_cells",
    "timing_verdicts",
    "unstable_note",
]


def render(summary: pd.DataFrame, comparisons: pd.DataFrame | None = None) -> list[Table | str]:
    """Per experiment what its kind renders: tables, and for fits a verdict per comparison."""
    parts: list[Table | str] = []
    if summary is None or "experiment" not in summary:  # a run stopped before any result
        return parts
    for experiment, frame in summary.groupby("experiment", sort=False):
        view = view_of(frame)
        if view is not None:
            mine = comparisons_of(comparisons, experiment)
            parts += view.render(experiment, frame, mine)
    return parts


def comparisons_of(comparisons: pd.DataFrame | None, experiment: str) -> pd.DataFrame:
    """One experiment's rows of ``comparisons.csv`` (an empty frame when there are none)."""
    if comparisons is None or not len(comparisons):
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    return comparisons[comparisons["experiment"] == experiment]


def render_timings(timings: pd.DataFrame) -> list[Grid | str]:
    """Per (dtype, n) and op: ns per element by implementation (rows) and loss (columns),
    median ± stdev, then fused's speed-up over numpy and its roofline; then a verdict per loss
    at the largest n."""
    if timings is None or timings.empty:
        return []
    parts: list[Grid | str] = []
    kernels = timings[timings["loss"] != "probe"]
    impls = list(dict.fromkeys(kernels["impl"]))
    for (dtype, n, op), cells in kernels.groupby(["dtype", "n", "op"], sort=False):
        probes = timings[
            (timings["loss"] == "probe") & (timings["dtype"] == dtype) & (timings["n"] == n)
        ]
        counts = "instructions_per_element" in cells and cells["median_s"].isna().all()
        per = "instructions_per_element" if counts else "ns_per_element"
        floor = ", ".join(
            f"{r.op}{_cores_mark(r.impl)} {getattr(r, per):.3g}" for r in probes.itertuples()
        )
        what = "instructions per element" if counts else "ns per element (median ± stdev)"
        losses = list(dict.fromkeys(cells["loss"]))
        table, unstable = timing_cells(cells, n)
        parts.append(
            grid(
                f"timing, {op}, {dtype}, n={n:.0e}: {what}; probes: {floor}",
                "impl",
                timing_rows(cells, impls),
                losses,
                table,
                across="loss",
                value="ns per element",
                caption=unstable_note(unstable) or None,
            )
        )
    lines = timing_verdicts(timings)
    if lines:
        parts.append(escape("\n".join(lines)))
    return parts


FUSED_ALL = "fused@all"  # the all-core fused kernels (timing.threads: [1, all])


def _cores_mark(impl: str) -> str:
    return "@all" if impl.endswith("@all") else ""


def timing_rows(cells: pd.DataFrame, impls: list[str]) -> list[str]:
    """The rows of one (op, dtype, n)'s table: its implementations in order, then fused's
    speed-up and roofline, and the all-core kernels' roofline when they were timed."""
    timed = set(cells["impl"])
    rows = [*(i for i in impls if i in timed), "fused vs numpy"]
    if "instructions_per_element" in cells and cells["instructions_per_element"].notna().any():
        return rows  # counts have no memory floor
    rows.append("fused roofline")
    return rows + ([f"{FUSED_ALL} roofline"] if FUSED_ALL in timed else [])


_UNSTABLE = {
    "floor": "! above 100%: measured faster than the memory floor, which no kernel can be: "
    "noise between the kernel's worker processes and the floor's, not a fault",
    "processes": f"! the worker processes disagree by more than {UNSTABLE_CV:.0%}: the machine "
    "was busy, so this number is less certain",
}


def unstable_note(reasons: set[str]) -> str:
    """What the "!" beside a roofline means, for the reasons marked in a table."""
    return "\n".join(_UNSTABLE[reason] for reason in ("floor", "processes") if reason in reasons)


def timing_cells(cells: pd.DataFrame, n: float) -> tuple[dict[tuple[str, str], str], set[str]]:
    """One (op, dtype, n)'s cells, (impl or "fused vs numpy" or "fused roofline", loss) ->
    text: ns per element median ± stdev, fused's speed-up over numpy, its roofline marked
    "!" where unstable; and why any was ("floor": above 100%, "processes": they disagree)."""
    table: dict[tuple[str, str], str] = {}
    reasons: set[str] = set()
    for loss, row in cells.groupby("loss", sort=False):
        by = row.set_index("impl")
        for impl in by.index:
            r = by.loc[impl]
            counted = r.get("instructions_per_element", math.nan)
            if isinstance(counted, float) and math.isfinite(counted):  # measure: instructions
                table[impl, loss] = f"{counted:.3g} instr"
                continue
            spread = r["stdev_s"] / n * 1e9 if not math.isnan(r["stdev_s"]) else math.nan
            table[impl, loss] = (
                f"{r['ns_per_element']:.3g} ±{spread:.2g}"
                if not math.isnan(spread)
                else f"{r['ns_per_element']:.3g}"
            )
        if {"fused", "numpy"} <= set(by.index):
            measured = "median_s" if by["median_s"].notna().all() else "instructions"
            ratio = by.loc["numpy", measured] / by.loc["fused", measured]
            table["fused vs numpy", loss] = f"{ratio:.1f}×"
        for fused in ("fused", FUSED_ALL):
            if fused in by.index and not math.isnan(by.loc[fused, "roofline"]):
                roofline = by.loc[fused, "roofline"]
                roof = f"{roofline:.0%}"
                if bool(by.loc[fused].get("unstable", False)):
                    roof += " !"  # processes disagree, or above the floor: not to be trusted
                    reasons.add("floor" if roofline > 1 else "processes")
                table[f"{fused} roofline", loss] = roof
    return table, reasons


def timing_verdicts(timings: pd.DataFrame) -> list[str]:
    """One plain sentence per loss at the largest n: fused's roofline and its speed-up over
    every other implementation timed."""
    kernels = timings[timings["loss"] != "probe"]
    largest = kernels[kernels["n"] == kernels["n"].max()]
    lines: list[str] = []
    if kernels["median_s"].isna().all():  # instruction counts: no bandwidth, no seconds
        return lines
    for loss, rows in largest.groupby("loss", sort=False):
        rows = rows[rows["op"] == rows["op"].iloc[0]]
        by = rows[rows["dtype"] == rows["dtype"].iloc[0]].set_index("impl")
        if "fused" not in by.index:
            continue
        fused = by.loc["fused"]
        others = ", ".join(
            f"{by.loc[impl, 'median_s'] / fused['median_s']:.1f}× {impl}"
            for impl in by.index
            if impl != "fused" and not impl.endswith("@all")
        )
        floor = _FLOOR_NAMES.get(fused["op"], "the read-write floor")
        line = (
            f"fused {loss} {fused['op']} at n={fused['n']:.0e} ({fused['dtype']}): "
            f"{_of_floor(fused, floor)}" + (f", {others}" if others else "")
        )
        if FUSED_ALL in by.index:
            every = by.loc[FUSED_ALL]
            line += (
                f"; on {every['threads']:.0f} cores {_of_floor(every, 'their floor')}, "
                f"{fused['median_s'] / every['median_s']:.1f}× one core"
            )
        lines.append(line)
    return lines


_FLOOR_NAMES = {"value": "memory bandwidth", "gradient_and_hessian": "the two-output floor"}


def _of_floor(row: pd.Series, floor: str) -> str:
    """ "0.91 of memory bandwidth", marked where not to be trusted."""
    # above 1 the kernel beat its memory floor: the measurement, not the kernel, is off
    if math.isnan(row["roofline"]):  # cross_entropy: bound by its exps, no memory floor
        return "bound by an exp per element (no memory floor)"
    above = row["roofline"] > 1
    doubt = bool(row.get("unstable", False)) or row["roofline"] > ROOFLINE_LIMIT
    why = (
        "faster than the floor can be: timing noise, not a fault"
        if above
        else "its processes disagree: less certain"
    )
    return f"{row['roofline']:.2f} of {floor}" + (f" ! ({why})" if doubt else "")


def kept(path: Path | None) -> str:
    """What an interrupted run kept, from its run.json."""
    if path is None:
        return "before the run started; nothing was written"
    try:
        record = results.read_record(path / results.RUN)
        done = f"{record['experiments_finished']} of {record['experiments_total']} experiments"
        timing = record.get("timing", "not run")
    except (LossbenchError, KeyError):
        return f"what finished is kept in {path}"
    parts = [f"{done} finished"] if record["experiments_total"] else []
    parts += [] if timing == "not run" else [f"timing {timing}"]
    return f"{', '.join(parts) or 'nothing finished'}; kept in {path}"


def progress_bar(console, *, disable: bool = False):
    """A transient progress bar on `console`: what is running, done of total, and an ETA."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}, ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=disable,
    )
