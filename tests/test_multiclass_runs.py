"""Multiclass fits through a whole run (issue 34, fourth step): scikit-learn's iris, wine and
digits and tables whose target has 3+ classes, fitted by multinomial logistic regression with
cross_entropy or a loss on the softmax probabilities, scored on held-out folds and compared
as any other fits; what is not built yet is refused in one line."""

import numpy as np
import pandas as pd
import pytest
from helpers import assert_refused, invoke

from lossbench import config as config_module
from lossbench import experiments, losses

IRIS = (
    "seed: 0\nexperiments:\n  - name: e\n    datasets: [{kind: sklearn, name: iris}]\n"
    "    losses: [cross_entropy, mse, bce_logits]\n    cv: {folds: 3, repeats: 2}\n"
)


def _run(tmp_path, text: str, *args):
    (tmp_path / "c.yaml").write_text(text)
    result = invoke(["run", "c.yaml", "--out", tmp_path / "o", *args], tmp_path)
    return result, " ".join(result.output.split())


def test_cross_entropy_folds_are_scikit_learns_logistic_regression(tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    l2 = 0.01
    (tmp_path / "c.yaml").write_text(IRIS + f"    fit: {{l2: {l2}}}\n")
    units = experiments.tasks(config_module.load(tmp_path / "c.yaml"))
    trials = experiments.run_tasks(units)
    mine = trials[(trials["loss"] == "cross_entropy") & (trials["metric"] == "log_loss")]
    assert len(mine) == 6 and (trials.loc[trials["metric"] == "converged", "value"] == 1).all()
    for unit, value in zip(units, mine["value"], strict=True):
        sample = unit.dataset.split(unit.trial, 3, unit.seed)
        mean, sd = sample.X.mean(axis=0), sample.X.std(axis=0)
        peer = LogisticRegression(C=1 / (len(sample.y) * l2), tol=1e-12, max_iter=10_000)
        peer.fit((sample.X - mean) / sd, sample.y)
        probabilities = peer.predict_proba((sample.X_test - mean) / sd)
        assert value == pytest.approx(log_loss(sample.y_test, probabilities), rel=1e-4)
    # a two-class loss on one logit has no multiclass form here: said, not fitted
    logits = trials[(trials["loss"] == "bce_logits") & (trials["metric"] == "log_loss")]
    assert logits["value"].isna().all()
    assert logits["note"].str.contains("cross_entropy is its multiclass form").all()


def test_a_multiclass_run_gives_verdicts_and_a_penalty_fixes_separated_classes(tmp_path):
    result, flat = _run(tmp_path, IRIS)  # setosa is separable: no finite optimum without l2
    assert result.exit_code == 0, result.output
    assert "set fit.l2" in flat and "keep cross_entropy" not in flat
    result, flat = _run(tmp_path, IRIS, "--set", "experiments.0.fit.l2=0.01")
    assert result.exit_code == 0, result.output
    run = sorted((tmp_path / "o").iterdir())[-1]
    comparisons = pd.read_csv(run / "comparisons.csv")
    mse = comparisons[(comparisons["loss"] == "mse") & (comparisons["metric"] == "log_loss")]
    assert mse["verdict"].iloc[0] == "worse"  # cross-entropy's own criterion, as said
    assert "keep cross_entropy" in flat and "log_loss is what cross_entropy minimizes" in flat


@pytest.mark.parametrize(
    ("target", "options", "task"),
    [(["a", "b", "c"], "", "multiclass"), ([1.0, 2.0, 3.0], "", "regression"),
     ([1, 2, 3], ", task: multiclass", "multiclass"), (["a", "b"], "", "classification")],
)  # fmt: skip
def test_a_table_target_is_read_as_its_classes(tmp_path, target, options, task):
    from lossbench.experiments.datasets.observed import Table

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.standard_normal(60), "y": np.resize(target, 60)})
    frame.to_csv(tmp_path / "t.csv", index=False)
    spec = {"kind": "table", "path": "t.csv", "target": "y"}
    if options:
        spec["task"] = "multiclass"
    (dataset,) = Table.expand(spec, where=("datasets", 0), base=tmp_path)
    assert dataset.task == task
    if task == "multiclass":
        assert sorted(set(dataset.y)) == [0.0, 1.0, 2.0] and dataset.classes == 3
        assert dataset.info["classes"] == {str(v): i for i, v in enumerate(target)}


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("experiments:\n  - {name: p, kind: punishment, losses: [mse, cross_entropy]}\n",
         "cross_entropy is for fit experiments on multiclass data"),
        (IRIS.replace("iris", "breast_cancer").replace("bce_logits", "bce")
         + "    fit: {l2: 1.0e-2}\n    score: macro_f1\n", "macro_f1 cannot judge"),
    ],
)  # fmt: skip
def test_what_is_not_built_yet_is_refused_in_one_line(tmp_path, text, said):
    (tmp_path / "c.yaml").write_text(text)
    assert_refused(invoke(["run", "c.yaml", "--out", tmp_path / "o"], tmp_path), None, said)


