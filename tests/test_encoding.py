"""Text columns of a table are features fitted on each trial's training rows (one-hot for
linear fits, LightGBM categories for gbm): a level the training rows lack is pooled, an
identifier-like column is left out (and said), an informative column helps the fit, a column
that carries nothing leaves the verdicts as they are when it is shuffled across rows (nothing
leaks through the encoding), and `exclude` leaves a column out."""

import numpy as np
import pandas as pd
import pytest
from helpers import assert_refused, invoke

from lossbench import losses
from lossbench.experiments.datasets import encoding


def test_levels_come_from_the_training_rows_only():
    values = np.array(["a"] * 10 + ["b"] * 6 + ["c"] * 2 + ["z"] * 3, dtype=object)
    column = encoding.TextColumn("colour", values)
    train = np.arange(18)  # a, b, and the rare c
    test = np.arange(15, 21)  # b, c and z, never seen in training
    fitted, applied = encoding.encoded([column], train, test)
    # levels: a (reference), b, and "other" for the rare c
    assert fitted.shape == (18, 2) and fitted[:, 0].sum() == 6 and fitted[:, 1].sum() == 2
    np.testing.assert_array_equal(applied, [[1, 0], [0, 1], [0, 1], [0, 1], [0, 1], [0, 1]])


def test_codes_for_trees_come_from_the_training_rows_only():
    values = np.array(["a"] * 10 + ["b"] * 6 + ["c"] * 2 + ["z"] * 3, dtype=object)
    column = encoding.TextColumn("colour", values)
    fitted, applied = encoding.codes([column], np.arange(18), np.arange(15, 21))
    # a the most frequent (0), b (1), the rare c and the unseen z one more (2)
    np.testing.assert_array_equal(fitted[:, 0], [0] * 10 + [1] * 6 + [2] * 2)
    np.testing.assert_array_equal(applied[:, 0], [1, 2, 2, 2, 2, 2])


def test_an_identifier_column_is_left_out_and_said():
    many = encoding.TextColumn("id", np.array([f"x{i % 60}" for i in range(600)], dtype=object))
    assert encoding.unusable(many) == "more than 50 levels"
    constant = encoding.TextColumn("city", np.array(["x"] * 30, dtype=object))
    assert "one level only: it carries nothing" in encoding.unusable(constant)
    # a level on every row but under 5 rows each: all pooled into one, nothing to tell apart
    pooled = encoding.TextColumn("code", np.array([f"{i}x" for i in range(163)], dtype=object))
    assert "every level pooled, it carries nothing" in encoding.unusable(pooled)


def _table(tmp_path, name, shuffle=None, informative=True, extra=""):
    rng = np.random.default_rng(4)
    rows = 240
    x = rng.standard_normal(rows)
    group = rng.choice(["north", "south", "east"], rows)
    noise_column = rng.choice(["red", "blue"], rows)
    shift = {"north": 0.0, "south": 3.0, "east": -2.0}
    y = 2 * x + (np.vectorize(shift.get)(group) if informative else 0) + rng.standard_t(3, rows)
    if shuffle is not None:
        noise_column = np.random.default_rng(shuffle).permutation(noise_column)
    frame = pd.DataFrame({"x": x, "group": group, "colour": noise_column, "y": y})
    frame.to_csv(tmp_path / f"{name}.csv", index=False)
    (tmp_path / f"{name}.yaml").write_text(
        f"seed: 2\nexperiments:\n  - name: t\n    datasets: [{{kind: table, path: {name}.csv, "
        "target: y}]\n    losses: [mse, huber]\n    cv: {folds: 4, repeats: 3}\n" + extra
    )
    result = invoke(["run", f"{name}.yaml", "--out", tmp_path / name, "--quiet"], tmp_path)
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / name).iterdir()
    return run, result.output


def test_an_informative_text_column_is_encoded_said_and_helps(tmp_path):
    run, output = _table(tmp_path, "with")
    flat = " ".join(output.split())
    assert "text columns encoded on each training fold" in flat and "group" in flat
    trials = pd.read_csv(run / "trials.csv")
    with_groups = trials[trials["metric"] == "test_mae"]["value"].mean()
    (tmp_path / "without.yaml").write_text(
        (tmp_path / "with.yaml").read_text().replace("target: y}", "target: y, features: [x]}")
    )
    done = invoke(["run", "without.yaml", "--out", tmp_path / "without", "--quiet"], tmp_path)
    (other,) = (tmp_path / "without").iterdir()
    assert done.exit_code == 0
    plain = pd.read_csv(other / "trials.csv")
    assert with_groups < 0.8 * plain[plain["metric"] == "test_mae"]["value"].mean()


