"""Gradient-boosted trees with lossbench losses as LightGBM objectives: mse, bce_logits and
mae reproduce LightGBM's own regression, binary and regression_l1 objectives; huber is LightGBM's
huber but for the starting score; losses on probabilities pass through the sigmoid's chain
rule; fits are deterministic; a missing LightGBM is one line."""

import sys

import numpy as np
import pytest

from lossbench import losses
from lossbench.errors import LossbenchError
from lossbench.experiments import gbm
from lossbench.experiments.datasets.synthetic import friedman1

lightgbm = gbm.require_lightgbm()
OPTIONS = gbm.GbmOptions(n_estimators=60)
BUILT_IN = {
    "learning_rate": 0.1, "num_leaves": 31, "min_data_in_leaf": 20, "num_threads": 1,
    "deterministic": True, "force_col_wise": True, "seed": 0, "verbose": -1,
}  # fmt: skip


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X, X_test = rng.random((1500, 6)), rng.random((500, 6))
    y = friedman1(X) + rng.standard_normal(1500)
    outliers = rng.random(1500) < 0.1
    contaminated = y + np.where(outliers, 10 * rng.standard_normal(1500), 0.0)
    labels = (rng.random(1500) < 1 / (1 + np.exp(-(4 * X[:, 0] - 2 + 2 * X[:, 1] - 1)))) * 1.0
    return X, X_test, y, contaminated, labels


def _theirs(objective, X, y, X_test, **extra):
    booster = lightgbm.train({**BUILT_IN, "objective": objective, **extra},
                             lightgbm.Dataset(X, label=y), num_boost_round=60)  # fmt: skip
    return booster.predict(X_test, raw_score=True)


def _mine(name, X, y, X_test, task="regression"):
    return gbm.fit_gbm(losses.get(name), X, y, task, OPTIONS, seed=0).raw(X_test)


def test_mse_reproduces_lightgbms_regression(data):
    X, X_test, y, _, _ = data
    # its gradient and hessian are twice LightGBM's ½(y − f)²: the same leaves and splits
    np.testing.assert_allclose(_mine("mse", X, y, X_test), _theirs("regression", X, y, X_test),
                               atol=1e-6)  # fmt: skip


def test_bce_logits_reproduces_lightgbms_binary(data):
    X, X_test, _, _, labels = data
    mine = _mine("bce_logits", X, labels, X_test, task="classification")
    np.testing.assert_allclose(mine, _theirs("binary", X, labels, X_test), atol=1e-6)


def test_mae_with_renewed_leaves_reproduces_lightgbms_regression_l1(data):
    X, X_test, _, contaminated, _ = data
    mine = _mine("mae", X, contaminated, X_test)
    np.testing.assert_allclose(mine, _theirs("regression_l1", X, contaminated, X_test), atol=1e-6)


def test_huber_is_lightgbms_huber_but_for_where_it_starts(data):
    X, X_test, _, contaminated, _ = data
    truth = friedman1(X_test)
    mine = np.mean(np.abs(_mine("huber(delta=1.0)", X, contaminated, X_test) - truth))
    theirs = np.mean(np.abs(_theirs("huber", X, contaminated, X_test, alpha=1.0) - truth))
    # the same gradients and unit hessians; LightGBM starts huber from the mean, lossbench
    # from huber's own minimizer
    assert abs(mine - theirs) / theirs < 0.02


def test_a_loss_on_probabilities_is_boosted_through_the_sigmoid():
    rng = np.random.default_rng(1)
    labels, z = (rng.random(40) < 0.5) * 1.0, rng.normal(0, 2, 40)
    for name in ("bce", "mse"):
        loss = losses.get(name)
        gradient, hessian = gbm.objective(loss, "classification")(z, _Labels(labels))
        h = 1e-6  # d/dz of Σ loss(y, sigmoid(z)), elementwise
        up, down = (
            loss.value(labels, 1 / (1 + np.exp(-(z + shift))), reduction="none")
            for shift in (h, -h)
        )
        np.testing.assert_allclose(gradient, (up - down) / (2 * h), rtol=1e-5, atol=1e-8)
        assert np.all(hessian > 0)


