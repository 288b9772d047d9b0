"""Answers that say what they mean (issue 33): every line names its model in a grid; a
baseline that beats some and is beaten by none is kept; a list of scores asks one question
per score (families apart, each corrected on its own) and the answer says where a loss is
judged on the score it minimizes; huber on probabilities with δ ≥ 1 is said to be mse."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import invoke

from lossbench.analysis import statistics
from lossbench.report.answer import answer


def _row(dataset, loss, verdict, estimate, baseline="bce_logits", metric="log_loss", **extra):
    return {
        "experiment": "e",
        "dataset": dataset,
        "loss": loss,
        "baseline": baseline,
        "metric": metric,
        "verdict": verdict,
        "estimate": estimate,
        "low": estimate - 0.05,
        "high": estimate + 0.05,
        "margin": 0.01,
        "family": "baseline",
        "note": "",
        **extra,
    }


def test_a_baseline_beaten_by_nothing_that_beats_some_is_kept():
    table = pd.DataFrame(
        [
            _row("labels", "mse", "worse", 10.07),
            _row("labels", "huber", "worse", 10.1),
            _row("labels", "log_cosh", "inconclusive", 0.02),
            _row("probs", "mse", "worse", 0.5),
            _row("probs", "huber", "equivalent", 0.001),
        ]
    )
    lines = dict(line.split(" (e, log_loss): ") for line in answer(table))
    assert lines["labels"].startswith(
        "keep bce_logits: mse, huber worse, nothing better (log_cosh not told apart from it)"
    )
    assert lines["probs"].startswith(
        "keep bce_logits: mse worse, nothing better (huber equivalent)"
    )
    # log loss is the criterion bce_logits minimizes: said, as it favours it
    assert lines["labels"].endswith(
        "; log_loss is what bce_logits minimizes in training (it favours bce_logits)"
    )


def test_every_line_of_a_model_grid_names_its_model():
    rows = [
        _row("d", "mse", "inconclusive", 0.01, model="linear", baseline_model="linear"),
        _row("d", "mse", "worse", 0.3, model="gbm", baseline_model="gbm"),
        _row(
            "d",
            "bce_logits",
            "better",
            -0.2,
            model="gbm",
            baseline_model="linear",
            baseline="bce_logits",
            family="models",
        ),
        _row(
            "d",
            "mse",
            "better",
            -0.2,
            model="gbm",
            baseline_model="linear",
            baseline="mse",
            family="models",
        ),
    ]
    lines = answer(pd.DataFrame(rows))
    assert len(lines) == 3
    assert lines[0].startswith("d (e, linear, log_loss): undecided")
    assert lines[1].startswith("d (e, gbm, log_loss): keep gbm with bce_logits")
    assert "use gbm over linear" in lines[2]


def _table(tmp_path: Path, rows: int = 300) -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((rows, 2))
    # skewed noise with mean 0: mse aims at the mean, mae at the median; they differ
    noise = rng.exponential(2.0, rows) - 2.0
    y = x @ np.array([1.0, -1.0]) + noise
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": y}).to_csv(tmp_path / "t.csv", index=False)


@pytest.mark.slow
def test_a_list_of_scores_asks_one_question_per_score(tmp_path):
    _table(tmp_path)
    (tmp_path / "c.yaml").write_text(
        "seed: 0\nexperiments:\n  - name: e\n    datasets: [{kind: table, path: t.csv, "
        "target: y}]\n    losses: [mse, {name: huber, delta: 1.345}, mae]\n"
        "    cv: {folds: 5, repeats: 4}\n    score: [test_rmse, test_mae]\n"
    )
    result = invoke(["run", "c.yaml", "--out", tmp_path / "o"], tmp_path)
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "o").iterdir()
    table = pd.read_csv(run / "comparisons.csv")
    baseline = table[table["family"] == "baseline"]
    assert sorted(set(baseline["metric"])) == ["test_mae", "test_rmse"]
    for _, rows in baseline.groupby("metric"):
        # corrected within its own score: Bonferroni over its 2 rows, not the table's 4
        assert len(rows) == 2
        p = rows["p"].to_numpy()
        np.testing.assert_allclose(rows["p_adjusted"], statistics.bonferroni(p, 2))
        np.testing.assert_allclose(rows["confidence"], 1 - 0.05 / 2)
    flat = " ".join(result.output.split())
    lines = [line for line in flat.split("table(t.csv) (e, ")[1:]]
    assert any(line.startswith("test_rmse)") for line in lines)
    assert any(line.startswith("test_mae)") for line in lines)
    # each score names the loss it is the training criterion of
    assert "test_rmse is what mse minimizes in training (it favours mse)" in flat
    assert "test_mae is what mae minimizes in training (it favours mae)" in flat


def test_a_repeated_or_empty_score_list_is_refused(tmp_path):
    from helpers import assert_refused

    for score, said in (
        ("[test_mae, test_mae]", "test_mae is named twice"),
        ("[]", "an empty list names no score"),
    ):
        (tmp_path / "c.yaml").write_text(
            "experiments:\n  - name: e\n    datasets: [{kind: sklearn, name: diabetes}]\n"
            f"    losses: [mse, mae]\n    score: {score}\n"
        )
        assert_refused(invoke(["run", "c.yaml", "--out", tmp_path / "o"], tmp_path), None, said)


@pytest.mark.slow
def test_huber_on_probabilities_with_delta_at_least_one_is_said_to_be_mse(tmp_path):
    (tmp_path / "c.yaml").write_text(
        "trials: 3\nexperiments:\n  - name: c\n    datasets: [{kind: logistic, n_samples: 200}]"
        "\n    losses: [bce_logits, mse, huber, {name: huber, delta: 0.5}]\n"
    )
    result = invoke(["run", "c.yaml", "--out", tmp_path / "o"], tmp_path)
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "c: huber(delta=1.0) on probabilities is mse's estimator" in flat
    assert "huber(delta=0.5) on probabilities" not in flat
    # and so it is: the same fits, trial by trial
    (run,) = (tmp_path / "o").iterdir()
    trials = pd.read_csv(run / "trials.csv")
    scores = trials[trials["metric"] == "log_loss"].pivot(
        index="trial", columns="loss", values="value"
    )
    np.testing.assert_allclose(scores["huber(delta=1.0)"], scores["mse"], rtol=1e-6)
    assert not np.allclose(scores["huber(delta=0.5)"], scores["mse"], rtol=1e-6)


def test_the_answer_states_what_the_whole_run_risks():
    """Each family is corrected on its own; over k families the run's chance of any false
    verdict is at most k × 5% (union bound), said under the answer and in summary.md (issue
    39); one family, or nothing tested, says nothing more."""
    import pandas as pd

    from lossbench.report.answer import markdown, run_level

    rows = pd.DataFrame(
        {
            "experiment": ["a", "a", "a", "b", "b"],
            "metric": ["test_rmse", "test_rmse", "test_mae", "coef_error", "coef_error"],
            "family": ["baseline", "baseline", "baseline", "baseline", "ranking"],
            "p": [0.2, 0.01, 0.5, 0.3, float("nan")],
        }
    )
    said = run_level(rows)
    assert said.startswith("3 families of verdicts") and "at most 15% for the whole run" in said
    assert run_level(rows.iloc[:2]) is None
    assert run_level(rows.assign(p=float("nan"))) is None
    many = pd.DataFrame(
        {
            "experiment": list("abcdefghijklmnopqrstuvwxy"),
            "metric": "m",
            "family": "baseline",
            "p": 0.5,
        }
    )
    assert "at most 100% for the whole run" in run_level(many)
    assert "3 families of verdicts" in markdown(
        rows.assign(
            loss="huber",
            baseline="mse",
            verdict="inconclusive",
            dataset="d",
            kind="fit",
            estimate=0.0,
            low=-0.1,
            high=0.1,
            note="",
        )
    )


def test_the_run_level_risk_counts_each_model_s_families():
    """With a model grid the baseline, sweep and ranking families are per model: linear's and
    gbm's baseline families on one score are two families, not one; the models family holds
    every later model against the first (one family for gbm's and mlp's rows)."""
    import pandas as pd

    from lossbench.report.answer import run_level

    rows = pd.DataFrame(
        {
            "experiment": "a",
            "metric": "test_rmse",
            "family": ["baseline", "baseline", "models", "models"],
            "model": ["linear", "gbm", "gbm", "mlp"],
            "p": [0.2, 0.3, 0.4, 0.5],
        }
    )
    assert run_level(rows).startswith("3 families of verdicts")


def test_correction_run_holds_the_whole_run_to_5_percent(tmp_path):
    """The run-level line's hint is a promise: with `correction: run` every family is held
    to 5% / k over the run's k families (issue 39), said in the answer, the `alpha` column and
    each interval's level."""
    (tmp_path / "c.yaml").write_text(
        "seed: 0\ntrials: 6\nexperiments:\n"
        "  - {name: e, datasets: [{kind: student_t, n_samples: 100, n_test: 100}],"
        " losses: [mse, mae]}\n"
        "  - {name: f, datasets: [{kind: gaussian, n_samples: 100, n_test: 100}],"
        " losses: [mse, mae, {name: huber, delta: [1, 2]}]}\n"
    )
    tables, said = {}, {}
    for correction in ("family", "run"):
        out = tmp_path / correction
        result = invoke(["run", "c.yaml", "--out", out, "--set", f"correction={correction}"],
                        tmp_path)  # fmt: skip
        assert result.exit_code == 0, result.output
        (run,) = out.iterdir()
        tables[correction] = pd.read_csv(run / "comparisons.csv")
        said[correction] = " ".join(result.output.split())
    # e: its baseline family; f: its baseline family, huber's sweep and the ranking (every
    # pair it could hold), whether or not anything won: 4 families by design
    assert "correction: run holds the whole run to 5%" in said["family"]
    assert "each held to 5% / 4 (correction: run): at most 5% for the whole run" in said["run"]
    family, run = tables["family"], tables["run"]
    assert (family["alpha"] == 0.05).all() and (run["alpha"] == 0.05 / 4).all()
    joined = family.merge(run, on=["experiment", "loss", "baseline", "metric"])
    np.testing.assert_allclose(1 - joined["confidence_y"], (1 - joined["confidence_x"]) / 4)
    assert (joined["low_y"] <= joined["low_x"]).all() and (
        joined["high_y"] >= joined["high_x"]
    ).all()
    np.testing.assert_array_equal(joined["p_x"], joined["p_y"])  # the tests are the same
    # adjusted over the run's 4 families too: below 5% exactly when the interval excludes 0
    np.testing.assert_allclose(joined["p_adjusted_y"], np.minimum(joined["p_adjusted_x"] * 4, 1))


def test_the_run_s_families_are_counted_by_design_not_by_verdicts():
    from lossbench.analysis import comparisons

    rows = [
        ("e", "d", loss, trial, "coef_error", value, "fit", math.nan, "", model)
        for model in ("linear", "gbm")
        for loss, value in (("mse", 1.0), ("mae", 0.5), ("huber(delta=1.0)", 0.9),
                            ("huber(delta=2.0)", 0.95))
        for trial in range(5)
    ]  # fmt: skip
    trials = pd.DataFrame(
        rows, columns=["experiment", "dataset", "loss", "trial", "metric", "value", "kind", "x",
                       "note", "model"],
    )  # fmt: skip
    sweeps = {"e": comparisons.Settings(sweeps={"huber": ["huber(delta=1.0)", "huber(delta=2.0)"]})}
    # per model: baseline, huber's sweep, the ranking; and the models family
    assert comparisons.planned_families(trials, {"e": ["coef_error"]}, sweeps) == 3 + 3 + 1
    one = trials[trials["loss"].isin(["mse", "mae"]) & (trials["model"] == "linear")]
    # one candidate: no pair for a ranking
    assert comparisons.planned_families(one, {"e": ["coef_error"]}) == 1
