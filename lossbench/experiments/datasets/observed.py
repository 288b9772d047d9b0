"""Real data, with no ground truth: a user's table (``table``) and scikit-learn's bundled sets
(``sklearn``). They are evaluated by repeated K-fold cross-validation: each trial is one fold
(`Observed.split`), the same folds for every loss, stratified by class for classification.

``{kind: table, path: data.csv, target: price, features: [a, b], exclude: [id],
categorical: [zip], task: auto, missing: error}`` reads CSV, TSV or Parquet (pyarrow, the
``parquet`` extra) once, when the config is checked; `path` is relative to the config file's
directory. `features` defaults to every column but the target; text columns (and those
`categorical` names, numbers or not) are encoded per fold (`encoding`), one that cannot be is
left out and said; a column that reads as numbers but for a few values ("1,234", "n/a?") is
refused with the values, not encoded. ``task: auto`` is classification when the target has
exactly two distinct values (mapped to 0/1 in sorted order), regression otherwise. A missing
value is missing in any column used, text or number: ``missing: drop`` drops those rows
(counted in a note) instead of refusing them.
"""

from __future__ import annotations

import hashlib
import io
import re
import sys
import zlib
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from lossbench import text
from lossbench.errors import LossbenchError
from lossbench.experiments.datasets import columns, encoding, reading
from lossbench.experiments.datasets.base import Dataset, Sample, register

__all__ = ["Observed", "SklearnData", "Table", "choose_task", "read_table"]

TASKS = ("auto", "regression", "classification", "multiclass")
MAX_CLASSES = 50  # beyond it a text target is an identifier, not a class (and folds starve)


class Observed(Dataset):
    """Data held in memory (X, y) with no truth: trials are cross-validation folds."""

    truth = False
    cross_validated = True

    def __init__(
        self,
        params: dict[str, Any],
        label: str,
        X: np.ndarray,
        y: np.ndarray,
        task: str,
        info: dict[str, Any] | None = None,
        texts: list[encoding.TextColumn] | None = None,
    ) -> None:
        super().__init__(params, label)
        self.X, self.y, self.task = X, y, task
        self.info = info or {}
        self.texts = texts or []  # encoded per fold, from its training rows only

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.label == self.label

    def __hash__(self) -> int:
        return hash(self.label)

    @property
    def classes(self) -> int:
        """How many classes the target has (multiclass: codes 0 to K − 1)."""
        return int(np.max(self.y)) + 1 if self.task != "regression" else 0

    def check_folds(self, folds: int) -> None:
        """Refuse a split that cannot be made: fewer rows (or, stratified, members of a class)
        than folds."""
        if len(self.y) < folds:
            raise LossbenchError(
                f"{self.label} has {len(self.y)} rows, fewer than cv.folds = {folds}"
            )
        if self.task != "regression":
            smallest = int(np.unique(self.y, return_counts=True)[1].min())
            if smallest < folds:
                which = "smaller" if len(np.unique(self.y)) == 2 else "smallest"
                raise LossbenchError(
                    f"{self.label}'s {which} class has {smallest} rows, fewer than "
                    f"cv.folds = {folds}"
                )

    def split(self, trial: int, folds: int, seed: int, categorical: bool = False) -> Sample:
        """Trial `trial` = fold `trial % folds` of repeat `trial // folds`: train on the other
        folds, test on this one. A repeat's shuffle depends only on (seed, number of rows,
        repeat): renaming the file or changing the unit of y keeps the folds. Text columns
        are one-hot indicators, or with `categorical` one code column each (listed in the
        sample's `categorical`)."""
        repeat, fold = divmod(trial, folds)
        entropy = [seed, zlib.crc32(b"cross-validation"), len(self.y), repeat]
        rng = np.random.default_rng(np.random.SeedSequence(entropy))
        assignment = np.empty(len(self.y), dtype=np.int64)
        groups = [np.arange(len(self.y))]
        if self.task != "regression":  # stratified: each class dealt round the folds in turn
            groups = [np.flatnonzero(self.y == c) for c in np.unique(self.y)]
        offset = 0
        for members in groups:
            shuffled = rng.permutation(members)
            assignment[shuffled] = (np.arange(len(shuffled)) + offset) % folds
            offset += len(shuffled)
        test = assignment == fold
        X_train, X_test = self.X[~test], self.X[test]
        coded: tuple[int, ...] = ()
        if self.texts:  # fitted on the training rows: the held-out fold cannot leak in
            encode = encoding.codes if categorical else encoding.encoded
            train_block, test_block = encode(self.texts, ~test, test)
            if categorical:
                coded = tuple(range(X_train.shape[1], X_train.shape[1] + len(self.texts)))
            X_train, X_test = np.hstack([X_train, train_block]), np.hstack([X_test, test_block])
        return Sample(X_train, self.y[~test], X_test, y_test=self.y[test], categorical=coded)


