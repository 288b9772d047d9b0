"""Text columns of a table as features, fitted on each trial's training rows only, so nothing
about the held-out fold leaks into the encoding: one-hot indicators for linear models
(`encoded`), or one integer code per column for trees, which split on its levels themselves
(`codes`: LightGBM's categorical features).

A level becomes its own indicator when the training rows hold it at least `MIN_ROWS` times and
in at least `MIN_SHARE` of them; rarer levels, and levels the training rows never saw, are
pooled into one "other" level. The most frequent level is the reference (no indicator: the
intercept carries it). A column with more than `MAX_LEVELS` common levels (an identifier, a
free-text field), or none but one (every level pooled: it carries nothing), is left out, and
said. A column whose values mostly read as numbers (`stray_text`: "1,234", "$5", "12 kg"
beside plain numbers) is a numeric column with stray text, not a category: the table refuses
it rather than encode it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = [
    "MAX_LEVELS",
    "MIN_ROWS",
    "MIN_SHARE",
    "TextColumn",
    "codes",
    "encoded",
    "is_number",
    "stray_text",
    "unusable",
]

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
    indicator each could sensibly have, or too few to tell rows apart."""
    common, pooled = _common(column.values)
    if len(common) > MAX_LEVELS:
        return f"more than {MAX_LEVELS} levels"
    if not common:
        return f"no level on {MIN_ROWS} rows or more: every level pooled, it carries nothing"
    if len(common) == 1 and not pooled:
        return "one level only: it carries nothing"
    return ""


# a number as people write one in a table: a sign, a currency, thousands separators, a
# decimal part, an exponent, a unit or percent after it ("$1,234.5", "12 kg", "7%", "3e5")
_DECORATED = re.compile(
    r"[-+]?\s*[$€£¥]?\s*[-+]?\d[\d,]*(\.\d*)?([eE][-+]?\d+)?\s*([A-Za-z]{1,3}|%)?"
)
NUMERIC_SHARE = 0.5  # a column whose values read as numbers this often is numeric


def stray_text(values) -> list[str]:
    """The values that stop a numeric column from reading as numbers (at most three, most
    frequent first), where over `NUMERIC_SHARE` of `values` (present ones, as text) read as
    numbers, plain or written with a currency, separators or a unit; [] where they do not."""
    present = [str(v).strip() for v in values]
    if not present:
        return []
    plain = [is_number(v) for v in present]
    decorated = [p or bool(_DECORATED.fullmatch(v)) for v, p in zip(present, plain, strict=True)]
    if sum(decorated) <= NUMERIC_SHARE * len(present):
        return []
    strays, counts = np.unique(
        [v for v, p in zip(present, plain, strict=True) if not p], return_counts=True
    )
    order = np.argsort(-counts, kind="stable")[:3]
    return [str(strays[i]) for i in order]


def is_number(value: str) -> bool:
    """Whether `value` reads as a number as it is (Python's float)."""
    try:
        float(value)
    except ValueError:
        return False
    return True


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
