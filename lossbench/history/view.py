"""Trends for people: the answer line, a table per machine (80 columns), and JSON."""

from __future__ import annotations

import json
import math

from rich.table import Table

from lossbench import text
from lossbench.history.trends import Trend
from lossbench.report.numbers import seconds

__all__ = ["amount", "answer", "by_machine", "markdown", "step", "tables", "to_json"]


def amount(trend: Trend, value: float) -> str:
    """A value in its unit: a duration, or instructions per call."""
    return seconds(value) if trend.measure == "time" else f"{value:,.0f} instr"


def step(trend: Trend, index: int) -> str:
    """``+10.1% at 3f2a9c1e0b``: a change's size and the first commit that has it."""
    change = trend.changes[index]
    return f"{change.ratio - 1:+.1%} at {trend.commits[change.index]}"


def answer(found: list[Trend]) -> str:
    """The first line: how many benchmarks stepped, and the largest step."""
    if not found:
        return "no benchmark matched in the history"
    stepped = [t for t in found if t.changes]
    commits = max(len(t.commits) for t in found)
    if not stepped:
        return (
            f"no step in any of {len(found)} benchmark{'s' * (len(found) != 1)} "
            f"over up to {commits} commits"
        )
    largest, index = max(
        ((t, i) for t in stepped for i in range(len(t.changes))),
        key=lambda pair: abs(pair[0].changes[pair[1]].ratio - 1),
    )
    return (
        f"steps in {len(stepped)} of {len(found)} benchmarks over up to {commits} commits; "
        f"the largest: {text.visible(largest.benchmark)} {step(largest, index)}"
    )


def by_machine(found: list[Trend]) -> dict[str, list[Trend]]:
    """The trends of each machine, those with a step first, then by name."""
    ordered = sorted(found, key=lambda t: (not t.changes, t.benchmark))
    return {
        m: [t for t in ordered if t.machine == m] for m in dict.fromkeys(t.machine for t in found)
    }


def tables(found: list[Trend]) -> list[Table]:
    """Per machine: each benchmark's commits, latest value, and its steps (newest last);
    benchmarks with a step first."""
    made = []
    for machine, rows in by_machine(found).items():
        table = Table(
            title=text.markup(f"{text.visible(machine)}: per commit, the median process"),
            title_justify="left",
            caption="a step: its size, at the first commit that has it",
            caption_justify="left",
            expand=False,
        )
        table.add_column("benchmark", overflow="fold")
        table.add_column("commits", justify="right")
        table.add_column("latest", justify="right", no_wrap=True)
        table.add_column("steps", overflow="fold")
        for trend in rows:
            steps = "; ".join(step(trend, i) for i in range(len(trend.changes))) or "none"
            table.add_row(
                text.markup(text.visible(trend.benchmark)),
                str(len(trend.commits)),
                amount(trend, float(trend.values[-1])),
                text.markup(steps),
            )
        made.append(table)
    return made


def markdown(found: list[Trend]) -> str:
    """The answer and, per machine, the table as markdown (a CI job's summary)."""
    lines = [text.markdown(answer(found))]
    for machine, rows in by_machine(found).items():
        lines += [
            "",
            f"**{text.markdown(machine)}**: per commit, the median process",
            "",
            "| benchmark | commits | latest | steps (first commit with it) |",
            "| --- | ---: | ---: | --- |",
        ]
        for trend in rows:
            steps = "; ".join(step(trend, i) for i in range(len(trend.changes))) or "none"
            lines.append(
                f"| {text.markdown_code(trend.benchmark)} | {len(trend.commits)} | "
                f"{amount(trend, float(trend.values[-1]))} | {text.markdown(steps)} |"
            )
    return "\n".join(lines)


def to_json(found: list[Trend]) -> str:
    """Every trend: its commits, values and steps (ratios of segment medians)."""
    return json.dumps(
        [
            {
                "benchmark": t.benchmark,
                "measure": t.measure,
                "machine": t.machine,
                "commits": t.commits,
                "at": t.at,
                "values": [float(v) for v in t.values],
                "steps": [
                    {
                        "commit": t.commits[c.index],
                        "index": c.index,
                        "ratio": c.ratio if math.isfinite(c.ratio) else None,
                        "commits_before": c.before,
                        "commits_after": c.after,
                    }
                    for c in t.changes
                ],
            }
            for t in found
        ],
        indent=2,
    )
