"""What a loss label names, written as columns once (issue 38): summary.csv carries each
label's loss name, parameters, scale and variant, comparisons.csv the names of its two
labels; the views read those columns and parse no label; a run written before them reads
the same."""

import ast
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from helpers import invoke
from hypothesis import given
from hypothesis import strategies as st

from lossbench.analysis import aggregate, comparisons
from lossbench.analysis.frames import LABEL_COLUMNS, label_columns
from lossbench.losses.labels import format_label

REPORT = Path(__file__).resolve().parents[1] / "lossbench" / "report"


def _trials() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    labels = ["mse", "huber(delta=1.0, scale=mad)", "huber(delta=2.0, scale=mad)", "pkg.m:f"]
    rows = [
        ("e", "d", label, trial, "coef_error", rng.lognormal(), "fit", math.nan, "", "linear")
        for label in labels
        for trial in range(8)
    ]
    columns = ["experiment", "dataset", "loss", "trial", "metric", "value", "kind", "x", "note"]
    return pd.DataFrame(rows, columns=[*columns, "model"])


def test_summary_and_comparisons_carry_what_each_label_names():
    trials = _trials()
    summary = aggregate.summarize(trials)
    named = summary.drop_duplicates("loss").set_index("loss")[LABEL_COLUMNS]
    assert named.loc["huber(delta=2.0, scale=mad)"].tolist() == [
        "huber",
        json.dumps({"delta": 2.0}),
        "mad",
        "",
    ]
    assert named.loc["pkg.m:f"].tolist() == ["pkg.m:f", "{}", "", ""]
    sweep = {"e": comparisons.Settings(sweeps={"huber": list(named.index[1:3])})}
    table = comparisons.compare(trials, {"e": ["coef_error"]}, sweep)
    pairs = set(zip(table["loss_name"], table["baseline_name"], strict=True))
    assert {("huber", "mse"), ("pkg.m:f", "mse")} <= pairs


names = st.sampled_from(["mse", "huber", "pseudo_huber", "pkg.mod:loss"])
params = st.dictionaries(
    st.sampled_from(["delta", "alpha", "q"]),
    st.floats(1e-6, 1e6, allow_nan=False, allow_infinity=False),
    max_size=2,
)


@given(names, params, st.sampled_from([None, "mad", "joint"]), st.sampled_from([None, "unclipped"]))
def test_the_columns_give_back_what_made_the_label(name, given_params, scale, variant):
    label = format_label(name, given_params, scale=scale, variant=variant)
    (row,) = label_columns(pd.Series([label])).itertuples(index=False)
    assert row.loss_name == name and json.loads(row.loss_params) == given_params
    assert (row.scale, row.variant) == (scale or "", variant or "")


def test_no_view_parses_a_label():
    allowed = {"names_code", "format_label"}  # a name's kind, and writing a label
    for path in REPORT.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "lossbench.losses.labels":
                assert {alias.name for alias in node.names} <= allowed, path
            if isinstance(node, ast.ImportFrom) and node.module == "lossbench.losses":
                assert "labels" not in {alias.name for alias in node.names}, path


def test_a_run_written_before_the_columns_reads_the_same(tmp_path):
    (tmp_path / "c.yaml").write_text(
        "seed: 0\ntrials: 6\nexperiments:\n"
        "  - {name: e, datasets: [{kind: student_t, n_samples: 100, n_test: 100}],"
        " losses: [mse, {name: huber, delta: [1, 2]}]}\n"
    )
    assert invoke(["run", "c.yaml", "--out", "o", "--quiet"], tmp_path).exit_code == 0
    (run,) = (tmp_path / "o").iterdir()
    shown = invoke(["show", str(run)], tmp_path)
    assert shown.exit_code == 0, shown.output
    for name, dropped in (
        ("summary.csv", LABEL_COLUMNS),
        ("comparisons.csv", ["loss_name", "baseline_name"]),
    ):
        table = pd.read_csv(run / name)
        assert set(dropped) <= set(table.columns)
        table.drop(columns=dropped).to_csv(run / name, index=False)
    again = invoke(["show", str(run)], tmp_path)
    assert again.exit_code == 0, again.output
    assert again.output == shown.output
