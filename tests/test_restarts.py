"""The restarts experiment: its verdict's procedure (`statistics.PairedShares`) decides at its
level and is calibrated, by a simulation that could fail; a run pairs every loss's restarts,
is the same in serial and in parallel, and says how to settle an unconverged restart."""

import functools
from importlib.util import find_spec

import numpy as np
import pandas as pd
import pytest
from helpers import serial_and_parallel
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lossbench.analysis.statistics import PairedShares

# found, not imported: collecting this file must not cost torch's 2 s on every test process
pytestmark = pytest.mark.skipif(find_spec("torch") is None, reason="torch is absent")


@settings(deadline=None)  # the first example imports scipy.stats
@given(st.integers(0, 60), st.integers(0, 60), st.integers(0, 60),
       st.sampled_from([0.05, 0.025, 0.01, 0.005]))  # fmt: skip
def test_the_interval_excludes_0_exactly_when_p_is_below_its_level(b, c, same, alpha):
    assume(b + c + same > 0)
    result = PairedShares(b, c, b + c + same)
    low, high = result.interval(alpha)
    assert low <= result.estimate <= high
    assert (low > 0 or high < 0) == (result.p < alpha)


def test_no_discordant_pair_is_no_difference_seen_and_no_equivalence_from_few():
    few, many = PairedShares(0, 0, 10), PairedShares(0, 0, 2000)
    assert few.p == 1 and few.interval(0.05)[0] < -0.2  # 10 restarts: up to 30% apart
    low, high = many.interval(0.05)
    assert -0.01 < low <= 0 <= high < 0.01  # 2000 alike: within a 1% margin


@functools.cache
def _decided(b: int, c: int, n: int) -> bool:
    low, high = PairedShares(b, c, n).interval(0.05)
    return low > 0 or high < 0


def _rejections(p_loss, p_base, n, runs, rng, correlated=False):
    """The share of simulated experiments (n paired restarts each) whose verdict is not
    inconclusive at the 5% level."""
    u = rng.random((runs, n))
    loss = u < p_loss
    base = (u if correlated else rng.random((runs, n))) < p_base
    b, c = (loss & ~base).sum(axis=1), (~loss & base).sum(axis=1)
    return np.mean([_decided(int(x), int(y), n) for x, y in zip(b, c, strict=True)])


@pytest.mark.slow
def test_the_verdict_is_calibrated_and_has_power():
    """Equal stuck rates: a verdict in at most 5% of experiments (2000 of them; the bound
    5% + 3 standard errors); rates of 50% against 10% over 40 restarts: a verdict in most."""
    rng = np.random.default_rng(0)
    for rate in (0.1, 0.3, 0.5):
        for correlated in (False, True):
            false = _rejections(rate, rate, 40, 2000, rng, correlated)
            assert false <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 2000), (rate, correlated, false)
    assert _rejections(0.5, 0.1, 40, 500, rng) > 0.8


MOONS = (
    "seed: 0\ntrials: 2\nexperiments:\n  - name: stuck\n    kind: restarts\n"
    "    losses: [bce_logits, mse]\n    datasets: [{kind: moons, n_samples: 60, n_test: 100}]\n"
    "    restarts: 3\n    model: {kind: mlp, hidden: [3]}\n"
)


@pytest.mark.slow
def test_a_restarts_run_pairs_its_restarts_and_is_the_same_in_parallel(tmp_path):
    trials, run, output = serial_and_parallel(tmp_path, MOONS, columns=80)
    per = trials[trials["metric"] == "stuck"]
    assert len(per) == 2 * 2 * 3  # losses × trials × restarts
    shares = trials[trials["metric"] == "stuck_share"].set_index(["loss", "trial"])["value"]
    counted = per.groupby(["loss", "trial"])["value"].mean()
    pd.testing.assert_series_equal(shares.sort_index(), counted.sort_index(), check_names=False)
    # the best restart of each loss and trial is never stuck
    assert (per.groupby(["loss", "trial"])["value"].min() == 0).all()
    verdict = pd.read_csv(run / "comparisons.csv")
    row = verdict[verdict["metric"] == "stuck_share"].iloc[0]
    assert row["statistic"] == "paired share" and row["n"] == 6
    assert row["verdict"] in {"better", "worse", "equivalent", "inconclusive"}
    shown = output.splitlines()[:-1]  # the last: `results: <a long temporary path>`
    assert all(len(line) <= 80 for line in shown), output


