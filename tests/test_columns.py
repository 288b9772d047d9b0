"""Columns read as a person means them (issue 33): a missing value is missing in a text column
as in a number column; a numeric column with a few stray text values is refused with the
values and the fixes (each fix followed here); `categorical:` declares a column text; a text
column that carries nothing is left out and said, or refused where named."""

import string

import numpy as np
import pandas as pd
from helpers import assert_refused, invoke
from hypothesis import given, settings
from hypothesis import strategies as st

from lossbench.experiments.datasets import encoding
from lossbench.experiments.datasets.observed import Table


def _frame(rows: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(rows)
    sex = rng.choice(["f", "m"], rows)
    y = 2 * x + (sex == "m") + rng.standard_normal(rows)
    return pd.DataFrame({"x": x, "sex": sex, "price": rng.integers(1, 500, rows), "y": y})


def _expand(tmp_path, frame: pd.DataFrame, **options):
    frame.to_csv(tmp_path / "t.csv", index=False)
    spec = {"kind": "table", "path": "t.csv", "target": "y", **options}
    return Table.expand(spec, where=("datasets", 0), base=tmp_path)


def _run(tmp_path, frame: pd.DataFrame, options: str = ""):
    frame.to_csv(tmp_path / "t.csv", index=False)
    (tmp_path / "c.yaml").write_text(
        "experiments:\n  - name: e\n    datasets: [{kind: table, path: t.csv, target: y"
        f"{options}}}]\n    losses: [mse, huber]\n    cv: {{folds: 3, repeats: 1}}\n"
    )
    return invoke(["run", "c.yaml", "--out", tmp_path / "out", "--quiet"], tmp_path)


def test_missing_text_is_missing_counted_refused_and_dropped_like_numbers(tmp_path):
    frame = _frame()
    frame.loc[[3, 5, 8, 13, 21, 34, 55, 89, 90, 91, 92], "sex"] = None  # 11 missing
    frame.loc[[3, 100], "x"] = np.nan  # row 3 shares one
    refused = _run(tmp_path, frame)
    assert_refused(refused, None, "missing values (x: 2, sex: 11)", "add `missing: drop`")
    (dataset,) = _expand(tmp_path, frame, missing="drop")
    assert len(dataset.y) == len(frame) - 12  # every row missing a value used, once
    assert "12 rows with missing values dropped" in " ".join(dataset.notes)
    (sex,) = dataset.texts
    assert encoding.MISSING not in set(sex.values)  # no hidden "(missing)" level
    done = _run(tmp_path, frame, ", missing: drop")
    assert done.exit_code == 0, done.output


def test_missing_values_in_a_column_left_out_drop_nothing(tmp_path):
    frame = _frame()
    frame["note"] = None  # an empty text column: not a feature, so its gaps drop no rows
    frame.loc[:5, "note"] = "x"
    (dataset,) = _expand(tmp_path, frame, missing="drop")
    assert len(dataset.y) == len(frame)
    assert "note (" in " ".join(dataset.notes)


def test_a_numeric_column_with_stray_text_is_refused_with_its_values_and_each_fix_works(
    tmp_path,
):
    frame = _frame()
    frame["price"] = frame["price"].astype(str)
    frame.loc[[4, 9], "price"] = "1,234"
    frame.loc[17, "price"] = "12x"
    refused = _run(tmp_path, frame)
    assert_refused(refused, None, "column 'price' reads as numbers but 3 of 120 values do not",
                   "'1,234', '12x'", "exclude: [price]", "categorical: [price]")  # fmt: skip
    for fix in (", exclude: [price]", ", categorical: [price]"):
        done = _run(tmp_path, frame, fix)
        assert done.exit_code == 0, (fix, done.output)
    # declared text, its 100+ levels are one per few rows: left out, and said so
    (declared,) = _expand(tmp_path, frame, categorical=["price"])
    assert [c.name for c in declared.texts] == ["sex"] and "price (" in " ".join(declared.notes)
    cleaned = frame.assign(price=frame["price"].str.replace(",", "").str.rstrip("x"))
    (numeric,) = _expand(tmp_path, cleaned)
    assert numeric.X.shape[1] == 2  # x and price as numbers (sex: one-hot per fold)


def test_a_column_with_a_suffix_on_every_value_is_refused_not_pooled(tmp_path):
    frame = _frame(163)
    frame["price"] = [f"{v}kg" for v in frame["price"]]  # 163 values, one level each
    refused = _run(tmp_path, frame)
    assert_refused(refused, None, "column 'price' reads as numbers but 163 of 163 values")


def test_categorical_declares_a_numeric_column_text(tmp_path):
    frame = _frame()
    frame["zone"] = np.random.default_rng(1).choice([10, 20, 30], len(frame))
    (dataset,) = _expand(tmp_path, frame, categorical=["zone"])
    assert [column.name for column in dataset.texts] == ["sex", "zone"]
    assert set(dataset.texts[1].values) == {"10", "20", "30"}
    assert dataset.X.shape[1] == 2  # x and price: zone is no longer a number
    refused = _run(tmp_path, frame, ", categorical: [nothing]")
    assert_refused(refused, None, "no column 'nothing'", "categorical names feature columns")


def test_a_text_column_carrying_nothing_is_left_out_or_refused_where_named(tmp_path):
    frame = _frame()
    frame["code"] = [f"c{i}" for i in range(len(frame))]  # every level on one row: pooled
    (dataset,) = _expand(tmp_path, frame)
    assert [c.name for c in dataset.texts] == ["sex"]
    assert "code (no level on 5 rows or more: every level pooled" in " ".join(dataset.notes)
    refused = _run(tmp_path, frame, ", features: [x, code]")
    assert_refused(refused, None, "code cannot be a feature", "carries nothing")


_WORDS = st.text(string.ascii_letters, min_size=1, max_size=8).filter(
    lambda w: w.lower() not in {"nan", "inf", "infinity", "e"}
)


@settings(max_examples=100, deadline=None)
@given(
    numbers=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=40),
    strays=st.lists(_WORDS, max_size=40),
)
def test_stray_text_is_found_exactly_when_numbers_are_most_of_a_column(numbers, strays):
    values = [repr(v) for v in numbers] + strays
    found = encoding.stray_text(values)
    if len(numbers) > 0.5 * len(values) and strays:
        assert found and set(found) <= set(strays)
    elif len(numbers) > 0.5 * len(values):
        assert found == []  # all numbers: nothing stray
    # words alone (no digit in them) never read as a numeric column
    assert encoding.stray_text(strays) == []
