"""The claims lossbench makes, each shown by an experiment; determinism; aggregation."""

import math

import numpy as np
import pandas as pd
import pytest

from lossbench import LossbenchError, experiments
from lossbench.experiments import datasets
from lossbench.experiments.fitting import fit
from lossbench.experiments.kinds import landscape
from lossbench.losses import get


def _config(*experiment_list, trials=50, seed=0):
    return {"seed": seed, "trials": trials, "experiments": list(experiment_list)}


def _values(trials, loss, metric, dataset=None):
    rows = trials[(trials["loss"] == loss) & (trials["metric"] == metric)]
    if dataset is not None:
        rows = rows[rows["dataset"] == dataset]
    return rows.sort_values("trial")["value"].to_numpy()


@pytest.mark.slow  # a simulation of 400 trials
def test_huber_has_95_percent_of_mse_efficiency_under_gaussian_noise():
    config = _config(
        {
            "name": "efficiency",
            "datasets": [{"kind": "gaussian", "n_samples": 400, "n_features": 1, "noise": 1.0}],
            "losses": ["mse", {"name": "huber", "delta": 1.345}],
        },
        trials=400,
    )
    trials = experiments.run(config)
    mse = np.mean(_values(trials, "mse", "coef_error") ** 2)
    huber = np.mean(_values(trials, "huber(delta=1.345, scale=mad)", "coef_error") ** 2)
    assert mse / huber == pytest.approx(0.95, abs=0.05)


def test_huber_holds_up_under_cauchy_noise_where_mse_breaks():
    config = _config(
        {"name": "cauchy", "datasets": [{"kind": "cauchy"}], "losses": ["mse", "huber"]}, trials=30
    )
    trials = experiments.run(config)
    mse, huber = (
        _values(trials, "mse", "coef_error"),
        _values(trials, "huber(delta=1.0, scale=mad)", "coef_error"),
    )
    assert np.median(huber) < 0.2 * np.median(mse)
    assert np.mean(huber < mse) > 0.9


def test_logistic_fits_reach_the_bayes_rate_and_bce_has_the_lower_log_loss():
    spec = {"kind": "logistic", "n_samples": 2000, "n_features": 3, "n_test": 4000}
    config = _config(
        {"name": "cls", "datasets": [spec], "losses": ["bce_logits", "mse"]}, trials=20
    )
    trials = experiments.run(config)
    task = experiments.tasks(config)[0]
    data = datasets.expand(spec)[0]
    bayes = np.mean(
        [
            np.mean(np.maximum(s.f_test, 1 - s.f_test))
            for s in (data.sample(t.rng()) for t in experiments.tasks(config))
        ]
    )
    assert task.dataset == data
    for loss in ("bce_logits", "mse"):
        assert np.mean(_values(trials, loss, "accuracy")) > bayes - 0.02
        assert np.all(_values(trials, loss, "converged") == 1)
    assert np.mean(_values(trials, "bce_logits", "log_loss")) <= np.mean(
        _values(trials, "mse", "log_loss")
    )


def test_squared_error_through_a_sigmoid_has_several_minima_cross_entropy_one():
    config = _config(
        {"name": "landscape", "kind": "landscape", "losses": ["mse", "bce_logits"], "starts": 40},
        trials=8,
    )
    trials = experiments.run(config)
    # verified minima (zero gradient, positive definite Hessian), distinct in parameters
    assert 1 < np.mean(_values(trials, "mse", "distinct_minima")) <= 3
    assert np.all(_values(trials, "bce_logits", "distinct_minima") == 1)
    assert np.all(_values(trials, "bce_logits", "minimum_share") == 1)
    assert np.all(_values(trials, "bce_logits", "objective_spread") < 1e-6)
    # squared error's other end points: plateaus and runs toward the step at infinity
    others = _values(trials, "mse", "plateau_share") + _values(trials, "mse", "infinity_share")
    assert np.mean(others) > 0.1
    shares = sum(_values(trials, "mse", f"{end}_share") for end in landscape.END_POINTS)
    np.testing.assert_allclose(shares, 1.0)


