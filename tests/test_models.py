"""A model grid (`model: [linear, {kind: gbm}]`): every loss fitted with each model on the same
trials; comparisons within each model (loss against the baseline loss) and across models for
the same loss (the ``models`` family), each family Bonferroni-corrected on its own; the answer,
the verdicts and the figure per model."""

import math

import pandas as pd
import pytest
from helpers import assert_refused, invoke
from scipy import stats

pytest.importorskip("lightgbm")

GRID = (
    "seed: 3\ntrials: 12\nexperiments:\n  - name: models\n    datasets:\n"
    "      - {kind: gaussian, target: friedman1, n_samples: 300}\n"
    "    losses: [mse, {name: huber, delta: 1.345}]\n"
    "    model: MODEL\n    score: test_rmse\n"
)
BOTH = "[linear, {kind: gbm, n_estimators: 50}]"


def _run(tmp_path, model: str, name: str, *extra: str):
    (tmp_path / f"{name}.yaml").write_text(GRID.replace("MODEL", model))
    result = invoke(["run", f"{name}.yaml", "--out", tmp_path / name, "--quiet", *extra], tmp_path)
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / name).iterdir()
    return run, result


@pytest.fixture(scope="module")
def grid_run(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("grid"), BOTH, "both")[0]


def test_each_model_sees_the_same_trials_as_it_would_alone(grid_run, tmp_path):
    trials = pd.read_csv(grid_run / "trials.csv")
    assert list(dict.fromkeys(trials["model"])) == ["linear", "gbm"]
    alone, _ = _run(tmp_path, "linear", "alone")
    steady = ["experiment", "dataset", "loss", "trial", "metric", "x", "value"]
    mine = trials[(trials["model"] == "linear") & (trials["metric"] != "fit_seconds")]
    theirs = pd.read_csv(alone / "trials.csv")
    theirs = theirs[theirs["metric"] != "fit_seconds"]
    pd.testing.assert_frame_equal(mine[steady].reset_index(drop=True),
                                  theirs[steady].reset_index(drop=True))  # fmt: skip


def test_models_are_compared_for_the_same_loss_over_the_same_trials(grid_run):
    trials = pd.read_csv(grid_run / "trials.csv")
    comparisons = pd.read_csv(grid_run / "comparisons.csv")
    across = comparisons[comparisons["family"] == "models"]
    assert len(across) == 2 and set(across["loss"]) == set(across["baseline"])
    assert (across["model"] == "gbm").all() and (across["baseline_model"] == "linear").all()
    scores = trials[trials["metric"] == "test_rmse"]
    for row in across.itertuples():
        # the delta-method t test on the ratio of means, recomputed from trials.csv, and the
        # family's own Bonferroni count (2 losses), not the whole table's
        of = scores[scores["loss"] == row.loss]
        own = of[of["model"] == "gbm"].sort_values("trial")["value"].to_numpy()
        base = of[of["model"] == "linear"].sort_values("trial")["value"].to_numpy()
        psi = own / own.mean() - base / base.mean()
        t = math.log(own.mean() / base.mean()) / (psi.std(ddof=1) / math.sqrt(len(own)))
        p = 2 * stats.t.sf(abs(t), len(own) - 1)
        assert row.p == pytest.approx(p, rel=1e-9)
        assert row.p_adjusted == pytest.approx(min(1.0, 2 * p), rel=1e-9)
        assert row.confidence == pytest.approx(1 - 0.05 / 2)
        # Friedman #1 is not linear: trees fit it far better, with either loss
        assert row.verdict == "better" and row.high < -0.2
    within = comparisons[comparisons["family"] == "baseline"]
    assert sorted(within["model"]) == ["gbm", "linear"]
    assert (within["model"] == within["baseline_model"]).all()
    assert (within["confidence"] == 0.95).all()  # one loss against the baseline per model


def test_the_answer_and_verdicts_name_each_model(grid_run):
    answer = (grid_run / "summary.md").read_text()
    assert "use gbm over linear: better with every loss" in answer
    assert "gbm with mse" in answer and "linear with mse" in answer
    result = invoke(["show", grid_run])
    assert result.exit_code == 0, result.output
    assert "models (linear): test_rmse" in result.output
    assert "models (gbm): test_rmse" in result.output
    assert "gbm with mse is better than linear with mse on test_rmse" in result.output


def test_the_figure_has_one_panel_per_model_on_one_scale(grid_run):
    pytest.importorskip("matplotlib")
    from lossbench.report.figures import Palette
    from lossbench.report.kinds.fit import FitView

    summary = pd.read_csv(grid_run / "summary.csv")
    figures = FitView.figures("models", summary, None, Palette(list(summary["loss"])))
    figure = figures["fit-models"]
    axes = [ax for ax in figure.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["linear", "gbm"]
    assert axes[0].get_ylim() == axes[1].get_ylim()
    means = summary[summary["metric"] == FitView.headline(summary)]["mean"]
    low, high = axes[0].get_ylim()
    assert low <= means.min() and means.max() <= high


def test_a_grid_of_gbm_settings_names_what_differs_and_a_repeat_is_refused(tmp_path):
    from lossbench.experiments.kinds.fit import FitExperiment

    models = [{"kind": "gbm", "num_leaves": [7, 31]}, "linear"]
    raw = {"name": "m", "kind": "fit", "losses": ["mse"], "model": models}
    experiment = FitExperiment.model_validate(raw)
    assert experiment.model_names() == ["gbm(num_leaves=7)", "gbm(num_leaves=31)", "linear"]
    (tmp_path / "c.yaml").write_text(GRID.replace("MODEL", "[linear, linear]"))
    result = invoke(["run", "c.yaml", "--out", tmp_path / "out"], tmp_path)
    assert_refused(result, tmp_path / "out", "model linear is named twice")


def test_within_a_model_the_comparison_is_the_one_that_model_alone_gives(grid_run, tmp_path):
    alone, _ = _run(tmp_path, "{kind: gbm, n_estimators: 50}", "gbm")
    columns = ["loss", "baseline", "estimate", "low", "high", "p", "p_adjusted", "verdict"]
    theirs = pd.read_csv(alone / "comparisons.csv")[columns]
    mine = pd.read_csv(grid_run / "comparisons.csv")
    mine = mine[(mine["model"] == "gbm") & (mine["family"] != "models")][columns]
    pd.testing.assert_frame_equal(mine.reset_index(drop=True), theirs.reset_index(drop=True))