def test_too_many_classes_or_too_few_are_refused(tmp_path):
    frame = pd.DataFrame({"x": np.arange(120.0), "y": [f"c{i % 60}" for i in range(120)]})
    frame.to_csv(tmp_path / "t.csv", index=False)
    text = ("experiments:\n  - name: e\n    datasets: [{kind: table, path: t.csv, target: y, "
            "task: multiclass}]\n    losses: [cross_entropy, mse]\n")  # fmt: skip
    result, _ = _run(tmp_path, text)
    assert_refused(result, None, "needs 3 to 50 classes; y has 60")
    frame.assign(y=["a", "b"] * 60).to_csv(tmp_path / "t.csv", index=False)
    result, _ = _run(tmp_path, text)
    assert_refused(result, None, "task: classification takes two")


def test_synthetic_classes_follow_their_softmax_noise_and_imbalance():
    from scipy.stats import chisquare

    from lossbench.experiments.datasets import expand

    (data,) = expand({"kind": "softmax", "classes": 4, "label_noise": 0.3, "imbalance": 8.0},
                     ("datasets", 0))  # fmt: skip
    rng = np.random.default_rng(0)
    # certain logits (class 0 by a mile): the labels that moved are the noise, spread evenly
    labels = data._labels(np.tile([50.0, 0.0, 0.0, 0.0], (20_000, 1)), rng)
    moved = labels[labels != 0]
    assert len(moved) / len(labels) == pytest.approx(0.3, abs=0.015)
    assert chisquare(np.bincount(moved.astype(int))[1:]).pvalue > 1e-3
    # no signal: the classes come from the log priors, 8 times apart at the ends
    quiet = expand({"kind": "softmax", "classes": 4, "imbalance": 8.0}, ("datasets", 0))[0]
    priors = -np.log(8.0) * np.arange(4) / 3
    counts = np.bincount(quiet._labels(np.tile(priors, (40_000, 1)), rng).astype(int))
    np.testing.assert_allclose(counts / counts.sum(), np.exp(priors) / np.exp(priors).sum(),
                               atol=0.01)  # fmt: skip


@pytest.mark.slow
def test_a_synthetic_multiclass_run_keeps_cross_entropy_on_its_own_criterion(tmp_path):
    result, flat = _run(tmp_path, "seed: 0\ntrials: 30\nexperiments:\n  - name: s\n    "
                        "datasets: [{kind: softmax, classes: 4}]\n    losses: [cross_entropy, "
                        "mse]\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    said = "softmax(classes=4, label_noise=0, imbalance=1) (s, log_loss): keep cross_entropy"
    assert f"{said}: every other loss is worse" in flat


@pytest.mark.parametrize(
    ("target", "asked", "said", "fix"),
    [(["a", "b"], "multiclass", "task: classification takes two", "classification"),
     (["a", "b", "c"], "classification", "task: multiclass takes more", "multiclass"),
     (["a", "b", "c"], "regression", "classes: task: multiclass", "multiclass")],
)  # fmt: skip
def test_each_task_hint_reads_the_target_as_it_says(tmp_path, target, asked, said, fix):
    from lossbench import LossbenchError
    from lossbench.experiments.datasets.observed import Table

    frame = pd.DataFrame({"x": np.arange(60.0), "y": np.resize(target, 60)})
    frame.to_csv(tmp_path / "t.csv", index=False)
    spec = {"kind": "table", "path": "t.csv", "target": "y", "task": asked}
    with pytest.raises(LossbenchError, match=said):
        Table.expand(spec, where=("datasets", 0), base=tmp_path)
    (dataset,) = Table.expand({**spec, "task": fix}, where=("datasets", 0), base=tmp_path)
    assert dataset.task == fix


@pytest.mark.parametrize("name", ["iris", "wine"])
def test_boosting_cross_entropy_is_lightgbms_multiclass_objective(name):
    import lightgbm
    from sklearn import datasets

    from lossbench.experiments.gbm import GbmOptions, fit_gbm_multiclass
    from lossbench.losses.softmax import CrossEntropy

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)  # wine: unequal class sizes
    ours = fit_gbm_multiclass(CrossEntropy(), X, y, 3, GbmOptions(n_estimators=30), seed=1)
    params = {"objective": "multiclass", "num_class": 3, "learning_rate": 0.1, "num_leaves": 31,
              "min_data_in_leaf": 20, "num_threads": 1, "deterministic": True,
              "force_col_wise": True, "seed": 1, "verbose": -1}  # fmt: skip
    theirs = lightgbm.train(params, lightgbm.Dataset(X, label=y), num_boost_round=30)
    mine, peer = ours.raw(X), theirs.predict(X, raw_score=True)
    # softmax scores are defined up to a constant per row
    mine, peer = mine - mine.mean(axis=1, keepdims=True), peer - peer.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(mine, peer, atol=1e-10)


