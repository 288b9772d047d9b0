"""Ideas the tables share, written once: a missing group key, pairing each trial with the
baseline loss's trial on the same data, a bootstrap seed stable across processes, which
datasets were cross-validated (with what test/train ratio), and what each loss label names,
as columns (`label_columns`: the one place a result's labels are read)."""

from __future__ import annotations

import functools
import json
import math
import zlib
from collections.abc import Mapping

import pandas as pd

from lossbench.errors import LossbenchError
from lossbench.losses.labels import format_label, parse

__all__ = [
    "LABEL_COLUMNS",
    "MISSING_KEY",
    "against_baseline",
    "keyed",
    "label_columns",
    "models_of",
    "own_labels",
    "stable_seed",
    "test_train",
    "unkeyed",
    "with_label_columns",
    "with_names",
]

# pandas drops groups and merge rows whose key is NaN: a missing x is grouped as -inf instead
MISSING_KEY = -math.inf
# what makes two trials the same data and fit with the same model
PAIR = ["experiment", "dataset", "model", "trial", "metric", "x"]


def keyed(frame: pd.DataFrame, column: str = "x") -> pd.DataFrame:
    """`frame` with the missing values of `column` as `MISSING_KEY`, so they group and merge,
    and a ``model`` column of text ("" where none is named: a kind that fits none, or a file
    written before trials named their model)."""
    return frame.assign(**{column: frame[column].fillna(MISSING_KEY), "model": models_of(frame)})


def models_of(frame: pd.DataFrame) -> pd.Series:
    """Each row's model as text: "" where none is named (a kind that fits none, or a file
    written before rows named their model)."""
    models = frame["model"] if "model" in frame else pd.Series("", index=frame.index)
    return models.astype(object).where(models.notna(), "").astype(str)


def unkeyed(values: pd.Series) -> pd.Series:
    """`values` with `MISSING_KEY` back to NaN."""
    return values.replace(MISSING_KEY, math.nan)


def against_baseline(frame: pd.DataFrame, baseline: Mapping[str, str]) -> pd.DataFrame:
    """Each (keyed) trial row beside the row of its experiment's baseline loss on the same data
    with the same model (`PAIR`): the baseline's value as ``value_base``. Rows without such a
    twin are dropped."""
    base = frame[frame["loss"] == frame["experiment"].map(baseline)]
    return frame.merge(base[[*PAIR, "value"]], on=PAIR, suffixes=("", "_base"))


def stable_seed(*parts: object) -> int:
    """A bootstrap seed that depends only on what is resampled (stable across processes)."""
    return zlib.crc32("|".join(map(str, parts)).encode())


def test_train(frame: pd.DataFrame) -> dict[tuple[str, str], float]:
    """n_test / n_train per cross-validated (experiment, dataset): folds record their sizes as
    the metrics ``n_train`` and ``n_test``; other datasets are absent."""
    folds = frame[frame["metric"].isin(["n_train", "n_test"])]
    if not len(folds):
        return {}
    sizes = folds.pivot_table(index=["experiment", "dataset"], columns="metric", values="value")
    if not {"n_train", "n_test"} <= set(sizes.columns):
        return {}
    ratios = (sizes["n_test"] / sizes["n_train"]).dropna()
    return {key: float(value) for key, value in ratios.items()}


# what a loss label names: the loss's name (a built-in's, or package.module:function), its
# parameters as JSON, the residual scale a fit measured its scale parameter in, and the
# variant of a curve drawn for it ("bce (unclipped)"); "" where there is none
LABEL_COLUMNS = ["loss_name", "loss_params", "scale", "variant"]


def label_columns(labels: pd.Series) -> pd.DataFrame:
    """`LABEL_COLUMNS` for each label in `labels`, indexed as they are. A text that is no label
    (a user's name with brackets of its own) is its own name, with no parameters."""
    parts = [_label_parts(str(label)) for label in labels]
    return pd.DataFrame(parts, columns=LABEL_COLUMNS, index=labels.index, dtype=object)


def with_label_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with the `LABEL_COLUMNS` of its ``loss`` labels where it has none yet: a file
    written before results carried them, or a table made by hand."""
    if "loss" not in frame:
        return frame
    if all(name in frame for name in LABEL_COLUMNS):  # as read back: "" is read as missing
        blank = {name: frame[name].astype(object).fillna("") for name in LABEL_COLUMNS}
        return frame.assign(**blank)
    return frame.assign(**label_columns(frame["loss"]))


def own_labels(frame: pd.DataFrame) -> dict[str, str]:
    """Each ``loss`` label of `frame` (with `LABEL_COLUMNS`) and the label of the loss itself,
    as figures without a fit's settings name it: "huber(delta=1.345)" for
    "huber(delta=1.345, scale=mad)" and for the curve "huber(delta=1.345) (variant)"."""
    rows = with_label_columns(frame).drop_duplicates("loss")
    return {
        str(label): format_label(str(name), json.loads(str(params)))
        for label, name, params in zip(
            rows["loss"], rows["loss_name"], rows["loss_params"], strict=True
        )
    }


def with_names(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """`frame` with the loss's name of each label in `columns` as ``<column>_name``, where it
    has none yet (as `with_label_columns`)."""
    missing = [c for c in columns if c in frame and f"{c}_name" not in frame]
    names = {f"{c}_name": label_columns(frame[c])["loss_name"] for c in missing}
    return frame.assign(**names) if names else frame


@functools.lru_cache(maxsize=4096)
def _label_parts(text: str) -> tuple[str, str, str, str]:
    try:
        label = parse(text)
    except LossbenchError:
        return text, "{}", "", ""
    return label.name, json.dumps(label.params), label.scale or "", label.variant or ""
