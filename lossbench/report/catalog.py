"""What a config can name, as tables for `lossbench list`: losses (with parameters and
formula), datasets, metrics and implementations (and which are available here)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from lossbench.text import markup as escape

__all__ = ["TABLES", "datasets_table", "impls_table", "losses_table", "metrics_table"]


def losses_table() -> Table:
    from lossbench.losses import LOSSES, ROW_LOSSES

    table = Table(title="losses (r = y_true − y_pred)", title_justify="left")
    for column in ("name", "parameters", "y_pred", "formula", "what it is for"):
        table.add_column(column)
    kinds: list[tuple[str, Any]] = [*sorted(LOSSES.items()), *sorted(ROW_LOSSES.items())]
    for name, cls in kinds:
        parameters = getattr(cls, "parameters", ())
        params = "\n".join(f"{p.name}={p.default} — {p.doc}" for p in parameters) or "—"
        row = (name, params, cls.prediction, cls.formula, cls.summary)
        table.add_row(*(escape(cell) for cell in row))  # formulas hold [brackets]
    table.caption = (
        "A user loss is named 'package.module:function' (that code is imported and run). "
        "cross_entropy is over rows of (n, K) logits: fit experiments on multiclass data."
    )
    return table


def datasets_table() -> Table:
    from lossbench.experiments import DATASETS

    table = Table(
        title="datasets (a list value is a grid: one dataset per value)", title_justify="left"
    )
    for column in ("kind", "parameters (defaults)", "what it is"):
        table.add_column(column)
    for kind, cls in DATASETS.items():
        table.add_row(kind, escape(cls.described_parameters()), escape(cls.summary))
    return table


def metrics_table() -> Table:
    from lossbench.experiments.metrics import (
        CLASSIFICATION,
        HELD_OUT,
        HIGHER_IS_BETTER,
        METRICS,
        REGRESSION,
    )

    table = Table(title="metrics", title_justify="left")
    for column in ("metric", "for", "better", "what it measures"):
        table.add_column(column)
    for name, doc in METRICS.items():
        task = (
            "regression"
            if name in REGRESSION or name in HELD_OUT
            else "classification"
            if name in CLASSIFICATION
            else "every fit"
        )
        better = "higher" if name in HIGHER_IS_BETTER else "lower"
        table.add_row(name, task, better, escape(doc))
    return table


def impls_table() -> Table:
    from lossbench.losses.impls import IMPLEMENTATIONS

    table = Table(title="implementations (timing: `impls` in the config)", title_justify="left")
    for column in ("impl", "available here", "what it is"):
        table.add_column(column)
    for name, impl in IMPLEMENTATIONS.items():
        reason = impl.unavailable()
        here = "yes" if reason is None else f"no: {reason}" + ("" if impl.own else "; skipped")
        table.add_row(name, escape(here), escape(impl.summary))
    return table


# `lossbench list TOPIC`: the table of each topic, in the order plain `list` shows them
TABLES = {
    "losses": losses_table,
    "datasets": datasets_table,
    "metrics": metrics_table,
    "impls": impls_table,
}