def test_one_outlier_moves_mse_without_bound_and_huber_boundedly():
    config = _config(
        {
            "name": "influence",
            "kind": "influence",
            "losses": ["mse", "huber"],
            "offsets": [0, 10, 100, 1000],
        },
        trials=3,
    )
    trials = experiments.run(config)
    shift = trials.groupby(["loss", "x"])["value"].mean()
    assert shift["mse", 1000] > 9 * shift["mse", 100] > 80 * shift["mse", 10] / 10
    assert shift["huber(delta=1.0, scale=mad)", 1000] == pytest.approx(
        shift["huber(delta=1.0, scale=mad)", 10], rel=1e-3
    )
    assert shift["huber(delta=1.0, scale=mad)", 1000] < 0.01 * shift["mse", 1000]


def test_punishment_mse_stays_bounded_bce_grows_without_bound():
    config = _config({"name": "p", "kind": "punishment", "losses": ["mse", "bce", "bce_logits"]})
    trials = experiments.run(config).set_index(["loss", "metric", "x"])["value"]
    assert trials["mse", "value", 0.0] == 1.0 and trials["mse", "gradient", 0.0] == -2.0
    assert trials["bce (unclipped)", "value", 0.0] == math.inf
    assert trials["bce", "value", 1e-8] == pytest.approx(-math.log(1e-8))
    assert trials["bce", "value", 0.0] == pytest.approx(-math.log(np.finfo(float).eps))
    assert trials["bce_logits", "value", 1e-4] == pytest.approx(-math.log(1e-4))
    # through the sigmoid, MSE's gradient vanishes as the mistake grows; cross-entropy's does not
    assert abs(trials["mse", "logit_gradient", 1e-8]) < 1e-7
    assert trials["bce_logits", "logit_gradient", 1e-8] == pytest.approx(-1.0)


def test_a_loss_that_does_not_apply_is_reported_with_its_reason():
    config = _config(
        {"name": "x", "datasets": [{"kind": "gaussian"}], "losses": ["mse", "bce"]}, trials=2
    )
    trials = experiments.run(config)
    bce = trials[trials["loss"] == "bce"]
    assert len(bce) == 2 * 3 and bce["value"].isna().all()
    assert (
        bce["note"] == "n/a: bce needs labels in [0, 1], and these targets are continuous"
    ).all()
    summary = experiments.summarize(trials)
    assert summary[summary["loss"] == "bce"]["note"].str.startswith("n/a").all()


def test_grids_expand_into_one_dataset_per_value_with_labels():
    ds = datasets.expand({"kind": "student_t", "df": [1, 2.5], "n_samples": [100, 200]})
    assert [d.label for d in ds] == [
        "student_t(n_samples=100, df=1)", "student_t(n_samples=200, df=1)",
        "student_t(n_samples=100, df=2.5)", "student_t(n_samples=200, df=2.5)",
    ]  # fmt: skip
    assert (
        datasets.expand({"kind": "contaminated"})[0].label
        == "contaminated(fraction=0.1, outlier_scale=10)"
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"kind": "gauss"},
            r"experiments\[0\].datasets\[0\].kind: unknown dataset 'gauss'; expected one of",
        ),
        ({"kind": "student_t", "dof": 3}, r"datasets\[0\]: student_t has no parameter 'dof'"),
        ({"kind": "student_t", "df": -1}, r"datasets\[0\].df: expected a number > 0; got -1"),
        ({"kind": "gaussian", "n_samples": 2.5}, r"n_samples: expected an integer ≥ 2; got 2.5"),
        (
            {"kind": "logistic", "label_noise": [0.1, 0.7]},
            r"label_noise: expected a number in \[0, 0.5\]; got 0.7",
        ),
    ],
)
def test_bad_datasets_are_refused_with_the_config_path(spec, message):
    with pytest.raises(LossbenchError, match=message):
        experiments.run(_config({"name": "e", "datasets": [spec], "losses": ["mse"]}, trials=1))


def test_bad_losses_are_refused_with_the_config_path():
    with pytest.raises(
        LossbenchError, match=r"experiments\[0\].losses\[1\]: unknown loss 'hubber'"
    ):
        experiments.run(
            _config({"name": "e", "datasets": [{"kind": "gaussian"}], "losses": ["mse", "hubber"]})
        )
    refused = r"losses\[0\]: huber: delta must be a number in \[1e-08, 1e\+12\]"
    with pytest.raises(LossbenchError, match=refused):
        experiments.run(
            _config(
                {
                    "name": "e",
                    "datasets": [{"kind": "gaussian"}],
                    "losses": [{"name": "huber", "delta": 0}],
                }
            )
        )


