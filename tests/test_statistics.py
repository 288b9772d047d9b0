"""Intervals, tests, the family's adjustment and verdicts against hand-computed values and a
trusted peer, and the promise that the printed interval decides as the adjusted p does."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lossbench import experiments
from lossbench.analysis import comparisons, statistics


def test_the_log_ratio_of_means_by_hand():
    # delta method: psi_i = a_i / mean(a) − b_i / mean(b), se = sd(psi) / sqrt(n), t on n − 1
    from scipy.stats import t

    a = np.array([1.0, 1.3, 0.8, 1.2, 1.1, 0.9])
    b = np.array([1.2, 1.4, 1.1, 1.1, 1.3, 1.2])
    psi = a / a.mean() - b / b.mean()
    theta, se = math.log(a.mean() / b.mean()), psi.std(ddof=1) / math.sqrt(6)
    result = statistics.paired(a, b)
    assert result.estimate == pytest.approx(a.mean() / b.mean() - 1)
    assert result.p == pytest.approx(2 * t.sf(abs(theta) / se, 5))
    half = t.ppf(1 - 0.01 / 2, 5) * se
    assert result.interval(0.01) == pytest.approx((math.expm1(theta - half),
                                                   math.expm1(theta + half)))  # fmt: skip


def test_nadeau_bengio_inflates_the_same_variance():
    from scipy.stats import t

    a = np.array([1.0, 1.2, 0.9, 1.1, 1.0])
    b = np.array([1.1, 1.3, 1.0, 1.0, 1.2])
    psi = a / a.mean() - b / b.mean()
    se = math.sqrt((1 / 5 + 0.25) * psi.var(ddof=1))
    result = statistics.paired(a, b, test_train=0.25)
    assert result.p == pytest.approx(2 * t.sf(abs(math.log(a.mean() / b.mean())) / se, 4))


def test_a_constant_ratio_has_a_point_interval():
    base = np.array([1.0, 2.0, 4.0, 3.0, 5.0])
    result = statistics.paired(0.8 * base, base)
    assert (result.estimate, *result.interval(0.05), result.p) == pytest.approx(
        (-0.2, -0.2, -0.2, 0.0)
    )
    assert statistics.efficiency(2.0 * base, base) == pytest.approx((0.25, 0.25, 0.25))


def test_identical_values_are_no_difference():
    base = np.array([0.3, 0.1, 0.2])
    for statistic in ("mean", "median"):
        result = statistics.paired(base.copy(), base, statistic)
        assert (result.estimate, *result.interval(0.05), result.p) == (0.0, 0.0, 0.0, 1.0)
        assert statistics.verdict(*result.interval(0.05), 0.01) == "equivalent"


def test_a_ratio_of_signed_means_is_refused_not_guessed():
    result = statistics.paired(np.array([0.5, -1.0, 0.2]), np.array([0.1, 0.2, -0.9]))
    assert math.isnan(result.p) and "positive" in result.note
    assert all(map(math.isnan, result.interval(0.05)))


def test_median_interval_is_the_order_statistic_interval_by_hand():
    # n = 10: (x(2), x(9)) covers the median with 1 − 2 P(B(10, ½) ≤ 1) = 0.979; (x(3), x(8))
    # only 0.891, below 95%
    assert statistics.median_interval(np.arange(1.0, 11.0)[::-1]) == (2.0, 9.0)
    assert all(math.isnan(v) for v in statistics.median_interval(np.arange(5.0)))


def test_bonferroni_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    p = np.array([0.01, 0.04, 0.03, 0.005, 0.2, 0.04])
    np.testing.assert_allclose(statistics.bonferroni(p), multipletests(p, method="bonferroni")[1])
    with_nan = statistics.bonferroni(np.array([0.01, np.nan, 0.02]))
    assert math.isnan(with_nan[1])
    np.testing.assert_allclose(with_nan[[0, 2]], [0.02, 0.04])


@settings(max_examples=150, deadline=None)
@given(
    arrays(np.float64, st.integers(3, 40), elements=st.floats(1e-3, 1e3)),
    st.floats(0.2, 5.0),
    st.integers(1, 12),
    st.sampled_from(["mean", "median"]),
    st.floats(0.0, 0.5),
    st.integers(0, 2**31),
)
def test_the_interval_that_decides_agrees_with_the_adjusted_p(base, ratio, m, statistic, cv, seed):
    rng = np.random.default_rng(seed)
    loss = base * ratio * rng.lognormal(0, 0.3, len(base))
    train = cv if statistic == "mean" else 0.0
    result = statistics.paired(loss, base, statistic, test_train=train, seed=seed)
    if statistic == "median" and len(base) < statistics.MEDIAN_FEWEST:
        assert math.isnan(result.p) and all(map(math.isnan, result.interval(0.05)))
        return  # too few to bootstrap: no test, no interval, no verdict
    alpha = statistics.FAMILYWISE_ALPHA
    low, high = result.interval(alpha / m)
    adjusted = min(1.0, result.p * m)
    assert low > -1.0 and low <= high  # a relative difference of positive numbers
    assert (adjusted < alpha) == (low > 0 or high < 0)


@pytest.mark.parametrize(
    ("low", "high", "higher", "expected"),
    [
        (-0.33, -0.22, False, "better"),
        (-0.33, -0.22, True, "worse"),  # lower accuracy is worse
        (0.05, 0.15, False, "worse"),
        (-0.03, -0.005, False, "inconclusive"),  # the interval reaches into the margin
        (-0.004, 0.006, False, "equivalent"),
        (-0.01, 0.05, False, "inconclusive"),
        (math.nan, math.nan, False, "inconclusive"),
    ],
)
def test_verdicts(low, high, higher, expected):
    assert statistics.verdict(low, high, 0.01, higher_is_better=higher) == expected


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(3, 30), elements=st.floats(0, 1e6)))
def test_a_mean_interval_of_a_non_negative_metric_never_reaches_below_zero(values):
    low, high = statistics.mean_interval(values)
    assert 0.0 <= low <= high
    assert values.min() - 1e-9 <= low and high <= values.max() + 1e-9


def test_a_mean_dominated_by_one_trial_is_flagged():
    rng = np.random.default_rng(0)
    assert not statistics.mean_unstable(np.abs(rng.standard_normal(50)) + 1)
    assert statistics.mean_unstable(np.abs(rng.standard_cauchy(50)))


def _null_trials(losses: int, trials: int, seed: int, scale: float = 1.0) -> pd.DataFrame:
    """Every loss's coef_error drawn from one law, with a shared per-trial effect."""
    rng = np.random.default_rng(seed)
    shared = rng.lognormal(0.0, 0.5, trials)
    rows = [
        ("e", "d", f"loss{j}", t, "coef_error", shared[t] * rng.lognormal(0, 0.2) * scale,
         "fit", math.nan, "")
        for j in range(losses)
        for t in range(trials)
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=experiments.COLUMNS[:9])


