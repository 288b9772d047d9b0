"""Kinds are registries: a kind defined here, and only here, runs through `lossbench run`."""

import math
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from lossbench import LossbenchError, losses
from lossbench.cli import app
from lossbench.experiments import DATASETS, KINDS, ExperimentKind, Task, register
from lossbench.experiments import datasets as datasets_module
from lossbench.experiments.datasets import Dataset, Param, Sample
from lossbench.report import kinds as views
from lossbench.report.kinds import View, figure_name
from lossbench.timing.bench import Benchmark

runner = CliRunner()


class Wave(Dataset):
    """A toy real-data stand-in: y = sin(x) + noise, with no true coefficients known."""

    kind = "wave"
    summary = "a sine wave with noise (test-only)"
    truth = False
    parameters: ClassVar[dict[str, Param]] = {
        "n_samples": Param(80, 2, 10_000, "an integer ≥ 2", integer=True),
        "amplitude": Param(1.0, 0.0, 100.0, "a number in [0, 100]"),
    }
    shown = ("amplitude",)

    def sample(self, rng):
        x = rng.uniform(-3, 3, (self.params["n_samples"], 1))
        x_test = rng.uniform(-3, 3, (50, 1))
        amplitude = self.params["amplitude"]
        y = amplitude * np.sin(x[:, 0]) + 0.1 * rng.standard_normal(len(x))
        return Sample(x, y, x_test, y_test=amplitude * np.sin(x_test[:, 0]))


class Spread(ExperimentKind):
    """A toy kind: the spread of each loss's residuals on the data, scaled."""

    kind: Literal["spread"] = "spread"
    scale: float = 1.0

    def run_task(self, task: Task) -> list[dict[str, Any]]:
        sample = task.dataset.sample(task.rng())
        centre = np.median(sample.y)
        rows = []
        for loss in task.losses:
            value = loss.value(sample.y, np.full_like(sample.y, centre))
            rows.append(task.row(str(loss), "spread", self.scale * value))
        return rows

    @classmethod
    def headline(cls, frame):
        return "spread"


class SpreadView(View):
    """How the toy kind reads: its own table, a sentence and a figure."""

    kind = "spread"

    @classmethod
    def render(cls, experiment, frame, comparisons):
        from rich.table import Table

        table = Table(title=f"{experiment}: toy")
        table.add_column("loss")
        table.add_column("spread")
        for row in frame.itertuples():
            table.add_row(row.loss, f"{row.mean:.3f}")
        return [table, *cls.verdicts(frame, comparisons)]

    @classmethod
    def verdicts(cls, frame, comparisons):
        return [f"toy verdict: {len(frame)} losses spread"]

    @classmethod
    def figures(cls, experiment, frame, trials, palette):
        from lossbench.report.figures import new_figure

        figure, (ax,) = new_figure()
        ax.bar(frame["loss"], frame["mean"], color=[palette(loss) for loss in frame["loss"]])
        ax.set(title="toy spread", xlabel="loss", ylabel="spread")
        return {figure_name(cls.kind, experiment): figure}


@pytest.fixture
def toy_kinds():
    datasets_module.register(Wave)
    register(Spread)
    yield
    DATASETS.pop("wave")
    KINDS.pop("spread")


@pytest.fixture
def toy_view(toy_kinds):
    views.register(SpreadView)
    yield
    views.VIEWS.pop("spread")


def test_a_kind_without_a_view_prints_its_headline_table(tmp_path, toy_kinds):
    config = tmp_path / "toy.yaml"
    config.write_text(
        "name: toy\ntrials: 3\nexperiments:\n"
        "  - {name: waves, kind: spread, losses: [mse, mae], datasets: [{kind: wave}]}\n"
    )
    result = runner.invoke(app, ["run", str(config), "--out", str(tmp_path)],
                           env={"COLUMNS": "200"})  # fmt: skip
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())  # the title wraps to the table's width
    assert "waves: spread (mean [95% CI], lower better)" in flat
    assert "mae" in flat and "wave(amplitude=1)" in flat