class _Labels:
    def __init__(self, y):
        self.y = y

    def get_label(self):
        return self.y


def test_a_fit_is_deterministic_and_starts_from_the_losses_minimizer(data):
    X, X_test, y, _, _ = data
    assert np.array_equal(_mine("huber(delta=1.345)", X, y, X_test),
                          _mine("huber(delta=1.345)", X, y, X_test))  # fmt: skip
    assert gbm.starting_score(losses.get("mse"), y, "regression") == pytest.approx(np.mean(y))
    assert gbm.starting_score(losses.get("mae"), y, "regression") == np.median(y)


def test_without_lightgbm_it_is_one_line_with_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "lightgbm", None)
    with pytest.raises(LossbenchError, match=r"pip install 'lossbench\[gbm\]'"):
        gbm.require_lightgbm()


GBM_CONFIG = (
    "seed: 0\ntrials: 10\nexperiments:\n  - name: boosted\n    datasets:\n"
    "      - {kind: contaminated, target: friedman1, fraction: 0.1, outlier_scale: 10,"
    " n_samples: 600}\n    losses: [mse, {name: huber, delta: 1.345}]\n"
    "    model: {kind: gbm, n_estimators: 60}\n    score: test_mae\n"
)


def test_a_fit_experiment_boosts_each_loss_and_compares_them(tmp_path):
    import pandas as pd
    from helpers import invoke

    (tmp_path / "c.yaml").write_text(GBM_CONFIG)
    result = invoke(["run", "c.yaml", "--out", tmp_path / "out", "--quiet"], tmp_path)
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "out").iterdir()
    trials = pd.read_csv(run / "trials.csv")
    errors = trials[trials["metric"] == "coef_error"]
    assert (
        errors["value"].isna().all() and (errors["note"] == "n/a: trees have no coefficients").all()
    )
    comparisons = pd.read_csv(run / "comparisons.csv")
    (row,) = comparisons[comparisons["metric"] == "test_mae"].to_dict("records")
    # outliers at 10σ: the robust objective's trees land closer to the target
    assert row["loss"] == "huber(delta=1.345, scale=mad)" and row["verdict"] == "better"
    assert set(trials["model"]) == {"gbm"} and row["model"] == "gbm"
    answer = (run / "summary.md").read_text()  # the answer names model and loss
    assert (
        "use gbm with huber(delta=1.345, scale=mad)" in answer and "against gbm with mse" in answer
    )
    again = invoke(
        ["run", "c.yaml", "--out", tmp_path / "again", "--quiet", "--jobs", "2"], tmp_path
    )
    (second,) = (tmp_path / "again").iterdir()
    steady = trials[trials["metric"] != "fit_seconds"].reset_index(drop=True)
    other = pd.read_csv(second / "trials.csv")
    assert again.exit_code == 0
    pd.testing.assert_frame_equal(
        steady, other[other["metric"] != "fit_seconds"].reset_index(drop=True)
    )


def test_model_gbm_is_refused_before_the_run_without_lightgbm_or_with_bad_settings(
    tmp_path, monkeypatch
):
    from helpers import assert_refused, invoke

    (tmp_path / "c.yaml").write_text(GBM_CONFIG.replace("n_estimators: 60", "n_estimators: 0"))
    result = invoke(["run", "c.yaml", "--out", tmp_path / "out"], tmp_path)
    assert_refused(result, tmp_path / "out", "model: gbm n_estimators: Input should be greater")
    (tmp_path / "c.yaml").write_text(GBM_CONFIG)
    monkeypatch.setitem(sys.modules, "lightgbm", None)
    result = invoke(["run", "c.yaml", "--out", tmp_path / "out"], tmp_path)
    assert_refused(result, tmp_path / "out", "pip install 'lossbench[gbm]'")
