"""Robust fits that settle on real tables (issue 33): huber with a MAD or joint scale on every
cross-validation fold of real data, against statsmodels' RLM and scikit-learn's HuberRegressor;
Newton's method against L-BFGS and RLM at a fixed δ; the scale searches' own promises."""

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize
from statsmodels import datasets as sm_datasets

from lossbench import losses
from lossbench.experiments import newton, scales
from lossbench.experiments.datasets.observed import Observed
from lossbench.experiments.fitting import Standardized, fit, objective

HUBER = losses.get("huber", delta=1.345)


def _table(name: str) -> Observed:
    if name == "diabetes":
        from sklearn.datasets import load_diabetes

        X, y = load_diabetes(return_X_y=True)
    else:
        data = getattr(sm_datasets, name).load_pandas()
        X, y = data.exog.to_numpy(float), data.endog.to_numpy(float)
    return Observed({}, name, X, y, "regression")


def _rlm(X, y, **fit_options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "scale is 0.0" on an exact fit: ours says so too
        model = sm.RLM(y, sm.add_constant(X, has_constant="add"), M=sm.robust.norms.HuberT(1.345))
        result = model.fit(conv="coefs", tol=1e-9 * np.abs(y).max(), maxiter=5000, **fit_options)
    return np.append(result.params[1:], result.params[0]), float(result.scale)


def _concomitant(X, y, w, b, sigma):  # HuberRegressor's objective over n, alpha = 0
    return sigma + 2 * sigma * float(HUBER.value(y / sigma, (X @ w + b) / sigma))


@pytest.mark.parametrize(
    "name", ["diabetes", *(pytest.param(name, marks=pytest.mark.slow)
                           for name in ("stackloss", "longley", "fair", "engel"))],
)  # fmt: skip
def test_huber_fits_settle_on_every_fold_of_real_tables_as_rlm_does(name):
    # before issue 33, 3 + 10 of diabetes's 100 fits, 3 + 14 of longley's and 1 + 9 of
    # fair's were called unconverged: the MAD iteration asked 1e-10 of a median computed from
    # refits stopped at a gradient of 1e-7
    data = _table(name)
    # 5 folds x 10 repeats; fair's 6,366 rows every fifth (benchmarks/robust_tables.py: all)
    for trial in range(0, 50, 5 if name == "fair" else 1):
        sample = data.split(trial, 5, seed=0)
        mad = fit(HUBER, sample.X, sample.y, scale="mad")
        joint = fit(HUBER, sample.X, sample.y, scale="joint")
        assert mad.converged and joint.converged, (trial, mad.note, joint.note)
        theta, scale = _rlm(sample.X, sample.y)
        assert np.max(np.abs(mad.theta - theta)) <= 1e-4 * np.max(np.abs(theta)), trial
        if mad.scale > 0:
            assert mad.scale == pytest.approx(scale, rel=1e-4)
        else:  # a fit through over half the rows: RLM stops on a vanishing scale as well
            assert scale < 1e-6 * np.std(sample.y) and "settled at 0" in mad.note


def test_the_joint_scale_is_the_concomitant_optimum_huber_regressor_approaches():
    from sklearn.linear_model import HuberRegressor

    data = _table("diabetes")
    for trial in (0, 7, 13):
        sample = data.split(trial, 5, seed=0)
        X = (sample.X - sample.X.mean(axis=0)) / sample.X.std(axis=0)
        ours = fit(HUBER, X, sample.y, scale="joint")
        peer = HuberRegressor(epsilon=1.345, alpha=0.0, tol=1e-12, max_iter=100_000)
        peer.fit(X, sample.y)
        mine = _concomitant(X, sample.y, ours.coef, ours.intercept, ours.scale)
        theirs = _concomitant(X, sample.y, peer.coef_, peer.intercept_, peer.scale_)
        assert mine <= theirs * (1 + 1e-12)
        assert ours.scale == pytest.approx(peer.scale_, rel=1e-3)
        # the optimum's own test: no direction in (w, b, σ) lowers the objective
        step = 1e-6 * ours.scale
        for grown in (ours.scale - step, ours.scale + step):
            assert mine <= _concomitant(X, sample.y, ours.coef, ours.intercept, grown)


def test_a_scale_settled_at_zero_is_the_least_absolute_fit_and_says_so():
    from sklearn.linear_model import QuantileRegressor

    sample = _table("longley").split(25, 5, seed=0)  # 13 rows, 7 parameters
    result = fit(HUBER, sample.X, sample.y, scale="mad")
    assert result.converged and result.scale == 0.0
    assert "settled at 0" in result.note and "acts as mae" in result.note
    peer = QuantileRegressor(quantile=0.5, alpha=0, solver="highs").fit(sample.X, sample.y)
    theirs = np.append(peer.coef_, peer.intercept_)
    np.testing.assert_allclose(result.theta, theirs, rtol=1e-6, atol=1e-8 * np.abs(theirs).max())
    # passes through more than half the rows exactly: the MAD, and so the scale, is 0
    residual = sample.y - sample.X @ result.coef - result.intercept
    assert np.sum(np.abs(residual) < 1e-6 * np.abs(sample.y).max()) > len(sample.y) / 2


_PROBLEMS = st.tuples(
    st.integers(3, 40), st.integers(1, 5), st.integers(0, 2**32 - 1),
    st.sampled_from(["huber", "pseudo_huber", "log_cosh"]), st.sampled_from([0.0, 0.1]),
    st.booleans(), st.floats(0.01, 100.0),
)  # fmt: skip


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_PROBLEMS)
@example((39, 1, 0, "huber", 0.0, False, 0.03125))  # F linear a long way; a singular matrix
def test_newton_reaches_an_optimum_no_tighter_l_bfgs_run_improves_on(problem):
    rows, columns, seed, name, l2, collinear, delta = problem
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, columns))
    if collinear and columns > 1:
        X[:, -1] = X[:, 0]  # a singular matrix at every step
    y = X @ rng.standard_normal(columns) + rng.standard_t(1.5, rows) * 3
    loss = losses.get(name, delta=delta) if name != "log_cosh" else losses.get(name)
    units = Standardized.of(X, y, "linear")
    Xs, ys = units.data(X, y)
    solved = newton.newton(loss, Xs, ys, np.zeros(columns + 1), l2, 1000)
    assert solved.stopped == "optimum"
    f = objective(loss, Xs, ys, "linear", l2)
    peer = minimize(f, solved.theta + 0.1, jac=True, method="L-BFGS-B",
                    options={"gtol": 1e-14, "ftol": 1e-16, "maxiter": 10_000})  # fmt: skip
    assert solved.value <= peer.fun + 1e-12 * abs(peer.fun) + 1e-300
    assert solved.value == pytest.approx(f(solved.theta)[0], rel=1e-12)


