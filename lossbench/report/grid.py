"""Tables that fit the terminal: shown as built when they fit, else in a long form.

A `grid` is rows × columns of short text cells. Rendered on a console at least as wide as the
table's natural width it is that table; on a narrower one (80 columns: a CI log, a split pane)
it becomes one row per cell, long labels abbreviated and spelled out in a legend below, so that
no number is split over lines. The choice is made when printed, from the console's width.
"""

from __future__ import annotations

import re

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from lossbench.text import markup as escape

__all__ = ["Grid", "abbreviations", "grid"]

SHORT = 16  # labels longer than this are abbreviated in the long form
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def abbreviations(labels: list[str], limit: int = SHORT) -> tuple[dict[str, str], list[str]]:
    """A short form of each label (unchanged when within `limit`), and the legend lines that
    spell out the shortened ones: ``huber(delta=1.345, scale=mad)`` → ``huber¹``."""
    short: dict[str, str] = {}
    legend: list[str] = []
    for label in dict.fromkeys(labels):
        if len(label) <= limit:
            short[label] = label
            continue
        base = re.split(r"[(.]", label, maxsplit=1)[0][: limit - 2] or label[: limit - 2]
        mark = str(len(legend) + 1).translate(_SUPERSCRIPT)
        short[label] = f"{base}{mark}"
        legend.append(f"{mark} {label}")
    return short, legend


class Grid:
    """The renderable `grid` returns: its wide table when that fits, else its long form,
    with the title above and the caption and legend below written across the whole width
    (a table's own title and caption are squeezed into the table's width)."""

    def __init__(self, wide: Table, long: Table, title: Text, notes: list[Text]) -> None:
        self.wide, self.long, self.title, self.notes = wide, long, title, notes

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        natural = Measurement.get(console, options.update(width=10**4), self.wide).maximum
        yield Group(
            self.title, self.wide if natural <= options.max_width else self.long, *self.notes
        )

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, Group(self.title, self.long, *self.notes))


def grid(
    title: str,
    corner: str,
    rows: list[str],
    columns: list[str],
    cells: dict[tuple[str, str], str],
    *,
    across: str = "",
    value: str = "value",
    caption: str | None = None,
) -> Grid:
    """Rows × columns of cells (rich markup; a missing cell shows —). `corner` heads the row
    labels, `across` names what the columns are and `value` what a cell is, for the long
    form; they, the title, the caption and the labels are plain text."""
    missing = "[dim]—[/]"
    short, legend = abbreviations([*rows, *columns])
    wide = Table()
    wide.add_column(escape(corner))
    for column in columns:
        wide.add_column(escape(short[column]), justify="right")
    for row in rows:
        wide.add_row(escape(short[row]), *(cells.get((row, column), missing) for column in columns))
    notes = [Text(caption, style="dim")] if caption is not None else []
    notes += [Text("\n".join(legend), style="dim")] if legend else []

    long = Table()
    long.add_column(escape(corner), no_wrap=True)
    long.add_column(escape(across), no_wrap=True)
    long.add_column(escape(value), justify="right", no_wrap=True)
    for row in rows:
        for i, column in enumerate(columns):
            label = escape(short[row]) if i == 0 else ""
            long.add_row(label, escape(short[column]), cells.get((row, column), missing))
        long.rows[-1].end_section = True
    return Grid(wide, long, Text(title, style="italic"), notes)
