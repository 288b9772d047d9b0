"""The columns of a table a run uses, read as a person means them: the features named (or
every column but the target) less those excluded; text columns (and those declared
``categorical``) for `encoding`, left out and said where they carry nothing; a column that
reads as numbers but for a few values refused with those values and the fixes; a missing
value missing in any column used, text or number; values bounded so that no square overflows.
"""

from __future__ import annotations

import numpy as np

from lossbench import text
from lossbench.errors import LossbenchError
from lossbench.experiments.datasets import encoding

__all__ = ["LARGEST", "chosen"]


def chosen(frame, target, features, exclude, categorical, missing, where, name):
    """(X, y, text columns, columns left out with why, rows dropped) from a DataFrame: the
    columns `features` names (all but the target when None), less those `exclude` names;
    those `categorical` names are text whatever they hold. Missing means missing in every
    column used, text or numbers: refused, or with `missing: drop` its rows dropped."""
    import pandas as pd

    absent = [f for f in exclude if f not in frame.columns]
    if absent or target in exclude:
        said = f"has no column {absent[0]!r}" if absent else f"target {target!r} is no feature"
        raise LossbenchError(
            f"{name} {said}; exclude names feature columns", where=(*where, "exclude")
        )
    if features is None:
        chosen = [c for c in frame.columns if c != target]
    else:
        absent = [f for f in features if f not in frame.columns]
        if absent:
            raise LossbenchError(
                f"{name} has no column {absent[0]!r}",
                where=(*where, "features"),
            )
        if target in features:
            raise LossbenchError(
                f"the target {target!r} cannot be a feature",
                where=(*where, "features"),
            )
        chosen = list(features)
    for column in categorical:
        if column not in chosen or column in exclude:
            why = "has no column" if column not in frame.columns else "has no feature column"
            raise LossbenchError(
                f"{name} {why} {column!r}; categorical names feature columns",
                where=(*where, "categorical"),
            )
    chosen = [c for c in chosen if c not in exclude]
    numeric = [
        c for c in chosen if pd.api.types.is_numeric_dtype(frame[c]) and c not in categorical
    ]
    texts = [c for c in chosen if c not in numeric]
    if not numeric and not texts:
        raise LossbenchError(
            f"{name} has no feature column" + (" left after exclude" if exclude else ""),
            where=where,
        )
    for column in texts:
        strays = [] if column in categorical else encoding.stray_text(frame[column].dropna())
        if strays:
            _refuse_stray_text(name, column, frame[column], strays, where)
    usable, left_out = [], []
    for column in texts:  # judged on the values present; missing ones are missing
        why = encoding.unusable(encoding.TextColumn.of(str(column), frame[column].dropna()))
        if why and features is not None and column in features:
            raise LossbenchError(
                f"{text.visible(column)} cannot be a feature: a text column with {why}",
                where=(*where, "features"),
            )
        if why:
            left_out.append(f"{text.visible(column)} ({why})")
        else:
            usable.append(column)
    used = frame[[*numeric, *usable, target]]
    counts = used.isna().sum()
    dropped = 0
    if counts.any():
        if missing != "drop":
            listed = ", ".join(f"{c}: {n}" for c, n in counts.items() if n)
            raise LossbenchError(
                where=where,
                message=f"{name} has missing values ({listed}); add `missing: drop` to drop "
                "those rows",
            )
        before = len(used)
        used = used.dropna()
        dropped = before - len(used)
    X = used[numeric].to_numpy(dtype=np.float64)
    y = used[target].to_numpy()
    for column, values in [*zip(numeric, X.T, strict=True), (target, y)]:
        _bounded(name, column, values, used.index, where)
    kept = [encoding.TextColumn.of(str(column), used[column]) for column in usable]
    if not numeric and not kept:
        raise LossbenchError(f"{name} has no usable feature column", where=where)
    return X, y, kept, left_out, dropped


def _refuse_stray_text(name: str, column, values, strays: list[str], where) -> None:
    """A numeric column with a few values that are not numbers: named, with the fix."""
    present = values.dropna().astype(str).str.strip()
    count = int(sum(not encoding.is_number(v) for v in present))
    shown = ", ".join(repr(text.visible(v)) for v in strays)
    column = text.visible(column)
    raise LossbenchError(
        f"{name}: column {column!r} reads as numbers but {count} of {len(present)} values do "
        f"not ({shown}); clean them, leave the column out (exclude: [{column}]) or declare it "
        f"text (categorical: [{column}])",
        where=where,
    )


# |value| beyond this squares to infinity (1e154² > 1.8e308): no loss could be fitted on it
LARGEST = 1e150


def _bounded(name: str, column, values, index, where) -> None:
    """Refuse an infinite or overflowing value, naming its column and row."""
    numbers = np.asarray(values)
    if not np.issubdtype(numbers.dtype, np.number):
        return  # labels the task reads (two classes) are not numbers to bound
    numbers = numbers.astype(np.float64)
    wrong = ~(np.abs(numbers) <= LARGEST)
    if wrong.any():
        i = int(np.argmax(wrong))
        raise LossbenchError(
            f"{name}: column {text.visible(column)!r} holds {float(numbers[i])!r} at data row "
            f"{int(index[i]) + 1}; values must be finite and at most {LARGEST:g} in size",
            where=where,
        )
