"""Ideas the tables share, written once: a missing group key, pairing each trial with the
baseline loss's trial on the same data, a bootstrap seed stable across processes, and which
datasets were cross-validated (with what test/train ratio)."""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping

import pandas as pd

__all__ = [
    "MISSING_KEY",
    "against_baseline",
    "keyed",
    "models_of",
    "stable_seed",
    "test_train",
    "unkeyed",
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