GBM = "    model: [linear, {kind: gbm, n_estimators: 40, min_data_in_leaf: 10}]\n"


@pytest.mark.parametrize("extra", ["", GBM], ids=["linear", "linear-and-gbm"])
def test_shuffling_a_column_that_carries_nothing_leaves_the_verdicts(tmp_path, extra):
    if extra:
        pytest.importorskip("lightgbm")
    found = []
    for name, shuffle in (("original", None), ("shuffled", 11)):
        run, _ = _table(tmp_path, name, shuffle=shuffle, extra=extra)
        found.append(pd.read_csv(run / "comparisons.csv"))
    original, shuffled = found
    assert len(original) == len(shuffled) > 0
    # the fits change a little (a tree may split on the noise either way), the comparisons
    # do not: a leak would move the estimates, not jitter them within their intervals
    width = original["high"] - original["low"]
    moved = (shuffled["estimate"] - original["estimate"]).abs()
    assert (moved < 0.25 * width).all(), pd.concat([original, shuffled])
    if not extra:
        assert list(original["verdict"]) == list(shuffled["verdict"])


def test_trees_split_on_a_text_column_as_categories_and_it_helps(tmp_path):
    pytest.importorskip("lightgbm")
    from lossbench.experiments import gbm

    run, _ = _table(tmp_path, "with", extra=GBM)
    trials = pd.read_csv(run / "trials.csv")
    errors = trials[(trials["metric"] == "test_mae") & (trials["model"] == "gbm")]
    (tmp_path / "without.yaml").write_text(
        (tmp_path / "with.yaml").read_text().replace("target: y}", "target: y, exclude: [group]}")
    )
    done = invoke(["run", "without.yaml", "--out", tmp_path / "without", "--quiet"], tmp_path)
    assert done.exit_code == 0, done.output
    (other,) = (tmp_path / "without").iterdir()
    plain = pd.read_csv(other / "trials.csv")
    plain = plain[(plain["metric"] == "test_mae") & (plain["model"] == "gbm")]
    assert errors["value"].mean() < 0.8 * plain["value"].mean()
    # the codes column is a LightGBM categorical: its splits test membership ("=="), not "<="
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 3, 400).astype(float)
    X = np.column_stack([rng.standard_normal(400), codes])
    y = np.array([0.0, 3.0, -2.0])[codes.astype(int)] + 0.1 * rng.standard_normal(400)
    options = gbm.GbmOptions(n_estimators=5)
    booster = gbm.fit_gbm(losses.get("mse"), X, y, "regression", options, 0, categorical=(1,))
    kinds = _decisions(booster.trees.dump_model()["tree_info"])
    assert "==" in kinds
    assert "==" not in _decisions(
        gbm.fit_gbm(losses.get("mse"), X, y, "regression", options, 0).trees.dump_model()[
            "tree_info"
        ]
    )


def _decisions(trees) -> set[str]:
    found, stack = set(), [tree["tree_structure"] for tree in trees]
    while stack:
        node = stack.pop()
        if "decision_type" in node:
            found.add(node["decision_type"])
            stack += [node["left_child"], node["right_child"]]
    return found


@pytest.mark.parametrize(
    "exclude, message",
    [("[nope]", "has no column 'nope'; exclude names feature columns"),
     ("[y]", "target 'y' is no feature"), ("[x, group, colour]", "no feature column left"),
     ("x", "expected a list of column names")],
)  # fmt: skip
def test_exclude_names_columns_that_exist_and_leaves_a_feature(tmp_path, exclude, message):
    _table(tmp_path, "t")
    config = (tmp_path / "t.yaml").read_text()
    (tmp_path / "t.yaml").write_text(
        config.replace("target: y}", f"target: y, exclude: {exclude}}}")
    )
    result = invoke(["run", "t.yaml", "--out", tmp_path / "bad"], tmp_path)
    assert_refused(result, tmp_path / "bad", message)
