"""`lossbench compare` in words: pyperf-style lines, a summary line, markdown for a pull
request, and JSON; `compare` reads two inputs and judges them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from lossbench import text
from lossbench.analysis import judgement as judging
from lossbench.analysis.constants import TIMING_ALPHA, TIMING_THRESHOLD, UNSTABLE_CV, TimingVerdict
from lossbench.analysis.judgement import Judgement
from lossbench.analysis.timings import VERDICTS
from lossbench.report.numbers import seconds
from lossbench.results import inputs

__all__ = [
    "compare",
    "describe",
    "lines",
    "markdown",
    "quality_lines",
    "summary_line",
    "to_json",
]


def compare(
    base_path: Path,
    new_path: Path,
    *,
    threshold: float = TIMING_THRESHOLD,
    alpha: float = TIMING_ALPHA,
    normalize: bool = False,
    strict: bool = False,
) -> Judgement:
    """Read two inputs (run directories or pyperf files) and judge them."""
    base, new = inputs.load(base_path), inputs.load(new_path)
    return judging.judge(
        base, new, threshold=threshold, alpha=alpha, normalize=normalize, strict=strict
    )


def lines(judgement: Judgement, width: int = 80) -> list[tuple[str, str]]:
    """The table format as (style, line) pairs, none wider than `width`: notes, each benchmark
    (its name, then its numbers and verdict indented below; red when slower, green when
    faster), the summary line, then the changed quality results."""
    import textwrap

    def wrapped(style: str, text: str, indent: str = "") -> list[tuple[str, str]]:
        parts = textwrap.wrap(
            text,
            width,
            initial_indent=indent,
            subsequent_indent=indent + "  ",
            break_on_hyphens=False,
        )
        return [(style, part) for part in parts or [""]]

    out = [line for note in judgement.notes for line in wrapped("", note)]
    colours = {TimingVerdict.slower: "red", TimingVerdict.faster: "green"}
    for _, row in judgement.timings.iterrows():
        style = colours.get(row["verdict"], "")
        said = describe(row, judgement.threshold)
        out += wrapped(style, f"{row['benchmark']}:") + wrapped(style, said, "    ")
    if len(judgement.timings):
        out += wrapped("", summary_line(judgement.timings))
    if len(judgement.quality):
        header, *changed = quality_lines(judgement.quality)
        out += wrapped("", header)
        out += [line for text in changed for line in wrapped("", text, "  ")]
    return out


def summary_line(timings: pd.DataFrame) -> str:
    """Geometric mean of the ratios and the count of each verdict."""
    import numpy as np

    ratios = timings["ratio"].dropna()
    geo = float(np.exp(np.mean(np.log(ratios)))) if len(ratios) else math.nan
    counts = ", ".join(f"{(timings['verdict'] == v).sum()} {v}" for v in VERDICTS)
    return f"geometric mean of ratios {geo:.4g}; {counts}"


def to_json(timings: pd.DataFrame) -> str:
    """The timing comparisons as the contract's JSON list: benchmark, base_median_s,
    new_median_s, ratio, verdict, plus p_value, test, ratio_ci_low/high, stdevs, sample sizes,
    between-process variation and unstable (null when absent)."""
    records = timings.astype(object).where(timings.notna(), None).to_dict("records")
    return json.dumps(records, indent=2)


def describe(row: pd.Series, threshold: float | None = None) -> str:
    """pyperf's style: "1.50 ms ± 0.05 ms → 2.00 ms ± 0.05 ms: 1.33× slower"."""
    if row["verdict"] == TimingVerdict.missing:
        side = "base" if not math.isnan(row["base_median_s"]) else "new"
        return f"only in {side}"

    normalized = row.get("unit") == "read probe"
    counted = row.get("unit") == "instructions"

    def amount(x: float) -> str:  # normalized values are multiples of the read probe
        if counted:
            return f"{x:,.0f} instructions"
        return f"{x:.3g}× read" if normalized else seconds(x)

    def one(median, stdev):
        return f"{amount(median)} ± {amount(stdev)}" if not math.isnan(stdev) else amount(median)

    ratio = row["ratio"]
    change = (
        "no change"
        if ratio == 1
        else f"{ratio:.2f}× slower"
        if ratio > 1
        else f"{1 / ratio:.2f}× faster"
        if ratio > 0
        else "∞× faster"
    )
    note = (
        ""
        if row["verdict"] != TimingVerdict.same or counted
        else " (not significant)"
        if ratio != 1
        else ""
    )
    if counted and row["verdict"] == TimingVerdict.inconclusive:
        note = f" (inconclusive: counts of one side disagree by {row['base_between_cv']:.2%})"
    elif row["verdict"] == TimingVerdict.inconclusive:
        few = min(row["base_processes"], row["new_processes"]) < row["needed_processes"]
        note = (
            f" (inconclusive: {row['base_processes']} vs {row['new_processes']} processes; a "
            f"verdict needs ≥ {row['needed_processes']} per side)"
            if few
            else f" (inconclusive: {_interval(row)} straddles the threshold"
            f"{_settle(row, threshold)})"
        )
    if bool(row.get("unstable")) and not counted:
        note += f" [unstable: processes disagree by more than {UNSTABLE_CV:.0%}]"
    before = one(row["base_median_s"], row["base_stdev_s"])
    after = one(row["new_median_s"], row["new_stdev_s"])
    return f"{before} → {after}: {change}{note}"