def test_compare_writes_one_row_per_loss_with_bonferroni_over_the_experiment():
    trials = _null_trials(4, 20, seed=1)
    table = comparisons.compare(trials, {"e": ["coef_error"]})
    assert list(table["loss"]) == ["loss1", "loss2", "loss3"]
    assert (table["baseline"] == "loss0").all() and (table["n"] == 20).all()
    np.testing.assert_allclose(table["p_adjusted"], np.minimum(table["p"] * 3, 1))
    np.testing.assert_allclose(table["confidence"], 1 - 0.05 / 3)
    assert set(table["verdict"]) <= {"equivalent", "inconclusive"}


def test_a_scaled_copy_is_better_and_a_twin_equivalent():
    trials = _null_trials(1, 30, seed=2)
    half = trials.assign(loss="half", value=trials["value"] * 0.5)
    twin = trials.assign(loss="twin", value=trials["value"] * (1 + 1e-5))
    table = comparisons.compare(pd.concat([trials, half, twin]), {"e": ["coef_error"]})
    verdicts = dict(zip(table["loss"], table["verdict"], strict=True))
    assert verdicts == {"half": "better", "twin": "equivalent"}


def test_a_sweep_is_its_own_family_and_the_winners_are_ranked():
    from lossbench.report.answer import answer

    base = _null_trials(1, 30, seed=3)
    h1, h2 = "huber(delta=1.0)", "huber(delta=2.0)"
    scaled = {"mae": 0.6, "log_cosh": 0.3, h1: 0.6, h2: 0.8}
    noise = np.random.default_rng(4).lognormal(0.0, 0.05, (len(scaled), len(base)))
    trials = pd.concat([base] + [
        base.assign(loss=k, value=base["value"] * v * noise[j])
        for j, (k, v) in enumerate(scaled.items())
    ])  # fmt: skip
    settings = {"e": comparisons.Settings(sweeps={"huber": [h1, h2]})}
    table = comparisons.compare(trials, {"e": ["coef_error"]}, settings)
    pairs = zip(table["loss"], table["baseline"], strict=True)
    family = dict(zip(pairs, table["family"], strict=True))
    assert family == {
        ("mae", "loss0"): "baseline", ("log_cosh", "loss0"): "baseline",
        (h1, "loss0"): "sweep huber", (h2, "loss0"): "sweep huber",
        ("log_cosh", "mae"): "ranking", ("log_cosh", h1): "ranking", (h1, h2): "ranking",
    }  # fmt: skip
    m = table.groupby("family")["confidence"].first().map(lambda c: round(0.05 / (1 - c)))
    # the ranking's size is every pair it could hold: 3 candidates (mae, log_cosh, one
    # setting of the sweep) and the sweep's own pair, whichever won
    assert m.to_dict() == {"baseline": 2, "sweep huber": 2, "ranking": 3 + 1}
    assert (table["verdict"] == "better").all()
    # the sweep does not dilute the other comparisons
    alone = comparisons.compare(trials[~trials["loss"].isin([h1, h2])], {"e": ["coef_error"]})
    alone = alone[alone["family"] == "baseline"]
    assert (alone["p_adjusted"] > 0).all()
    np.testing.assert_array_equal(
        alone["p_adjusted"], table.loc[table["family"] == "baseline", "p_adjusted"]
    )
    (line,) = answer(table)
    assert line.startswith("d (e, coef_error): use log_cosh: −7") and line.endswith(
        f"against loss0; better than {h1}, mae too"
    )