DETERMINISM = _config(
    {"name": "fit", "losses": ["mse", "huber", "bce_logits"],
     "datasets": [{"kind": "student_t", "df": [2, 5], "n_samples": 100},
                  {"kind": "logistic", "n_samples": 200}]},
    {"name": "influence", "kind": "influence", "losses": ["mse", "huber"], "offsets": [0, 5, 50]},
    {"name": "landscape", "kind": "landscape", "losses": ["mse"], "starts": 5},
    trials=4,
)  # fmt: skip


def _without_timing(trials: pd.DataFrame) -> pd.DataFrame:
    return trials[trials["metric"] != "fit_seconds"].reset_index(drop=True)  # wall time varies


@pytest.mark.slow  # real worker processes
def test_same_seed_same_trials_serial_or_parallel_different_seed_different():
    serial = _without_timing(experiments.run(DETERMINISM))
    pd.testing.assert_frame_equal(serial, _without_timing(experiments.run(DETERMINISM)))
    pd.testing.assert_frame_equal(serial, _without_timing(experiments.run(DETERMINISM, jobs=2)))
    other = _without_timing(experiments.run({**DETERMINISM, "seed": 1}))
    assert not np.allclose(serial["value"].fillna(0), other["value"].fillna(0))


def test_a_trial_is_the_same_whatever_else_runs():
    alone = {**DETERMINISM, "experiments": [DETERMINISM["experiments"][0]]}
    full = _without_timing(experiments.run(DETERMINISM))
    part = _without_timing(experiments.run(alone))
    pd.testing.assert_frame_equal(part, full[full["experiment"] == "fit"].reset_index(drop=True))


def test_summary_statistics_and_paired_comparison_by_hand():
    rows = [
        ("e", "d", loss, trial, metric, value, "fit", math.nan, "")
        for loss, metric, values in [
            ("a", "coef_error", [1.0, 2.0, 3.0]),
            ("b", "coef_error", [2.0, 1.0, 6.0]),
            ("a", "accuracy", [0.5, 0.6, 0.7]),
            ("b", "accuracy", [0.6, 0.6, 0.8]),
        ]
        for trial, value in enumerate(values)
    ]
    summary = experiments.summarize(pd.DataFrame(rows, columns=experiments.COLUMNS[:9])).set_index(
        ["loss", "metric"]
    )
    a = summary.loc["a", "coef_error"]
    assert (a["n"], a["mean"], a["std"]) == (3, 2.0, 1.0)
    assert 1.0 <= a["ci_low"] < a["mean"] < a["ci_high"] <= 3.0  # a bootstrap interval: in range
    b = summary.loc["b", "coef_error"]
    assert b["ratio"] == pytest.approx(3.0 / 2.0) and b["win_rate"] == pytest.approx(1 / 3)
    assert summary.loc["b", "accuracy"]["win_rate"] == pytest.approx(
        (1 + 0.5 + 1) / 3
    )  # higher wins
    assert math.isnan(a["win_rate"]) and a["ratio"] == 1.0 and a["baseline"] == "a"


def test_gradient_descent_reaches_the_lbfgs_solution_and_records_its_curve():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((200, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3 + rng.standard_normal(200)
    lbfgs = fit(get("mse"), X, y)
    # converged means a small gradient, so the objective-change test must not stop them first
    gd = fit(get("mse"), X, y, method="gd", max_iter=5000, tol=1e-16)
    fixed = fit(get("mse"), X, y, method="gd", lr=0.2, max_iter=5000, tol=1e-16)
    for result in (gd, fixed):
        assert result.converged
        np.testing.assert_allclose(result.theta, lbfgs.theta, atol=1e-5)
        assert len(result.curve) == result.iterations + 1
        assert np.all(np.diff(result.curve) <= 1e-15)
    diverging = fit(get("mse"), X, y, method="gd", lr=50.0, max_iter=100)
    assert not diverging.converged  # reported, not hidden


def test_gradient_descent_fits_keep_their_convergence_curve():
    config = _config(
        {"name": "gd", "datasets": [{"kind": "gaussian", "n_samples": 100}], "losses": ["mse"],
         "fit": {"method": "gd", "max_iter": 500}},
        trials=2,
    )  # fmt: skip
    trials = experiments.run(config)
    curve = trials[(trials["metric"] == "objective") & (trials["trial"] == 0)]
    assert 2 < len(curve) <= 50 and curve["x"].iloc[0] == 0
    assert np.all(np.diff(curve["value"].to_numpy()) <= 0)
