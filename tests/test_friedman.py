"""A non-linear synthetic target, so that the model family matters: ``target: friedman1`` on
every regression noise law, Friedman's #1 function as scikit-learn computes it, no true
coefficients (coef_error is refused as a score, test errors are against the noise-free f)."""

import numpy as np
import pytest

from lossbench import config as config_module
from lossbench.errors import LossbenchError
from lossbench.experiments import datasets


def test_friedman1_is_scikit_learns_function():
    from sklearn.datasets import make_friedman1

    X, y = make_friedman1(n_samples=200, n_features=7, noise=0.0, random_state=3)
    np.testing.assert_allclose(datasets.synthetic.friedman1(X), y, rtol=1e-12)


@pytest.mark.parametrize("kind", ["gaussian", "student_t", "contaminated", "cauchy", "laplace"])
def test_every_noise_law_takes_the_friedman1_target(kind):
    (dataset,) = datasets.expand({"kind": kind, "target": "friedman1", "n_samples": 300})
    assert "target=friedman1" in dataset.label and not dataset.truth
    sample = dataset.sample(np.random.default_rng(0))
    assert sample.coef is None and sample.X.min() >= 0 and sample.X.max() <= 1
    np.testing.assert_allclose(sample.f_test, datasets.synthetic.friedman1(sample.X_test))
    noise = sample.y - datasets.synthetic.friedman1(sample.X)
    assert np.std(noise) > 0.1  # the kind's noise is added to the target
    (linear,) = datasets.expand({"kind": kind})
    assert linear.truth and "target" not in linear.label


def test_friedman1_needs_five_features_and_has_no_coefficients_to_score():
    with pytest.raises(LossbenchError, match="friedman1 uses five features; got n_features = 3"):
        datasets.expand({"kind": "gaussian", "target": "friedman1", "n_features": 3})
    with pytest.raises(LossbenchError, match="expected one of linear, friedman1; got 'cubic'"):
        datasets.expand({"kind": "gaussian", "target": "cubic"})
    from lossbench import experiments

    config = config_module.validate({"experiments": [{
        "name": "f", "datasets": [{"kind": "gaussian", "target": "friedman1"}],
        "losses": ["mse", "huber"], "score": "coef_error",
    }]})  # fmt: skip
    with pytest.raises(LossbenchError, match="coef_error cannot judge fits on gaussian"):
        experiments.tasks(config)


def test_a_fit_on_friedman1_is_judged_on_test_errors_against_the_noise_free_target():
    from lossbench import experiments

    config = config_module.validate({"seed": 1, "trials": 4, "experiments": [{
        "name": "f", "datasets": [{"kind": "gaussian", "target": "friedman1", "n_samples": 200}],
        "losses": ["mse", "huber"],
    }]})  # fmt: skip
    trials = experiments.run(config)
    rmse = trials[trials["metric"] == "test_rmse"]["value"]
    # a linear model misses sin(π x₁x₂) and the square: its error stays well above 0
    assert len(rmse) == 8 and rmse.min() > 1.0
    assert trials[trials["metric"] == "coef_error"]["value"].isna().all()