def _settle(row: pd.Series, threshold: float | None) -> str:
    """ "; about N processes a side would settle it", where an estimate exists."""
    from lossbench.analysis.timings import processes_to_settle

    if threshold is None:
        return ""
    n = min(row["base_processes"], row["new_processes"])
    needed = processes_to_settle(
        row["ratio"], row["ratio_ci_low"], row["ratio_ci_high"], n, 1 - row["confidence"], threshold
    )
    return f"; about {needed} processes a side would settle it" if needed else ""


def _interval(row: pd.Series) -> str:
    """The deciding interval of the ratio, e.g. "[1.02, 1.31] (99.8%)"."""
    level = row.get("confidence")
    at = f" ({level * 100:.4g}%)" if isinstance(level, float) and math.isfinite(level) else ""
    return f"[{row['ratio_ci_low']:.3g}, {row['ratio_ci_high']:.3g}]{at}"


def markdown(judgement: Judgement) -> str:
    """A report fit for a pull-request comment or $GITHUB_STEP_SUMMARY."""
    timings, quality, notes = judgement.timings, judgement.quality, judgement.notes
    lines = ["## lossbench compare", ""]
    lines += [f"> {text.markdown(note)}" for note in notes]
    if notes:
        lines.append("")
    if len(timings):
        lines += ["| benchmark | base → new | verdict | p |", "| --- | --- | --- | --- |"]
        for _, row in timings.iterrows():
            p = "" if pd.isna(row.get("p_value")) else f"{row['p_value']:.2g}"
            mark = {TimingVerdict.slower: "🔴 slower", TimingVerdict.faster: "🟢 faster"}.get(
                row["verdict"], row["verdict"]
            )
            said = describe(row, judgement.threshold)
            name, change = text.markdown_code(row["benchmark"]), text.markdown(said)
            lines.append(f"| {name} | {change} | {mark} | {p} |")
        lines += ["", summary_line(timings), ""]
    if quality is not None and len(quality):
        header, *changed = quality_lines(quality)
        lines += [header, *(f"- {text.markdown(line)}" for line in changed)]
    return "\n".join(lines) + "\n"


def quality_lines(quality: pd.DataFrame) -> list[str]:
    """A count of the changed quality results, then one line for each: old → new mean."""
    changed = quality[quality["changed"]]
    lines = [f"quality: {len(changed)} of {len(quality)} results changed (95% intervals apart)"]
    for _, row in changed.iterrows():
        model = row.get("model", "")
        loss = f"{model} with {row['loss']}" if model and model != "linear" else row["loss"]
        lines.append(
            f"{row['experiment']} / {row['dataset']} / {loss} / {row['metric']}: "
            f"{row['mean_base']:.4g} → {row['mean_new']:.4g}"
        )
    return lines
