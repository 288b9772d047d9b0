"""Inputs are bounded before they are read, and the limit is named: a table against the memory
available (gzip included), a CSV line, trials and cross-validation repeats, the suites compare
reads. Each is one line and exit 2, quickly, not a MemoryError or a parser running for minutes."""

import gzip
import json

import pytest
from helpers import assert_refused, invoke

from lossbench.experiments.datasets import reading


def _table_config(tmp_path, path, extra=""):
    (tmp_path / "c.yaml").write_text(
        "experiments:\n  - name: t\n    datasets: [{kind: table, path: " + path + ", target: y"
        + extra + "}]\n    losses: [mse, huber]\n    cv: {folds: 2, repeats: 1}\n"
    )  # fmt: skip
    return ["run", "c.yaml", "--out", tmp_path / "out", "--quiet"]


def test_a_csv_line_longer_than_a_row_can_be_is_refused_at_once(tmp_path):
    (tmp_path / "t.csv").write_bytes(b"x,y," + b"1" * (reading.MAX_LINE_BYTES + 10))
    result = invoke(_table_config(tmp_path, "t.csv"), tmp_path)
    assert_refused(result, tmp_path / "out", "line 1 is 1,000,014 bytes long")


def test_a_table_larger_than_memory_allows_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(reading.system, "available_memory", lambda: 8 * 100_000)
    (tmp_path / "t.csv").write_text("x,y\n" + "1.5,2.5\n" * 20_000)  # 160 kB > 100 kB
    result = invoke(_table_config(tmp_path, "t.csv"), tmp_path)
    assert_refused(result, tmp_path / "out", "t.csv is 0.00016 GB", "use a sample of the rows")


def test_a_gzip_bomb_stops_at_the_memory_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(reading.system, "available_memory", lambda: 8 * 1_000_000)
    (tmp_path / "t.csv.gz").write_bytes(gzip.compress(b"x,y\n" + b"1,2\n" * 1_000_000))
    assert (tmp_path / "t.csv.gz").stat().st_size < 100_000  # 4 MB of text in a few kB
    result = invoke(_table_config(tmp_path, "t.csv.gz"), tmp_path)
    assert_refused(result, tmp_path / "out", "expands to more than 0.001 GB")


def test_a_gzip_table_reads_as_its_csv(tmp_path):
    import pandas as pd

    text = "x,y\n" + "".join(f"{i},{2 * i + (i % 3)}\n" for i in range(40))
    (tmp_path / "t.csv").write_text(text)
    (tmp_path / "t.csv.gz").write_bytes(gzip.compress(text.encode()))
    trials = []
    for name in ("t.csv", "t.csv.gz"):
        args = _table_config(tmp_path, name)
        args[3] = tmp_path / name.replace(".", "-")
        assert invoke(args, tmp_path).exit_code == 0
        (run,) = args[3].iterdir()
        table = pd.read_csv(run / "trials.csv").drop(columns="dataset")
        trials.append(table[table["metric"] != "fit_seconds"].reset_index(drop=True))
    pd.testing.assert_frame_equal(trials[0], trials[1])


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ("trials: 1000000000\n", "trials: Input should be less than or equal to 100000"),
        ("cv: {repeats: 1000000000}", "cv.repeats: Input should be less than or equal to 100000"),
        ("cv: {folds: 1000, repeats: 1000}", "folds × repeats = 1,000,000"),
    ],
)
def test_trials_and_repeats_are_bounded(tmp_path, setting, said):
    if setting.startswith("trials"):
        text = (
            setting + "experiments:\n  - {name: t, datasets: [{kind: gaussian}], losses: [mse]}\n"
        )
    else:
        text = ("experiments:\n  - {name: t, datasets: [{kind: gaussian}], losses: [mse], "
                + setting + "}\n")  # fmt: skip
    (tmp_path / "c.yaml").write_text(text)
    assert_refused(invoke(["run", "c.yaml", "--out", tmp_path / "out"], tmp_path), None, said)


def test_a_symlink_loop_and_a_malformed_sha256_are_one_line(tmp_path):
    (tmp_path / "a.csv").symlink_to("b.csv")
    (tmp_path / "b.csv").symlink_to("a.csv")
    assert_refused(invoke(_table_config(tmp_path, "a.csv"), tmp_path), None, "cannot resolve")
    (tmp_path / "t.csv").write_text("x,y\n1,2\n2,3\n3,5\n")
    result = invoke(_table_config(tmp_path, "t.csv", ", sha256: 12345"), tmp_path)
    assert_refused(result, None, "sha256: expected the file's SHA-256 as 64 hex digits")


