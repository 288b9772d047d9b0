"""Your own data: table datasets, cross-validation, loss sweeps and user code beside a config."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lossbench.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def _run(args):
    return runner.invoke(app, args, env={"COLUMNS": "200"})


def _results_dir(output: str) -> Path:
    return Path(output.strip().splitlines()[-1].removeprefix("results: "))


def _table(tmp_path: Path, scale: float = 1.0, rows: int = 60, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, 3))
    y = (X @ np.array([1.0, -1.0, 0.5]) + 2.0 + rng.standard_t(2, rows)) * scale
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(city="x", price=y)
    path = tmp_path / f"data{scale:g}.csv"
    frame.to_csv(path, index=False)
    return path


def _config(tmp_path: Path, data: Path, extra: str = "", losses: str = "[mse, huber]") -> Path:
    path = tmp_path / f"{data.stem}.yaml"
    path.write_text(
        f"name: t\nseed: 1\nexperiments:\n  - name: mine\n    datasets: [{{kind: table, "
        f"path: {data.name}, target: price{extra}}}]\n    losses: {losses}\n"
        "    cv: {folds: 4, repeats: 5}\n"
    )
    return path


def test_the_shipped_example_says_which_loss_and_how_sure(tmp_path):
    result = _run(["run", str(ROOT / "configs" / "my-data.yaml"), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "stackloss: test_mae" in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("table(stackloss")]
    assert len(lines) == 2 and all(
        "60 trials" in line and "(Bonferroni, 2)" in line for line in lines
    )
    assert all(re.search(r"(better|worse|equivalent|inconclusive)", line) for line in lines)
    record = json.loads((_results_dir(result.output) / "run.json").read_text())
    (data,) = record["data"]
    assert data["rows"] == 21 and len(data["sha256"]) == 64 and data["target"] == "stack_loss"
    assert data["columns"] == ["air_flow", "water_temp", "acid_conc", "stack_loss"]


def test_a_target_in_other_units_gives_the_same_verdicts(tmp_path):
    tables = []
    for scale in (1.0, 1000.0):
        result = _run(["run", str(_config(tmp_path, _table(tmp_path, scale))), "--out",
                       str(tmp_path / f"out{scale:g}"), "--quiet"])  # fmt: skip
        assert result.exit_code == 0, result.output
        tables.append(pd.read_csv(_results_dir(result.output) / "comparisons.csv"))
    one, thousand = tables
    assert list(one["verdict"]) == list(thousand["verdict"])
    np.testing.assert_allclose(thousand["estimate"], one["estimate"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(thousand["low"], one["low"], rtol=1e-6, atol=1e-9)


def test_trials_are_folds_shared_by_every_loss_and_non_numeric_columns_are_said(tmp_path):
    result = _run(["run", str(_config(tmp_path, _table(tmp_path))), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "non-numeric columns left out: city" in result.output
    trials = pd.read_csv(_results_dir(result.output) / "trials.csv")
    assert sorted(set(trials["trial"])) == list(range(20))  # 4 folds × 5 repeats
    sizes = trials[trials["metric"] == "n_test"].pivot(
        index="trial", columns="loss", values="value"
    )
    assert (sizes.nunique(axis=1) == 1).all()  # the same fold for every loss
    assert set(trials["metric"]) >= {"test_mae", "test_rmse", "test_median_ae", "r2"}
    assert trials.loc[trials["metric"] == "coef_error", "value"].isna().all()


def test_loss_parameter_lists_are_grids(tmp_path):
    config = _config(tmp_path, _table(tmp_path), losses="[mse, {name: huber, delta: [0.5, 2]}]")
    result = _run(["run", str(config), "--out", str(tmp_path), "--report"])
    assert result.exit_code == 0, result.output
    assert (_results_dir(result.output) / "plots" / "fit-mine-sweep.png").stat().st_size > 5000
    losses = set(pd.read_csv(_results_dir(result.output) / "trials.csv")["loss"])
    assert losses == {"mse", "huber(delta=0.5, scale=mad)", "huber(delta=2.0, scale=mad)"}
    # the sweep is its own family; its best setting is ranked against the other
    table = pd.read_csv(_results_dir(result.output) / "comparisons.csv")
    assert set(table["family"]) == {"sweep huber", "ranking"}
    ranked = table[table["family"] == "ranking"]
    assert set(ranked["loss"]) | set(ranked["baseline"]) == losses - {"mse"}
    assert re.search(
        r"of 2 huber settings, huber\(delta=\S+ scale=mad\) is the most improved", result.output
    )


def test_a_user_loss_beside_the_config_is_found(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # not the config's directory
    (tmp_path / "mylosses.py").write_text(
        "import numpy as np\n\n\ndef cubed(y_true, y_pred):\n"
        "    return np.abs(y_true - y_pred) ** 3\n"
    )
    config = _config(tmp_path, _table(tmp_path), losses="[mse, 'mylosses:cubed']")
    result = _run(["run", str(config), "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 0, result.output


BAD = [
    ("missing", None, r"no such file"),
    ("empty", "", r"cannot read .* as a table|no rows"),
    ("target", "a,b\n1,2\n3,4\n", r"target: .* has no column 'price'"),
    ("feature", "a,b,price\n1,x,2\n3,y,4\n", r"features: b cannot be a feature: a text column"),
    ("nan", "a,price\n1,2\n,4\n3,5\n4,6\n5,7\n", r"missing values \(a: 1\); add `missing: drop`"),
    ("constant", "a,price\n1,2\n2,2\n3,2\n4,2\n5,2\n", r"the target price is constant"),
    ("folds", "a,price\n1,2\n2,3\n3,1\n", r"3 rows, fewer than cv.folds = 4"),
]


@pytest.mark.parametrize(("name", "text", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_tables_get_one_line_exit_2_and_nothing_written(tmp_path, name, text, message):
    data = tmp_path / f"{name}.csv"
    if text is not None:
        data.write_text(text)
    extra = ", features: [a, b]" if name == "feature" else ""
    out = tmp_path / "out"
    result = _run(["run", str(_config(tmp_path, data, extra)), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert re.search(message, result.output), result.output
    assert not out.exists()


def test_one_class_and_drop_missing(tmp_path):
    data = tmp_path / "cls.csv"
    data.write_text("a,price\n" + "".join(f"{i},{'yes'}\n" for i in range(8)))
    config = _config(tmp_path, data, ", task: classification")
    result = _run(["run", str(config), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "needs exactly two classes" in result.output
    data.write_text("a,price\n" + "".join(f"{i},{'' if i == 3 else i % 2}\n" for i in range(12)))
    config = _config(tmp_path, data, ", missing: drop", losses="[bce_logits, mse]")
    result = _run(["run", str(config), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "1 rows with missing values dropped" in result.output


def test_a_changed_file_is_said_on_rerun_and_quick_shrinks_the_folds(tmp_path):
    data = _table(tmp_path)
    first = _run(["run", str(_config(tmp_path, data)), "--out", str(tmp_path / "a"), "--quick"])
    assert first.exit_code == 0, first.output
    stored = _results_dir(first.output) / "config.yaml"
    assert len(set(pd.read_csv(stored.parent / "trials.csv")["trial"])) == 4  # 4 folds × 1
    data.write_text(data.read_text().replace("x", "z"))
    again = _run(["run", str(stored), "--out", str(tmp_path / "b"), "--quick"])
    assert again.exit_code == 0, again.output
    assert "the file changed since the config was written" in again.output


def test_sklearn_datasets(tmp_path):
    config = tmp_path / "sk.yaml"
    config.write_text(
        "name: sk\nexperiments:\n  - name: d\n    datasets: [{kind: sklearn, name: diabetes},"
        " {kind: sklearn, name: breast_cancer}]\n    losses: [mse, huber]\n"
        "    cv: {folds: 3, repeats: 1}\n"
    )
    result = _run(["run", str(config), "--out", str(tmp_path), "--quiet"])
    assert result.exit_code == 0, result.output
    trials = pd.read_csv(_results_dir(result.output) / "trials.csv")
    separated = trials[(trials["dataset"] == "sklearn(breast_cancer)")
                       & (trials["metric"] == "separated")]  # fmt: skip
    assert (separated["value"] == 1).all()  # all 30 features: separable
    assert (
        trials[(trials["dataset"] == "sklearn(diabetes)") & (trials["metric"] == "r2")]["value"]
        .between(0.3, 0.7)
        .all()
    )


def _breast_cancer(tmp_path: Path, l2: float | None) -> Path:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame.to_csv(tmp_path / "cancer.csv", index=False)
    fit = f"\n    fit: {{l2: {l2}}}" if l2 is not None else ""
    path = tmp_path / f"cancer-{l2}.yaml"
    path.write_text(
        "name: cancer\nseed: 0\nexperiments:\n  - name: cancer\n    datasets: [{kind: table, "
        "path: cancer.csv, target: target}]\n    losses: [bce, mse, huber]\n"
        f"    cv: {{folds: 3, repeats: 2}}{fit}\n"
    )
    return path


def test_separable_labels_give_no_advice_without_a_penalty(tmp_path):
    result = _run(["run", str(_breast_cancer(tmp_path, None)), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    comparisons = pd.read_csv(_results_dir(result.output) / "comparisons.csv")
    assert (comparisons["verdict"] == "inconclusive").all()
    assert comparisons["note"].str.contains("set fit.l2").all()
    flat = " ".join(result.output.split())
    assert "use mse" not in flat and "use huber" not in flat and "set fit.l2" in flat


def test_with_a_penalty_the_folds_log_loss_is_sklearns(tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    from lossbench import config as config_module
    from lossbench import experiments

    l2 = 0.01
    config = config_module.load(_breast_cancer(tmp_path, l2))
    units = experiments.tasks(config)
    trials = experiments.run_tasks(units)
    mine = trials[(trials["loss"] == "bce") & (trials["metric"] == "log_loss")]
    assert (trials.loc[trials["metric"] == "converged", "value"] == 1).all()
    for unit, value in zip(units, mine["value"], strict=True):
        sample = unit.dataset.split(unit.trial, 3, unit.seed)
        mean, sd = sample.X.mean(axis=0), sample.X.std(axis=0)
        peer = LogisticRegression(C=1 / (len(sample.y) * l2), tol=1e-12, max_iter=10_000)
        peer.fit((sample.X - mean) / sd, sample.y)
        expected = log_loss(sample.y_test, peer.predict_proba((sample.X_test - mean) / sd)[:, 1])
        assert value == pytest.approx(expected, rel=1e-3)


def test_by_default_a_real_regression_table_is_judged_on_both_errors(tmp_path):
    """Skewed, mean-zero noise (a centred exponential): least squares estimates the mean, and
    test_mae rewards the losses aimed at the median. With no score named, the verdicts are on
    test_rmse and on test_mae, each in its own family, and the answer names which is which,
    instead of test_mae alone calling huber better (issue 39)."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((600, 3))
    y = X @ np.array([1.0, -1.0, 0.5]) + 2.0 + (rng.exponential(2.0, 600) - 2.0)
    data = tmp_path / "skewed.csv"
    pd.DataFrame(X, columns=["a", "b", "c"]).assign(price=y).to_csv(data, index=False)
    done = _run(["run", str(_config(tmp_path, data)), "--out", str(tmp_path / "out")])
    assert done.exit_code == 0, done.output
    rows = pd.read_csv(_results_dir(done.output) / "comparisons.csv")
    assert set(rows["metric"]) == {"test_rmse", "test_mae"}
    verdicts = dict(zip(rows["metric"], rows["verdict"], strict=True))
    assert verdicts["test_rmse"] != "better"  # huber is not the better mean estimate
    answer = done.output.split("What to use", 1)[1]
    assert "test_rmse" in answer and "test_mae" in answer