def choose_task(
    y: np.ndarray, task: str, where: tuple[str | int, ...], name: str
) -> tuple[np.ndarray, str, dict]:
    """(y as floats, the task, the label mapping) for a target column. ``auto``: two values
    are two classes; three or more text values are classes (multiclass); numbers are a
    regression target (name integer class codes with ``task: multiclass``)."""
    values = np.unique(y.astype(str)) if y.dtype == object else np.unique(y)
    if task == "auto":
        numeric = np.issubdtype(np.asarray(values).dtype, np.number)
        task = "classification" if len(values) == 2 else "regression" if numeric else "multiclass"
    if task == "classification":
        if len(values) != 2:
            raise LossbenchError(
                where=where,
                message=f"a classification target needs exactly two classes; {name} has "
                f"{len(values)}"
                + (f" ({values[0]!r})" if len(values) == 1 else "")
                + ("; task: multiclass takes more" if len(values) > 2 else ""),
            )
        mapping = {str(values[0]): 0, str(values[1]): 1}
        return (_as_values(y, values) == values[1]).astype(np.float64), task, mapping
    if task == "multiclass":
        if not 3 <= len(values) <= MAX_CLASSES:
            raise LossbenchError(
                where=where,
                message=f"a multiclass target needs 3 to {MAX_CLASSES} classes; {name} has "
                f"{len(values)}"
                + (
                    " (task: classification takes two)"
                    if len(values) == 2
                    else " (an identifier or a number: task: regression)"
                    if len(values) > MAX_CLASSES
                    else ""
                ),
            )
        codes = np.searchsorted(values, _as_values(y, values)).astype(np.float64)
        return codes, task, {str(v): i for i, v in enumerate(values)}
    try:
        y = y.astype(np.float64)
    except (TypeError, ValueError):
        raise LossbenchError(
            f"regression needs a numeric target; {name} is not"
            + (
                f" (its {len(values)} values are classes: task: multiclass)"
                if 3 <= len(values) <= MAX_CLASSES
                else ""
            ),
            where=where,
        ) from None
    if len(values) < 2:
        raise LossbenchError(
            f"the target {name} is constant; nothing to predict",
            where=where,
        )
    return y, task, {}


def _as_values(y: np.ndarray, values: np.ndarray) -> np.ndarray:
    """y in the form `values` were taken from (text where the column is text)."""
    return y.astype(str) if y.dtype == object else y


