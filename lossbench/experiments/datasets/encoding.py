"""Text columns of a table as features, fitted on each trial's training rows only, so nothing
about the held-out fold leaks into the encoding: one-hot indicators for linear models
(`encoded`), or one integer code per column for trees, which split on its levels themselves
(`codes`: LightGBM's categorical features).

A level becomes its own indicator when the training rows hold it at least `MIN_ROWS` times and
in at least `MIN_SHARE` of them; rarer levels, and levels the training rows never saw, are
pooled into one "other" level. The most frequent level is the reference (no indicator: the
intercept carries it). A column with more than `MAX_LEVELS` common levels (an identifier, a
free-text field) is left out, and said.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MAX_LEVELS", "MIN_ROWS", "MIN_SHARE", "TextColumn", "codes", "encoded", "unusable"]

MIN_ROWS = 5
MIN_SHARE = 0.01
MAX_LEVELS = 50
MISSING = "(missing)"
POOLED = object()  # the "other" level: rare and unseen levels (no text can be it)


@dataclass(frozen=True)
class TextColumn:
    """A table column of text values (missing ones as `MISSING`)."""

    name: str
    values: np.ndarray  # object array of str

    @classmethod
    def of(cls, name: str, column) -> TextColumn:
        values = np.array([MISSING if v != v or v is None else str(v) for v in column], object)
        return cls(name, values)


def _common(values: np.ndarray) -> tuple[list[str], bool]:
    """(the levels frequent enough for an indicator, most frequent first; whether any row
    falls outside them)."""
    levels, counts = np.unique(values.astype(str), return_counts=True)
    needed = max(MIN_ROWS, MIN_SHARE * len(values))
    order = np.argsort(-counts, kind="stable")
    common = [str(levels[i]) for i in order if counts[i] >= needed]
    return common, len(common) < len(levels)


def unusable(column: TextColumn) -> str:
    """Why a text column cannot be a feature ("" if it can): more common levels than an
    indicator each could sensibly have, or none at all."""
    common = _common(column.values)[0]
    if len(common) > MAX_LEVELS:
        return f"more than {MAX_LEVELS} levels"
    if not common or (len(common) == 1 and not _common(column.values)[1]):
        return f"no second level on {MIN_ROWS} rows or more"
    return ""


def encoded(
    columns: list[TextColumn], train: np.ndarray, test: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(train block, test block) of indicator columns for `columns`, fitted on the rows
    `train` (a boolean mask or indices) and applied to the rows `test`."""
    blocks_train, blocks_test = [], []
    for column in columns:
        fitted, applied = column.values[train].astype(str), column.values[test].astype(str)
        common, pooled = _common(fitted)
        for level in (common + ([POOLED] if pooled else []))[1:]:  # the first: the reference
            blocks_train.append(_indicator(fitted, level, common))
            blocks_test.append(_indicator(applied, level, common))
    n_train, n_test = len(column_rows(train)), len(column_rows(test))
    if not blocks_train:
        return np.empty((n_train, 0)), np.empty((n_test, 0))
    return np.column_stack(blocks_train), np.column_stack(blocks_test)


def codes(
    columns: list[TextColumn], train: np.ndarray, test: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(train block, test block) with one column per text column: each common level of the
    training rows `train` its code (0 the most frequent), rare and unseen levels one more."""
    blocks_train, blocks_test = [], []
    for column in columns:
        fitted, applied = column.values[train].astype(str), column.values[test].astype(str)
        common = _common(fitted)[0]
        code = {level: float(i) for i, level in enumerate(common)}
        other = float(len(common))
        blocks_train.append(np.array([code.get(v, other) for v in fitted]))
        blocks_test.append(np.array([code.get(v, other) for v in applied]))
    shape = (len(column_rows(train)), 0), (len(column_rows(test)), 0)
    if not blocks_train:
        return np.empty(shape[0]), np.empty(shape[1])
    return np.column_stack(blocks_train), np.column_stack(blocks_test)


def _indicator(values: np.ndarray, level, common: list[str]) -> np.ndarray:
    """1.0 where a row holds `level` (`POOLED`: none of the `common` levels), else 0.0."""
    inside = ~np.isin(values, common) if level is POOLED else values == level
    return inside.astype(np.float64)


def column_rows(rows: np.ndarray) -> np.ndarray:
    """Row indices from a boolean mask or indices."""
    rows = np.asarray(rows)
    return np.flatnonzero(rows) if rows.dtype == bool else rows
