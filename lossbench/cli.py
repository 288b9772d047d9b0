"""The `lossbench` command: thin commands over the library. Only this module prints.

Heavy modules (numba, pandas, scipy) are imported inside commands, so `lossbench --help` is fast.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lossbench import __version__
from lossbench.errors import LossbenchError

__all__ = ["app", "main"]

app = typer.Typer(
    name="lossbench",
    help="Which loss gives the better model on data like mine, and what does each loss cost?",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
out = Console()
err = Console(stderr=True)
_debug = {"on": False}


@contextmanager
def _user_errors():
    """Turn a `LossbenchError` into one red line on stderr and exit code 2 (traceback with
    --debug)."""
    try:
        yield
    except LossbenchError as error:
        if _debug["on"]:
            err.print(traceback.format_exc(), markup=False, highlight=False)
        err.print(f"[bold red]error:[/] {error}", highlight=False)
        raise typer.Exit(code=2) from None


def _version(value: bool) -> None:
    if value:
        out.print(f"lossbench {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    _debug["on"] = debug


class Topic(StrEnum):
    losses = "losses"
    datasets = "datasets"
    metrics = "metrics"
    impls = "impls"


@app.command("list")
def list_(
    topic: Annotated[Topic, typer.Argument(help="What to list.")] = Topic.losses,
) -> None:
    """Document what a config can name: losses (with parameters and formula), datasets,
    metrics, impls."""
    tables = {
        Topic.losses: _losses_table,
        Topic.datasets: _datasets_table,
        Topic.metrics: _metrics_table,
        Topic.impls: _impls_table,
    }
    with _user_errors():
        out.print(tables[topic]())


def _losses_table() -> Table:
    from lossbench.losses import LOSSES

    table = Table(title="losses (r = y_true − y_pred)", title_justify="left")
    for column in ("name", "parameters", "y_pred", "formula", "what it is for"):
        table.add_column(column)
    for name, cls in sorted(LOSSES.items()):
        params = "\n".join(f"{p.name}={p.default} — {p.doc}" for p in cls.parameters) or "—"
        row = (name, params, cls.prediction, cls.formula, cls.summary)
        table.add_row(*(escape(cell) for cell in row))  # formulas hold [brackets]
    table.caption = (
        "A user loss is named 'package.module:function' (that code is imported and run)."
    )
    return table


def _datasets_table() -> Table:
    from lossbench.datasets import _COMMON, KINDS

    table = Table(
        title="datasets (a list value is a grid: one dataset per value)", title_justify="left"
    )
    for column in ("kind", "parameters (defaults)", "what it is"):
        table.add_column(column)
    for kind, (own, doc) in KINDS.items():
        common = [
            f"{k}={v}" for k, v in _COMMON.items() if not (kind == "logistic" and k == "noise")
        ]
        params = ", ".join([*(f"{k}={v}" for k, v in own.items()), *common])
        table.add_row(kind, escape(params), escape(doc))
    return table


def _metrics_table() -> Table:
    from lossbench.metrics import CLASSIFICATION, HIGHER_IS_BETTER, METRICS, REGRESSION

    table = Table(title="metrics", title_justify="left")
    for column in ("metric", "for", "better", "what it measures"):
        table.add_column(column)
    for name, doc in METRICS.items():
        task = (
            "regression"
            if name in REGRESSION
            else "classification"
            if name in CLASSIFICATION
            else "every fit"
        )
        better = "higher" if name in HIGHER_IS_BETTER else "lower"
        table.add_row(name, task, better, escape(doc))
    return table


def _impls_table() -> Table:
    table = Table(title="implementations", title_justify="left")
    for column in ("impl", "available", "what it is"):
        table.add_column(column)
    numba_ok = importlib.util.find_spec("numba") is not None
    table.add_row("numpy", "yes", "vectorized numpy reference that mirrors each formula")
    table.add_row(
        "fused",
        "yes" if numba_ok else "no (pip install numba)",
        "numba kernels: one pass over memory, value and gradient together",
    )
    return table


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