@register
class Table(Observed):
    kind = "table"
    summary = (
        "your own data: CSV, TSV or Parquet (path, target, features, exclude, "
        "categorical, task, missing)"
    )
    keys: ClassVar[tuple[str, ...]] = (
        "path",
        "target",
        "features",
        "exclude",
        "categorical",
        "task",
        "missing",
        "sha256",
    )

    @classmethod
    def described_parameters(cls) -> str:
        return (
            "path, target, features=every column but the target, exclude=none, "
            "categorical=none, task=auto, missing=error"
        )

    @classmethod
    def expand(
        cls, spec: dict[str, Any], where: tuple[str | int, ...] = (), base: Path | None = None
    ) -> list[Dataset]:
        given = {k: v for k, v in spec.items() if k != "kind"}
        unknown = sorted(set(given) - set(cls.keys), key=str)
        if unknown:
            raise LossbenchError(
                where=where,
                message=f"table has no parameter {unknown[0]!r}; expected {', '.join(cls.keys)}",
            )
        for key in ("path", "target"):
            if not isinstance(given.get(key), str) or not given[key]:
                raise LossbenchError(
                    f"expected a {key} (text); got {given.get(key)!r}", where=(*where, key)
                )
        task, missing = given.get("task", "auto"), given.get("missing", "error")
        if task not in TASKS:
            raise LossbenchError(
                f"expected one of {', '.join(TASKS)}; got {task!r}",
                where=(*where, "task"),
            )
        if missing not in ("error", "drop"):
            raise LossbenchError(
                f"expected error or drop; got {missing!r}",
                where=(*where, "missing"),
            )
        features, exclude = given.get("features"), given.get("exclude", [])
        categorical = given.get("categorical", [])
        for key, names in (
            ("features", features),
            ("exclude", exclude),
            ("categorical", categorical),
        ):
            if names is not None and (
                not isinstance(names, list) or not all(isinstance(f, str) for f in names)
            ):
                raise LossbenchError(
                    f"expected a list of column names; got {names!r:.80}",
                    where=(*where, key),
                )
        path = Path(given["path"]).expanduser()
        if not path.is_absolute():
            path = (base or Path.cwd()) / path
        try:
            path = path.resolve()
        except UnicodeEncodeError:  # a non-UTF-8 locale (LC_ALL=POSIX, PYTHONUTF8=0)
            raise LossbenchError(
                f"{text.visible(path)} cannot be named in this locale's file-system encoding "
                f"({sys.getfilesystemencoding()}); run with LC_ALL=C.UTF-8 or PYTHONUTF8=1",
                where=(*where, "path"),
            ) from None
        except (OSError, RuntimeError) as error:  # a symlink loop, say
            raise LossbenchError(
                f"cannot resolve {path} ({error})", where=(*where, "path")
            ) from None
        written = given.get("sha256")
        if written is not None and not (
            isinstance(written, str) and re.fullmatch(r"[0-9a-f]{64}", written)
        ):
            raise LossbenchError(
                f"expected the file's SHA-256 as 64 hex digits (as run.json records it); got "
                f"{str(written)[:70]!r}",
                where=(*where, "sha256"),
            )
        frame, digest = read_table(path, (*where, "path"))
        notes = []
        if written and written != digest:
            notes.append(
                f"{path}: the file changed since the config was written "
                f"(sha256 {written[:12]}… → {digest[:12]}…)"
            )
        target = given["target"]
        if target not in frame.columns:
            raise LossbenchError(
                where=(*where, "target"),
                message=f"{path.name} has no column {target!r}; it has "
                f"{', '.join(map(str, frame.columns))}",
            )
        choice = (features, exclude, categorical, missing)
        X, y, texts, left_out, dropped = columns.chosen(frame, target, *choice, where, path.name)
        y, task, mapping = choose_task(y, task, (*where, "target"), target)
        if left_out:
            notes.append(f"{path.name}: non-numeric columns left out: {', '.join(left_out)}")
        if texts:
            names = ", ".join(text.visible(column.name) for column in texts)
            notes.append(
                f"{path.name}: text columns encoded on each training fold (one-hot "
                "for linear fits, LightGBM categories for gbm; levels under "
                f"{encoding.MIN_ROWS} rows pooled): {names}"
            )
        if dropped:
            notes.append(f"{path.name}: {dropped} rows with missing values dropped")
        info = {
            "path": str(path),
            "sha256": digest,
            "rows": len(y),
            "columns": [str(c) for c in frame.columns],
            "target": target,
            "features": [str(c) for c in (features or [])] or None,
            "excluded": [str(c) for c in exclude] or None,
            "categorical": [str(c) for c in categorical] or None,
            "task": task,
            "classes": mapping or None,
            "rows_dropped": dropped,
        }
        dataset = cls(
            {"path": str(path), "target": target}, f"table({path.name})", X, y, task, info, texts
        )
        dataset.notes = notes
        # the resolved config reruns from anywhere, and records the data it ran on
        dataset.resolved = {"path": str(path), "sha256": digest}
        return [dataset]


