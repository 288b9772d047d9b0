"""The command line's terminal: its two consoles (every name shown through them is escaped
and any control character made visible), one-line errors with exit code 2, and the exits of
an interrupted process. Only the CLI uses it: library code never prints."""

from __future__ import annotations

import sys
import traceback
from contextlib import contextmanager
from enum import StrEnum
from typing import Any

import typer
from rich.console import Console, ConsoleDimensions

from lossbench.errors import LossbenchError, one_line
from lossbench.text import guard
from lossbench.text import markup as escape

__all__ = ["Format", "click_exceptions", "debug_mode", "err", "exit_now", "out", "user_errors"]


class Format(StrEnum):
    """How a command writes what it found (compare, history show)."""

    table = "table"
    markdown = "markdown"
    json = "json"


MIN_WIDTH = 80  # the tables' width: narrower (COLUMNS=0 or 20) would hide numbers behind "…"


_RICH_SIZE = vars(Console)["size"]  # rich's own property, read and set beneath ours


class _Console(Console):
    """A rich console at least `MIN_WIDTH` wide, its width read from the terminal (or
    COLUMNS) when it prints, not once when it was made."""

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self._width = None  # rich fixes COLUMNS at creation; it is read at each print instead

    @property
    def size(self) -> ConsoleDimensions:
        size = _RICH_SIZE.__get__(self)
        return ConsoleDimensions(max(size.width, MIN_WIDTH), size.height)

    @size.setter
    def size(self, new_size) -> None:
        _RICH_SIZE.__set__(self, new_size)


out = _Console(emoji=False)  # `:smile:` in a name is those characters
err = _Console(stderr=True, emoji=False)
for _console in (out, err):
    guard(_console)  # no name or value reaches the terminal as an escape sequence
debug_mode = {"on": False}


@contextmanager
def user_errors():
    """Turn a `LossbenchError` into one red line on stderr and exit code 2 (traceback with
    --debug)."""
    try:
        yield
    except LossbenchError as error:
        if debug_mode["on"]:
            err.print(traceback.format_exc(), markup=False, highlight=False)
        err.print(
            f"[bold red]error:[/] {escape(one_line(str(error)))}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(code=2) from None


def exit_now(code: int) -> None:
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def click_exceptions() -> tuple[tuple[Any, ...], tuple[type[BaseException], ...]]:
    """(usage errors, aborts) as raised by typer's own copy of click and by click."""
    import importlib

    usage: list[Any] = []  # click's UsageError classes
    abort: list[type[BaseException]] = [typer.Abort]
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        usage.append(module.UsageError)
        abort += [module.Abort] if hasattr(module, "Abort") else []
    return tuple(usage), tuple(abort)


def print_answer(comparisons) -> None:
    """The answer block, just above the last line: which loss to use, per dataset."""
    from lossbench.report.answer import answer, run_level

    lines = answer(comparisons)
    if lines:
        out.print("[bold]What to use[/] (paired comparisons with the first loss):")
        from rich.padding import Padding

        for line in lines:  # wrapped within the width, indented as a block
            out.print(Padding(escape(line), (0, 0, 0, 2)), highlight=False)
        risk = run_level(comparisons)
        if risk:  # under the block, as its footnote
            out.print(escape(f"{risk}."), highlight=False, style="dim")


def results_line(path) -> None:
    """The last line of `run` and `show`, never wrapped: scripts read the path from it."""
    out.print(f"results: {path}", highlight=False, soft_wrap=True, markup=False)


def print_compare(found) -> None:
    from lossbench.report import compare as cmp

    for style, line in cmp.lines(found):  # markup is the style's alone: lines are escaped
        out.print(f"[{style}]{escape(line)}[/]" if style else escape(line), soft_wrap=True)


def readable_help(app: typer.Typer) -> None:
    """Each command's help as paragraphs (rich keeps every source line break of a docstring,
    which cut sentences in two at 80 columns), and no type shown beside a flag (Typer 0.29
    shows `--quick <bool>`, though a flag takes no value)."""
    import inspect

    for command in app.registered_commands:
        doc = inspect.cleandoc(command.callback.__doc__ or "")
        command.help = "\n\n".join(" ".join(p.split()) for p in doc.split("\n\n"))
    option: Any = typer.core.TyperOption
    if hasattr(option, "display_type_rich") and not hasattr(option, "_typed"):
        option._typed = option.display_type_rich
        option.display_type_rich = lambda self, ctx: None if self.is_flag else self._typed(ctx)