def test_newton_at_a_fixed_delta_is_rlm_at_a_fixed_scale():
    X, y = _table("stackloss").X, _table("stackloss").y
    theta, _ = _rlm(X, y, scale_est="mad", update_scale=False, start_scale=1.0)
    ours = fit(HUBER, X, y, scale="fixed")  # δ = 1.345 in the units of y: RLM's t at scale 1
    assert ours.converged
    np.testing.assert_allclose(ours.theta, theta, rtol=1e-6)


@pytest.mark.parametrize("scale", ["mad", "joint"])
def test_the_scale_found_is_a_root_to_the_width_promised(scale):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((200, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.standard_t(2, 200)
    result = fit(HUBER, X, y, scale=scale)
    assert result.converged and not result.note
    residual = y - X @ result.coef - result.intercept
    if scale == "mad":  # the MAD of the fit's own residuals is the scale δ was measured in
        assert scales.mad_of(residual) == pytest.approx(result.scale, rel=1e-9)
    else:  # the concomitant objective's slope in σ, 1 − mean min(u², δ²) for huber, is 0
        u = residual / result.scale
        assert 1 - np.mean(np.minimum(u**2, 1.345**2)) == pytest.approx(0, abs=1e-9)


def test_a_median_that_jumps_settles_at_the_jump_and_says_so():
    # mad(s) jumps from below s to above it at s = 2: the plain iteration would cycle
    root = scales.scale_fixed_point(lambda s: 1.5 if s > 2 else 2.5, start=1.0)
    assert root.settled and root.scale == pytest.approx(2.0, rel=1e-11)
    assert "jumps" in root.note


def test_a_scale_shrinking_to_zero_settles_there():
    root = scales.scale_fixed_point(lambda s: 0.5 * s, start=1.0)
    assert root.settled and root.scale == 0.0 and "settled at 0" in root.note
    root = scales.increasing_root(lambda s: 0.2, start=1.0)  # the slope never turns negative
    assert root.settled and root.scale == 0.0


@pytest.mark.slow
def test_a_joint_scale_with_delta_at_most_one_is_refused_because_it_falls_to_zero(tmp_path):
    from helpers import assert_refused, invoke

    from lossbench import LossbenchError
    from lossbench.experiments import fitting

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((100, 2)), rng.standard_normal(100)
    unit = losses.get("huber", delta=1.0)
    with pytest.raises(LossbenchError, match="delta must exceed 1"):
        fit(unit, X, y, scale="joint")
    # what the refusal says: the concomitant optimum is at σ = 0, the mae fit
    Xs, ys = Standardized.of(X, y, "linear").data(X, y)
    fallen = fitting._joint(unit, Xs, ys, np.zeros(3), 1000, 1e-10, 0.0)
    assert fallen.scale == 0.0 and "settled at 0" in fallen.note
    config = tmp_path / "c.yaml"
    config.write_text("trials: 3\nexperiments:\n  - {name: e, datasets: [{kind: gaussian}], "
                      "losses: [mse, {name: huber, delta: 1}], fit: {scale: joint}}\n")  # fmt: skip
    refused = invoke(["run", config, "--out", tmp_path / "o"])
    assert_refused(refused, tmp_path / "o", "experiments[0].losses[1]", "use a larger delta")
    for fix in ("experiments.0.losses.1.delta=1.345", "experiments.0.fit.scale=mad"):
        done = invoke(["run", config, "--out", tmp_path / "o", "--set", fix])
        assert done.exit_code == 0, done.output


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_PROBLEMS)
def test_a_mad_scale_is_a_fixed_point_or_says_where_it_settled(problem):
    rows, columns, seed, _, l2, collinear, _ = problem
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows + 5, columns))
    if collinear and columns > 1:
        X[:, -1] = X[:, 0]
    y = X @ rng.standard_normal(columns) + rng.standard_t(1.5, rows + 5)
    result = fit(HUBER, X, y, scale="mad", l2=l2)
    assert result.converged, result.note
    residual = y - X @ result.coef - result.intercept
    if result.scale == 0:
        assert "settled at 0" in result.note
    elif "jumps" not in result.note:
        assert scales.mad_of(residual) == pytest.approx(result.scale, rel=1e-8)