def test_the_winner_is_ranked_against_a_noisy_loss_that_did_not_win():
    """A loss with a larger estimate but too noisy to beat the baseline may be as good as the
    winner: the winner is compared with it, and "use" names both unless it is beaten."""
    from lossbench.report.answer import answer

    base = _null_trials(1, 30, seed=5)
    rng = np.random.default_rng(6)
    steady = base["value"] * 0.8 * rng.lognormal(0.0, 0.02, len(base))  # −20%, tight
    noisy = base["value"] * 0.6 * rng.lognormal(0.0, 1.0, len(base))  # larger, wide
    trials = pd.concat([base, base.assign(loss="steady", value=steady),
                        base.assign(loss="noisy", value=noisy)])  # fmt: skip
    table = comparisons.compare(trials, {"e": ["coef_error"]})
    verdict = {(r.loss, r.baseline): r.verdict for r in table.itertuples()}
    assert verdict[("steady", "loss0")] == "better"
    assert verdict[("noisy", "loss0")] == "inconclusive"
    assert verdict[("steady", "noisy")] == "inconclusive"  # ranked against the non-winner
    ranked = table[table["family"] == "ranking"]
    assert (ranked["confidence"] == 1 - 0.05 / 1).all()  # m: the one pair of 2 candidates
    (line,) = answer(table)
    assert "use any of steady, noisy (steady better than loss0; not told apart" in line, line
    # the same non-winner, beaten by the winner in the ranking: the winner alone is named
    worse = base["value"] * 1.5 * rng.lognormal(0.0, 1.0, len(base))
    trials = pd.concat([base, base.assign(loss="steady", value=steady),
                        base.assign(loss="noisy", value=worse)])  # fmt: skip
    table = comparisons.compare(trials, {"e": ["coef_error"]})
    (line,) = answer(table)
    assert line.startswith("d (e, coef_error): use steady: −"), line
    assert line.endswith("better than noisy too"), line


