"""`lossbench run`, `show`, `init`: files per contract, reproducibility, errors, interrupts."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from lossbench import config as config_module
from lossbench.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
TRIALS_COLUMNS = ["experiment", "dataset", "loss", "trial", "metric", "value"]
SUMMARY_COLUMNS = [
    "experiment",
    "dataset",
    "loss",
    "metric",
    "n",
    "mean",
    "std",
    "ci_low",
    "ci_high",
]

COMPARISON_COLUMNS = [
    "experiment", "kind", "dataset", "x", "metric", "loss", "baseline", "estimate", "low",
    "high", "p", "p_adjusted", "verdict", "n",
]  # fmt: skip

SMALL = """\
name: small
seed: 3
trials: 3
experiments:
  - name: robustness
    datasets: [{kind: gaussian, n_samples: 80}, {kind: cauchy, n_samples: 80}]
    losses: [mse, huber]
  - name: punishment
    kind: punishment
    losses: [mse, bce]
"""


def _run(args, **kwargs):
    result = runner.invoke(app, args, env={"COLUMNS": "200"}, **kwargs)
    return result


def _results_dir(output: str) -> Path:
    last = output.strip().splitlines()[-1]
    assert last.startswith("results: "), output
    return Path(last.removeprefix("results: "))


def _comparable(trials: pd.DataFrame) -> pd.DataFrame:
    return trials[trials["metric"] != "fit_seconds"].reset_index(drop=True)  # wall time


@pytest.mark.slow  # two whole runs with real timing workers
def test_quick_run_end_to_end_files_per_contract_and_rerun_reproduces(tmp_path):
    result = _run(["run", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    run_dir = _results_dir(result.output)
    assert run_dir.parent == tmp_path and run_dir.name.endswith("-default")
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "comparisons.csv",
        "config.yaml",
        "run.json",
        "summary.csv",
        "summary.md",
        "timings.csv",
        "timings.pyperf.json",
        "trials.csv",
    ]
    record = json.loads((run_dir / "run.json").read_text())
    assert (
        record["status"] == "complete"
        and record["name"] == "default"
        and record["id"] == run_dir.name
    )
    for key in ("started", "finished", "lossbench", "command", "host", "python", "packages"):
        assert record[key], key
    assert record["host"]["cores"] >= 1 and record["packages"]["numpy"]
    trials = pd.read_csv(run_dir / "trials.csv")
    summary = pd.read_csv(run_dir / "summary.csv")
    assert list(trials.columns[:6]) == TRIALS_COLUMNS
    assert list(summary.columns[:9]) == SUMMARY_COLUMNS
    comparisons = pd.read_csv(run_dir / "comparisons.csv")
    assert list(comparisons.columns[:14]) == COMPARISON_COLUMNS
    assert set(comparisons["verdict"]) <= {"better", "worse", "equivalent", "inconclusive"}
    assert (comparisons["baseline"] == "mse").any() and (comparisons["n"] == 5).all()
    assert set(trials["experiment"]) == {
        "robustness",
        "classification",
        "punishment",
        "influence",
        "landscape",
    }
    assert "huber(delta=1.345, scale=mad)" in set(trials["loss"]) and "student_t(df=3)" in set(
        trials["dataset"]
    )
    # 5 trials: too few to bootstrap medians (cauchy's statistic), and the verdict says so
    assert (
        "cauchy: huber(delta=1.345, scale=mad) vs mse on coef_error is inconclusive"
        in result.output
    )
    assert "trials are needed for a verdict here" in result.output

    again = _run(
        [
            "run",
            str(run_dir / "config.yaml"),
            "--only",
            "experiments",
            "--out",
            str(tmp_path / "again"),
        ]
    )
    assert again.exit_code == 0, again.output
    rerun = pd.read_csv(_results_dir(again.output) / "trials.csv")
    pd.testing.assert_frame_equal(_comparable(rerun), _comparable(trials))


def test_the_embedded_default_is_configs_default_yaml():
    assert config_module.default_text() == (ROOT / "configs" / "default.yaml").read_text()


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "configs").glob("*.yaml")))
def test_every_example_config_is_valid(name):
    from lossbench import experiments

    assert experiments.tasks(config_module.load(ROOT / "configs" / name))


def test_run_options_set_seed_name_jobs_quiet(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    args = ["run", str(path), "--out", str(tmp_path / "r"), "--set", "experiments.0.trials=2",
            "--set", "name=other", "--seed", "11", "--jobs", "2", "--quiet"]  # fmt: skip
    result = _run(args)
    assert result.exit_code == 0, result.output
    assert result.output.count("\n") == 1  # --quiet: just the last line
    run_dir = _results_dir(result.output)
    assert run_dir.name.endswith("-other")
    resolved = config_module.load(run_dir / "config.yaml")
    assert resolved.seed == 11 and resolved.experiments[0].trials == 2 and resolved.name == "other"
    assert set(pd.read_csv(run_dir / "trials.csv")["trial"]) == {0, 1}


def test_names_are_sanitized_and_runs_never_overwrite(tmp_path):
    out = tmp_path / "out"
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    dirs = []
    for _ in range(2):
        result = _run(["run", str(path), "--out", str(out), "--name", "../../escape me", "--quiet"])
        assert result.exit_code == 0, result.output
        dirs.append(_results_dir(result.output))
    assert dirs[0] != dirs[1]
    for d in dirs:
        assert d.parent == out and "escape-me" in d.name and ".." not in d.name


def test_show_re_renders_the_newest_run_and_a_named_one(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    ran = _run(["run", str(path), "--out", str(tmp_path)])
    assert ran.exit_code == 0, ran.output
    shown = _run(["show", "--out", str(tmp_path)])
    assert shown.exit_code == 0, shown.output
    assert (
        "cauchy: huber(delta=1.0, scale=mad) vs mse on coef_error is inconclusive" in shown.output
    )
    assert "robustness: coef_error" in shown.output and "punishment" in shown.output
    named = _run(["show", str(_results_dir(ran.output))])
    assert named.exit_code == 0 and "vs mse on coef_error is inconclusive" in named.output


def test_init_writes_a_commented_config_and_refuses_to_overwrite(tmp_path):
    path = tmp_path / "mine.yaml"
    result = _run(["init", str(path)])
    assert result.exit_code == 0, result.output
    assert path.read_text().startswith("#") and config_module.load(path).experiments
    again = _run(["init", str(path)])
    assert again.exit_code == 2
    assert "exists" in again.output and "Traceback" not in again.output


CONFIG_ERRORS = [
    ("name: x\nexperiments: [\n", r"bad.yaml: .* at line 3"),
    ("- a\n- b\n", r"bad.yaml: expected a mapping of settings; got list"),
    ("trials: many\n", r"bad.yaml: trials: Input should be a valid integer.*; got 'many'"),
    ("trials: 0\n", r"bad.yaml: trials: Input should be greater than 0; got 0"),
    ("tirals: 3\n", r"bad.yaml: tirals: unknown setting"),
    ("experiments:\n  - {name: e, kind: fitt, losses: [mse]}\n",
     r"bad.yaml: experiments\[0\].kind: Input should be 'fit'"),
    ("experiments:\n  - {name: e, losses: [mse], datasets: [{kind: gausian}]}\n",
     r"experiments\[0\].datasets\[0\].kind: unknown dataset 'gausian'"),
    ("experiments:\n  - {name: e, losses: [msee], datasets: [{kind: gaussian}]}\n",
     r"experiments\[0\].losses\[0\]: unknown loss 'msee' \(did you mean 'mse'\?\)"),
    ("experiments:\n- {name: e, losses: [{name: huber, delta: -1}], datasets: [{kind: laplace}]}\n",
     r"experiments\[0\].losses\[0\]: huber: delta must be a number in .*; got -1"),
    ("experiments:\n  - {name: e, losses: [mse], datasets: [{kind: student_t, df: 0}]}\n",
     r"experiments\[0\].datasets\[0\].df: expected a number > 0; got 0"),
    ("experiments:\n  - {name: e, kind: influence, losses: [mse], datasets: [{kind: logistic}]}\n",
     r"experiments\[0\].datasets\[0\]: influence needs a regression dataset; logistic is"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), CONFIG_ERRORS)
def test_config_mistakes_exit_2_with_file_and_field_and_leave_no_directory(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    out = tmp_path / "out"
    result = _run(["run", str(path), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    import re

    assert re.search(message, result.output.replace("\n", " ")), result.output
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["run", "missing.yaml"],
            r"missing.yaml: no such config file \(try `lossbench init missing.yaml`\)",
        ),
        (["run", "--set", "trials"], r"--set 'trials': expected KEY=VALUE"),
        (["run", "--set", "experiments.7.trials=2"], r"experiments has no item '7' \(it has 5\)"),
        (["run", "--set", "trials=[1"], r"--set 'trials=\[1': expected .* at line 1, column 3"),
        (["run", "--set", "seed.x=1"], r"seed is a value, not a section"),
        (["run", "--jobs", "0"], r"--jobs must be at least 1; got 0"),
        (["show", "nowhere"], r"nowhere: not a lossbench run directory"),
    ],
)
def test_cli_mistakes_exit_2_with_one_line(tmp_path, args, message):
    import re

    result = _run([*args, "--out", str(tmp_path / "out")] if args[0] == "run" else args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert re.search(message, result.output.replace("\n", " ")), result.output


def test_show_without_runs_says_how_to_make_one(tmp_path):
    result = _run(["show", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "lossbench run" in result.output


def test_debug_shows_the_traceback(tmp_path):
    result = _run(["--debug", "run", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2 and "Traceback" in result.output


def test_a_run_that_fails_midway_keeps_its_directory_marked_failed(tmp_path, monkeypatch):
    from lossbench import experiments
    from lossbench import runner as run_module

    real = experiments.run_tasks
    calls = []

    def second_one_breaks(units, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("a bug in the second experiment")
        return real(units, **kwargs)

    monkeypatch.setattr(experiments, "run_tasks", second_one_breaks)
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    with pytest.raises(RuntimeError, match="second experiment"):
        run_module.execute(run_module.resolve(path), tmp_path / "out")
    (run_dir,) = (tmp_path / "out").iterdir()
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "failed" and record["experiments_finished"] == 1
    assert set(pd.read_csv(run_dir / "trials.csv")["experiment"]) == {"robustness"}


@pytest.mark.slow  # a subprocess
def test_help_is_fast_and_imports_nothing_heavy():
    heavy = "('numba', 'pandas', 'scipy')"
    code = f"import sys, lossbench.cli; print(sorted(m for m in {heavy} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ}
    )
    assert result.stdout.strip() == "[]", result.stderr


def test_show_of_a_run_that_stopped_before_any_result(tmp_path):
    run_dir = tmp_path / "20260101-000000-killed"
    run_dir.mkdir()
    (run_dir / "run.json").write_text('{"id": "killed", "status": "running"}')
    result = _run(["show", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert "no finished experiment recorded" in result.output
    assert result.output.strip().splitlines()[-1] == f"results: {run_dir}"


def test_an_explicit_set_wins_over_quick(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    result = _run(["run", str(path), "--quick", "--set", "experiments.0.trials=4", "--out",
                   str(tmp_path), "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    trials = pd.read_csv(_results_dir(result.output) / "trials.csv")
    assert trials.groupby("experiment")["trial"].nunique()["robustness"] == 4