def test_the_boosted_brier_objective_is_the_derivative_of_the_brier_score():
    from lossbench import losses
    from lossbench.experiments.gbm import multiclass_objective
    from lossbench.losses.softmax import one_hot, softmax

    rng = np.random.default_rng(3)
    labels, z = rng.integers(0, 4, 50), rng.standard_normal((50, 4)) * 2

    class Data:
        def get_label(self):
            return labels.astype(float)

    def brier(scores):
        return np.sum((softmax(scores) - one_hot(labels, 4)) ** 2)

    gradient, hessian = multiclass_objective(losses.get("mse"), 4)(z, Data())
    h = 1e-6
    for i, k in [(0, 0), (7, 3), (49, 2)]:
        up, down = z.copy(), z.copy()
        up[i, k] += h
        down[i, k] -= h
        assert gradient[i, k] == pytest.approx((brier(up) - brier(down)) / (2 * h), abs=1e-7)
    assert (hessian > 0).all()


def test_linear_and_boosted_multiclass_fits_run_and_are_compared(tmp_path):
    text = IRIS.replace(", bce_logits", "").replace(
        "cv:",
        "model: [linear, {kind: gbm, n_estimators: 20}]\n    fit: {l2: 0.01}\n"
        "    score: [log_loss, brier]\n    cv:",
    )
    result, flat = _run(tmp_path, text)
    assert result.exit_code == 0, result.output
    # every score judged is said: a verdict sentence per loss and score, and the models
    # against each other in one answer line per score, each loss named once in it
    for score in ("log_loss", "brier"):
        assert f"linear: mse vs cross_entropy on {score}" in flat or (
            f"linear: mse is worse than cross_entropy on {score}" in flat
        )
        line = flat.split(f"(e, {score}): gbm against linear: ")[1].split(" sklearn(iris)")[0]
        assert line.count("cross_entropy") == 1 and line.count("mse") == 1, line
    assert flat.count("gbm against linear") == 2
    run = sorted((tmp_path / "o").iterdir())[-1]
    trials = pd.read_csv(run / "trials.csv")
    scored = trials[trials["metric"] == "log_loss"]
    assert set(scored["model"]) == {"linear", "gbm"} and scored["value"].notna().all()
    assert len(scored) == 2 * 2 * 6  # models x losses x folds
    comparisons = pd.read_csv(run / "comparisons.csv")
    assert set(comparisons["model"]) >= {"linear", "gbm"}


def test_cross_entropy_is_timed_by_every_implementation_that_has_it():
    from lossbench.config import Timing
    from lossbench.timing import bench
    from lossbench.timing import planning as driver

    chosen = Timing(losses=["cross_entropy"], ops=["value", "value_and_gradient"],
                    impls=["numpy", "fused", "torch", "sklearn"], sizes=[20_000],
                    threads=[1, "all"])  # fmt: skip
    planned = [b for b in driver.plan(chosen).benchmarks if b.loss == "cross_entropy"]
    impls = {b.impl for b in planned}
    assert impls == {"numpy", "fused", "fused@all", "torch", "torch@all", "sklearn"}
    labels, z = bench.inputs(losses.get("cross_entropy"), 20_000, "float64")
    assert z.shape == (2_000, bench.ROW_CLASSES) and labels.shape == (2_000,)
    expected = losses.get("cross_entropy").value(labels, z)
    for b in planned:
        out = bench.prepare(b)()
        value = out[0] if isinstance(out, tuple) else out
        value = float(np.mean(np.asarray(value.detach() if hasattr(value, "detach") else value)))
        # scikit-learn's multinomial loss is per row (its mean the loss); the rest reduce
        assert value == pytest.approx(expected, rel=1e-10), b.name


@pytest.mark.slow  # timing worker processes
def test_a_run_times_cross_entropy_and_says_what_bounds_it(tmp_path):
    text = ("experiments: []\ntiming: {losses: [cross_entropy], ops: [value_and_gradient], "
            "impls: [numpy, fused], sizes: [20000], pyperf: {processes: 2, values: 2, "
            "warmups: 0}}\n")  # fmt: skip
    result, flat = _run(tmp_path, text)
    assert result.exit_code == 0, result.output
    run = sorted((tmp_path / "o").iterdir())[-1]
    timed = pd.read_csv(run / "timings.csv").set_index("benchmark")
    mine = timed.loc[["cross_entropy.value_and_gradient.numpy.float64.20000",
                      "cross_entropy.value_and_gradient.fused.float64.20000"]]  # fmt: skip
    assert (mine["median_s"] > 0).all() and mine["roofline"].isna().all()
    assert "fused cross_entropy value_and_gradient" in flat
    assert "bound by an exp per element (no memory floor)" in flat