def test_the_answer_names_only_what_the_comparisons_support():
    from lossbench.report.answer import answer

    def row(dataset, loss, verdict, estimate, baseline="mse", family="baseline"):
        return {"experiment": "e", "dataset": dataset, "loss": loss, "baseline": baseline,
                "metric": "coef_error", "verdict": verdict, "estimate": estimate,
                "low": estimate - 0.05, "high": estimate + 0.05, "margin": 0.01,
                "family": family}  # fmt: skip

    h1, h2 = "huber(delta=1.0)", "huber(delta=2.0)"
    table = pd.DataFrame([
        row("t3", "huber", "better", -0.28), row("t3", "mae", "better", -0.20),
        row("t3", "log_cosh", "inconclusive", -0.30),
        row("t5", "huber", "better", -0.28), row("t5", "mae", "better", -0.27),
        row("gauss", "huber", "equivalent", 0.001), row("gauss", "mae", "equivalent", 0.002),
        row("clean", "huber", "worse", 0.10),
        row("few", "huber", "inconclusive", -0.5),
        row("swept", h1, "better", -0.3, family="sweep huber"),
        row("swept", h2, "better", -0.2, family="sweep huber"),
        row("t3", "huber", "better", -0.1, baseline="mae", family="ranking"),
        row("t5", "huber", "inconclusive", -0.01, baseline="mae", family="ranking"),
        row("swept", h1, "inconclusive", -0.1, baseline=h2, family="ranking"),
        row("t3", "huber", "better", -0.05, baseline="log_cosh", family="ranking"),
        row("t5", "huber", "equivalent", 0.0, baseline="log_cosh", family="ranking"),
        row("t5", "log_cosh", "inconclusive", -0.30),
        row("wide", "huber", "better", -0.28), row("wide", "mae", "inconclusive", -0.4),
        row("wide", "huber", "inconclusive", 0.1, baseline="mae", family="ranking"),
    ])  # fmt: skip
    lines = dict(line.split(" (e, coef_error): ") for line in answer(table))
    # one winner better than the other winner and than a non-winner with a larger estimate:
    # named, with the ranking behind it
    assert lines["t3"] == (
        "use huber: −28.0% [−33.0%, −23.0%] against mse; better than log_cosh, mae too"
    )
    # two winners the ranking cannot tell apart: both named, neither chosen (a non-winner
    # the ranking finds equivalent to the top is no reason to name it)
    assert lines["t5"].startswith("use any of huber, mae (each better than mse")
    # a non-winner the ranking cannot tell from the winner: named beside it
    assert lines["wide"].startswith(
        "use any of huber, mae (huber better than mse; not told apart from the others here)"
    )
    # a sweep's lesser setting is not a candidate of its own: its best stands for it
    assert lines["swept"].startswith(f"use {h1}: −30.0%")
    assert lines["gauss"].startswith("any of mse")
    assert lines["clean"] == "keep mse: every other loss is worse"
    assert lines["few"].startswith("undecided")


def test_intervals_over_folds_use_the_corrected_variance_of_the_verdicts():
    from scipy.stats import t as student_t

    rng = np.random.default_rng(7)
    rows = []
    for fold in range(10):
        rows += [("e", "table", "mse", fold, "test_mae", rng.lognormal(0, 0.3), "fit", math.nan,
                  ""),
                 ("e", "table", "mse", fold, "n_train", 48.0, "fit", math.nan, ""),
                 ("e", "table", "mse", fold, "n_test", 12.0, "fit", math.nan, "")]  # fmt: skip
    trials = pd.DataFrame(rows, columns=experiments.COLUMNS[:9])
    summary = experiments.summarize(trials)
    row = summary[summary["metric"] == "test_mae"].iloc[0]
    values = trials.loc[trials["metric"] == "test_mae", "value"].to_numpy()
    scale = values.std(ddof=1) * math.sqrt(1 / 10 + 12 / 48)
    low, high = student_t.interval(0.95, 9, loc=values.mean(), scale=scale)
    assert row["ci_low"] == pytest.approx(low, rel=1e-12)
    assert row["ci_high"] == pytest.approx(high, rel=1e-12)