def test_a_kind_and_a_dataset_defined_in_a_test_run_end_to_end(tmp_path, toy_view):
    config = tmp_path / "toy.yaml"
    config.write_text(
        "name: toy\ntrials: 3\nexperiments:\n"
        "  - {name: waves, kind: spread, scale: 2.0, losses: [mse, mae],\n"
        "     datasets: [{kind: wave, amplitude: [1, 3]}]}\n"
        "  - {name: fitted, losses: [mse, huber], datasets: [{kind: wave}]}\n"
    )
    result = runner.invoke(
        app, ["run", str(config), "--out", str(tmp_path), "--report"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "waves: toy " in result.output and "toy verdict: 4 losses" in result.output
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    trials = pd.read_csv(run_dir / "trials.csv")
    waves = trials[trials["experiment"] == "waves"]
    assert set(waves["kind"]) == {"spread"} and set(trials["kind"]) == {"spread", "fit"}
    assert set(waves["dataset"]) == {"wave(amplitude=1)", "wave(amplitude=3)"}
    # the kind's own option reached its run: the scaled mse of 3 sin(x) around its median
    big = waves[(waves["dataset"] == "wave(amplitude=3)") & (waves["loss"] == "mse")]
    assert big["value"].between(2 * 3, 2 * 9 * 0.7).all()
    # a fit on data without truth: coef_error is n/a with the reason; judged on both errors
    fitted = trials[trials["experiment"] == "fitted"]
    coef = fitted[fitted["metric"] == "coef_error"]
    assert coef["value"].isna().all() and coef["note"].str.contains("true parameters").all()
    assert fitted.loc[fitted["metric"] == "test_mae", "value"].notna().all()
    assert "fitted: test_rmse (mean [95% CI]" in result.output
    assert "huber(delta=1.0, scale=mad) vs mse on test_mae" in result.output
    page = (run_dir / "report.html").read_text()
    assert "toy verdict: 4 losses spread" in page
    assert (run_dir / "plots" / "spread-waves.png").stat().st_size > 5_000
    assert (run_dir / "plots" / "fit-fitted.png").is_file()
    shown = runner.invoke(app, ["show", str(run_dir)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0 and "waves: toy " in shown.output


def test_an_unknown_kind_names_the_registered_ones(tmp_path, toy_kinds):
    config = tmp_path / "bad.yaml"
    config.write_text("experiments:\n  - {name: e, kind: sprad, losses: [mse]}\n")
    result = runner.invoke(app, ["run", str(config), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "experiments[0].kind" in result.output and "'spread'" in result.output


def test_influence_refuses_data_without_truth(tmp_path, toy_kinds):
    config = tmp_path / "bad.yaml"
    config.write_text(
        "experiments:\n  - {name: e, kind: influence, losses: [mse], datasets: [{kind: wave}]}\n"
    )
    result = runner.invoke(app, ["run", str(config), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "experiments[0].datasets[0]: influence needs data with known true" in result.output


def test_a_run_written_without_the_kind_column_reads_as_before(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(
        "name: c\ntrials: 3\nexperiments:\n"
        "  - {name: r, datasets: [{kind: cauchy, n_samples: 80}], losses: [mse, huber]}\n"
        "  - {name: p, kind: punishment, losses: [mse, bce]}\n"
        "  - {name: i, kind: influence, losses: [mse], offsets: [0, 10]}\n"
        "  - {name: l, kind: landscape, losses: [mse], starts: 4}\n"
    )
    ran = runner.invoke(app, ["run", str(config), "--out", str(tmp_path)], env={"COLUMNS": "200"})
    assert ran.exit_code == 0, ran.output
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    for name in ("trials.csv", "summary.csv"):
        frame = pd.read_csv(run_dir / name)
        frame.drop(columns=["kind"]).to_csv(run_dir / name, index=False)
    shown = runner.invoke(app, ["show", str(run_dir)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    tables = ran.output[: ran.output.rindex("results: ")]
    assert tables in shown.output  # the same tables and verdicts as when it ran


def test_implementations_say_what_they_cover():
    from lossbench.losses import impls

    mse, huber = losses.get("mse"), losses.get("huber")
    assert impls.get("fused").supports(mse, "gradient") and impls.get("seed").supports(mse, "value")
    assert not impls.get("seed").supports(huber, "value")
    assert not impls.get("scipy").supports(losses.get("huber"), "gradient")
    assert losses.IMPLS == impls.own() == ("numpy", "fused")
    with pytest.raises(LossbenchError, match="impl"):
        mse.value(np.ones(2), np.zeros(2), impl="torch")  # a timing peer, not a loss impl


@given(
    loss=st.from_regex(r"[a-z_]{1,8}(\([a-z]+=[0-9]+\.[0-9]+\))?", fullmatch=True),
    op=st.sampled_from(["value", "gradient", "value_and_gradient"]),
    impl=st.sampled_from(["numpy", "fused", "torch"]),
    dtype=st.sampled_from(["float32", "float64"]),
    n=st.integers(1, 10**9),
)
def test_a_benchmark_name_parses_back_to_itself(loss, op, impl, dtype, n):
    bench = Benchmark(loss, op, impl, dtype, n)
    assert Benchmark.parse(bench.name) == bench


@pytest.mark.parametrize(
    ("name", "task"),
    [("mse", "regression"), ("huber", "regression"), ("mse", "classification"),
     ("huber", "classification"), ("bce", "classification"), ("bce_logits", "classification")],
)  # fmt: skip
def test_the_link_chain_rule_matches_finite_differences(name, task):
    loss = losses.get(name)
    link = loss.link(task)
    rng = np.random.default_rng(0)
    z = rng.uniform(-3, 3, 20)
    y = (rng.random(20) < 0.5).astype(float) if task == "classification" else rng.normal(0, 2, 20)

    def total(zs):
        return loss.value(y, link(zs), reduction="sum")

    u = link(z)
    dz = link.chain(loss.gradient(y, u, reduction="sum"), u)
    h = 1e-6
    numeric = [(total(z + h * e) - total(z - h * e)) / (2 * h) for e in np.eye(20)]
    np.testing.assert_allclose(dz, numeric, rtol=1e-6, atol=1e-8)


@given(st.floats(1e-12, 1 - 1e-12))
def test_a_links_probability_maps_back_through_the_sigmoid(p):
    assert losses.SIGMOID.from_probability(p) == p
    z = losses.IDENTITY.from_probability(p)  # the logit
    assert math.isclose(losses.SIGMOID(np.array([z]))[0], p, rel_tol=1e-9)