def _suite(path, values_of):
    import pyperf

    benchmarks = [
        pyperf.Benchmark(
            [pyperf.Run(values, metadata={"name": name, "loops": 1}) for values in processes]
        )
        for name, processes in values_of.items()
    ]
    pyperf.BenchmarkSuite(benchmarks).dump(str(path))
    return path


def test_compare_refuses_impossible_values_and_suites_beyond_its_limits(tmp_path, monkeypatch):
    from lossbench.results import inputs

    good = _suite(tmp_path / "good.json", {"k": [[1e-3], [1.01e-3]]})
    for value in (float("inf"), 1e308):
        bad = _suite(tmp_path / f"bad{value}.json", {"k": [[1e-3], [1e-3]]})
        data = json.loads(bad.read_text())
        data["benchmarks"][0]["runs"][0]["values"][0] = value
        bad.write_text(json.dumps(data))
        assert_refused(invoke(["compare", good, bad]), None, "the file is damaged")
    monkeypatch.setattr(inputs, "MAX_BENCHMARKS", 2)
    many = _suite(tmp_path / "many.json", {f"b{i}": [[1e-3]] for i in range(3)})
    assert_refused(invoke(["compare", good, many]), None, "3 benchmarks; compare reads at most 2")
    monkeypatch.setattr(inputs, "MAX_PROCESSES", 3)
    wide = _suite(tmp_path / "wide.json", {"k": [[1e-3]] * 4})
    assert_refused(invoke(["compare", good, wide]), None, "4 processes; at most 3")


def test_the_bootstrap_in_steps_draws_an_interval_around_the_ratio():
    import numpy as np

    from lossbench.analysis import timings

    rng = np.random.default_rng(3)
    base = [1e-3 * (1 + 0.01 * rng.standard_normal(200)) for _ in range(100)]
    new = [1.2e-3 * (1 + 0.01 * rng.standard_normal(200)) for _ in range(100)]
    low, high = timings._ratio_interval(base, new)  # 20,000 values a side: 10 steps
    assert 1.19 < low < 1.2 < high < 1.21


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("-inf", "column 'y' holds -inf at data row 2"),
        ("1e308", "column 'y' holds 1e+308 at data row 2"),
    ],
)
def test_an_infinite_or_overflowing_target_is_refused_before_the_run(tmp_path, value, said):
    (tmp_path / "t.csv").write_text(f"x,y\n1,2\n2,{value}\n3,5\n4,6\n5,8\n6,9\n")
    out = tmp_path / "out"
    assert_refused(invoke(_table_config(tmp_path, "t.csv"), tmp_path), out, "t.csv: " + said)


@pytest.mark.parametrize("score", ["accuracy", "log_loss", "coef_error", "auc"])
def test_a_score_the_data_cannot_give_is_refused_with_those_it_can(tmp_path, score):
    (tmp_path / "t.csv").write_text("x,y\n" + "".join(f"{i},{i % 7}\n" for i in range(20)))
    args = _table_config(tmp_path, "t.csv")
    (tmp_path / "c.yaml").write_text((tmp_path / "c.yaml").read_text() + f"    score: {score}\n")
    said = f"score: {score} cannot judge fits on table(t.csv) (regression, no true coefficients)"
    assert_refused(invoke(args, tmp_path), tmp_path / "out", said, "use one of test_rmse")


def test_a_parameter_given_twice_in_a_label_is_refused(tmp_path):
    (tmp_path / "c.yaml").write_text(
        "experiments:\n  - name: t\n    datasets: [{kind: gaussian}]\n    losses:\n"
        "      - mse\n      - huber(delta=1,delta=2)\n"
    )
    result = invoke(["run", "c.yaml", "--out", tmp_path / "out"], tmp_path)
    assert_refused(result, tmp_path / "out", "delta is given twice")


def test_a_user_loss_returning_inf_is_refused_before_the_run_naming_itself(tmp_path):
    (tmp_path / "badloss.py").write_text(
        "import numpy as np\n\n\ndef bad(y_true, y_pred):\n"
        "    return np.full_like(y_pred, np.inf)\n"
    )
    (tmp_path / "c.yaml").write_text(
        "experiments:\n  - name: t\n    datasets: [{kind: gaussian, n_samples: 50}]\n"
        "    losses: [mse, 'badloss:bad']\n"
    )
    result = invoke(["run", "c.yaml", "--out", tmp_path / "out"], tmp_path)
    assert_refused(result, tmp_path / "out", "user loss badloss:bad: it returned inf")