@pytest.mark.slow
def test_raising_epochs_as_the_note_says_lets_a_restart_converge():
    from lossbench.experiments import mlp
    from lossbench.experiments.datasets import DATASETS
    from lossbench.experiments.kinds.restarts import NETWORK
    from lossbench.losses import get

    sample = DATASETS["moons"]({"n_samples": 120}, "moons").sample(np.random.default_rng(0))
    short = mlp.MlpOptions(**{**NETWORK, "epochs": 5})
    cut = mlp.fit_mlp(get("mse"), sample.X, sample.y, "classification", short, seed=1)
    assert not cut.converged and "raise model.epochs" in cut.note
    enough = mlp.MlpOptions(**NETWORK)
    done = mlp.fit_mlp(get("mse"), sample.X, sample.y, "classification", enough, seed=1)
    assert done.converged and done.iterations < NETWORK["epochs"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("spec", "score"),
    [({"kind": "logistic", "n_samples": 60, "n_features": 2}, "accuracy"),
     ({"kind": "gaussian", "n_samples": 60, "n_features": 2}, "test_rmse"),
     ({"kind": "softmax", "n_samples": 90, "n_features": 2, "classes": 3}, "accuracy")],
)  # fmt: skip
def test_every_task_is_scored_against_what_the_data_knows(spec, score):
    """Synthetic classes are scored on labels drawn from their true probabilities, regression
    on the noise-free target; multiclass on class labels."""
    from lossbench.experiments import tasks

    losses = ["cross_entropy", "mse"] if spec["kind"] == "softmax" else ["mse", "mae"]
    config = {"seed": 0, "trials": 1, "experiments": [
        {"name": "r", "kind": "restarts", "losses": losses, "datasets": [spec], "restarts": 2,
         "model": {"kind": "mlp", "hidden": [2]}}]}  # fmt: skip
    (task,) = tasks(config)
    rows = pd.DataFrame(task.experiment.run_task(task))
    held = rows[rows["metric"] == score]
    assert len(held) == 2 * 2 and held["value"].notna().all()


def test_names_in_the_restarts_view_show_as_their_characters():
    """A dataset, loss or experiment named with rich markup is printed as written: in the
    table's title and cells and in the verdict sentences."""
    from rich.console import Console

    from lossbench.report.kinds.restarts import RestartsView

    name, loss, base = "[red]data[/]", "[bold]mine", "mse"
    frame = pd.DataFrame({
        "dataset": [name] * 2, "loss": [loss, base], "metric": ["stuck_share"] * 2,
        "x": [np.nan] * 2, "mean": [0.2, 0.6], "kind": ["restarts"] * 2,
    })  # fmt: skip
    comparisons = pd.DataFrame([{
        "dataset": name, "loss": loss, "baseline": base, "metric": "stuck_share",
        "estimate": -0.4, "low": -0.6, "high": -0.2, "p_adjusted": 0.001, "n": 40,
        "confidence": 0.95, "verdict": "better", "margin": 0.1, "note": "",
    }])  # fmt: skip
    console = Console(width=200, record=True)
    for part in RestartsView.render("[b]exp", frame, comparisons):
        console.print(part)
    shown = console.export_text()
    for text in (name, loss, "[b]exp"):
        assert text in shown, shown
    assert f"{name}: {loss} is stuck less often than {base}" in shown


@pytest.mark.parametrize(("b", "c", "n"), [(3, 12, 40), (12, 3, 40), (0, 5, 20), (7, 7, 30)])
def test_the_verdict_s_test_and_interval_are_statsmodels_mcnemar_and_clopper_pearson(b, c, n):
    """p is McNemar's exact test (statsmodels) doubled for the level's split; the interval's
    corners are Clopper-Pearson intervals (statsmodels' beta method) at half the level."""
    from statsmodels.stats.contingency_tables import mcnemar
    from statsmodels.stats.proportion import proportion_confint

    result = PairedShares(b, c, n)
    table = [[n - b - c, b], [c, 0]]  # (stuck with the loss, not) x (with the base, not)
    assert result.p == pytest.approx(min(1.0, 2 * mcnemar(table, exact=True).pvalue))
    alpha = 0.05
    q = proportion_confint(b + c, n, alpha / 2, method="beta")
    pi = proportion_confint(b, b + c, alpha / 2, method="beta")
    corners = [share * (2 * side - 1) for share in q for side in pi]
    low, high = result.interval(alpha)
    assert low == pytest.approx(min(corners)) and high == pytest.approx(max(corners))