def read_table(path: Path, where: tuple[str | int, ...]):
    """(DataFrame, SHA-256) of a CSV, TSV or Parquet file, read as a run reads it; a
    `LossbenchError` at `where` for a missing, unreadable or empty one."""
    import pandas as pd

    if not path.is_file():
        raise LossbenchError(
            f"no such file {path}",
            where=where,
        )
    suffixes = [part.lower() for part in path.suffixes]
    suffix = suffixes[-2] if suffixes[-1:] == [".gz"] and len(suffixes) > 1 else path.suffix.lower()
    try:
        if suffix == ".parquet":
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise LossbenchError(
                    where=where,
                    message="reading Parquet needs pyarrow: pip install 'lossbench[parquet]'",
                ) from None
            reading.check_parquet(path, where)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            frame = pd.read_parquet(path)
        else:
            digest, raw = reading.table_bytes(path, where)
            sep = "\t" if suffix in (".tsv", ".tab") else ","
            # the header as written: pandas renames a repeated name (y → y.1) silently
            header = pd.read_csv(io.BytesIO(raw), sep=sep, header=None, nrows=1, dtype=str)
            names = [str(name) for name in header.iloc[0]] if len(header) else []
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                raise LossbenchError(
                    f"{path.name}: column {repeated[0]!r} appears {names.count(repeated[0])} "
                    "times in the header; give each column its own name",
                    where=where,
                )
            frame = pd.read_csv(io.BytesIO(raw), sep=sep)
    except LossbenchError:
        raise
    except Exception as error:  # pandas raises many kinds for a bad file; all mean unreadable
        message = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise LossbenchError(
            f"cannot read {path.name} as a table ({message})",
            where=where,
        ) from None
    if frame.empty or len(frame.columns) < 2:
        raise LossbenchError(
            f"{path.name} has no rows, or fewer than two columns",
            where=where,
        )
    return frame, digest


_SKLEARN = {
    "diabetes": "load_diabetes",
    "breast_cancer": "load_breast_cancer",
    "iris": "load_iris",
    "wine": "load_wine",
    "digits": "load_digits",
}
_SKLEARN_TASKS = {
    "breast_cancer": "classification",
    "iris": "multiclass",
    "wine": "multiclass",
    "digits": "multiclass",
}


@register
class SklearnData(Observed):
    kind = "sklearn"
    summary = (
        "scikit-learn's bundled diabetes (regression), breast_cancer (two classes), "
        "iris, wine or digits (multiclass)"
    )

    @classmethod
    def described_parameters(cls) -> str:
        return f"name: {' | '.join(_SKLEARN)}"

    @classmethod
    def expand(
        cls, spec: dict[str, Any], where: tuple[str | int, ...] = (), base: Path | None = None
    ) -> list[Dataset]:
        unknown = sorted(set(spec) - {"kind", "name"}, key=str)
        if unknown:
            raise LossbenchError(
                f"sklearn has no parameter {unknown[0]!r}; expected name",
                where=where,
            )
        name = spec.get("name")
        if name not in _SKLEARN:
            raise LossbenchError(
                f"expected one of {', '.join(_SKLEARN)}; got {name!r}",
                where=(*where, "name"),
            )
        try:
            from sklearn import datasets
        except ImportError:
            raise LossbenchError(
                where=where,
                message="the sklearn datasets need scikit-learn: pip install 'lossbench[peers]'",
            ) from None
        X, y = getattr(datasets, _SKLEARN[name])(return_X_y=True)
        task = _SKLEARN_TASKS.get(name, "regression")
        info = {"sklearn": name, "rows": len(y), "features": X.shape[1], "task": task}
        return [
            cls({"name": name}, f"sklearn({name})", X.astype(float), y.astype(float), task, info)
        ]
