"""Trials on a dask cluster: a LocalCluster of 2 workers on 127.0.0.1 gives the serial trials,
progress, survives a killed worker; an unreachable scheduler is one line and nothing written."""

import os
import signal
from importlib.util import find_spec

import pandas as pd
import pytest
from typer.testing import CliRunner

from lossbench import config as config_module
from lossbench import experiments
from lossbench.cli import app

pytestmark = [
    pytest.mark.slow,  # dask clusters of worker processes
    # the test extra installs it; found, not imported: collecting must not cost dask's import
    pytest.mark.skipif(find_spec("distributed") is None, reason="dask.distributed is absent"),
]


CONFIG = {
    "name": "c",
    "seed": 3,
    "trials": 4,
    "experiments": [
        {"name": "fit", "datasets": [{"kind": "gaussian", "n_samples": 300},
                                     {"kind": "cauchy", "n_samples": 300}],
         "losses": ["mse", {"name": "huber", "delta": 1.345}]},
        {"name": "p", "kind": "punishment", "losses": ["mse", "bce"]},
    ],
}  # fmt: skip


def _steady(trials):
    return trials[trials["metric"] != "fit_seconds"].reset_index(drop=True)  # wall time varies


def _difference(a, b):
    """Where two trial frames differ, for the failure message: rows per loss and metric."""
    counts = pd.concat([a.groupby(["loss", "metric"]).size(), b.groupby(["loss", "metric"]).size()],
                       axis=1, keys=["cluster", "serial"])  # fmt: skip
    return counts[counts["cluster"] != counts["serial"]].to_string()


@pytest.fixture(scope="module")
def serial():
    return _steady(experiments.run(config_module.validate(CONFIG)))


def test_a_local_cluster_gives_the_serial_trials_with_progress(serial):
    seen = []
    trials = experiments.run(config_module.validate(CONFIG), cluster="local:2",
                             progress=seen.append)  # fmt: skip
    units = len(experiments.tasks(config_module.validate(CONFIG)))
    assert _steady(trials).equals(serial)  # same rows, same order
    assert seen == list(range(1, units + 1))


def test_a_worker_killed_mid_run_loses_no_trial(serial):
    from lossbench.experiments.cluster import connect

    config = config_module.validate(CONFIG)
    units = experiments.tasks(config)
    with connect("local:2") as client:
        pids = sorted(client.run(os.getpid).values())
        killed = []

        def kill_one(done):
            if done == 2 and not killed:  # a worker dies while others' units are queued
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])

        trials = experiments.run_tasks(units, progress=kill_one, client=client)
    assert killed
    assert _steady(trials).equals(serial)  # none lost, none duplicated


def test_an_unreachable_scheduler_is_one_line_and_nothing_written(tmp_path):
    args = ["run", "--only", "experiments", "--cluster", "tcp://127.0.0.1:9"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "cannot reach the scheduler" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_a_bad_cluster_address_is_refused(tmp_path):
    result = CliRunner().invoke(app, ["run", "--cluster", "nowhere", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "expected a scheduler address" in result.output


def test_without_dask_the_cluster_option_is_one_line(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    result = CliRunner().invoke(app, ["run", "--cluster", "local:2", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "pip install 'lossbench[dask]'" in result.output


@pytest.fixture(scope="module")
def table_runs():
    """configs/my-data.yaml's folds serially and on a LocalCluster, and what was scattered."""
    from pathlib import Path

    from lossbench.experiments.cluster import connect

    root = Path(__file__).resolve().parents[1]
    config = config_module.load(root / "configs" / "my-data.yaml")
    config.experiments[0].cv.repeats = 2  # 6 folds, 6 units on the one table
    units = experiments.tasks(config)
    serial = _steady(experiments.run_tasks(units))
    with connect("local:2") as client:
        scatter, sent = client.scatter, []
        client.scatter = lambda data, **kw: sent.append(data) or scatter(data, **kw)
        trials = _steady(experiments.run_tasks(units, client=client))
    return units, serial, trials, sent


def test_table_data_is_scattered_once_and_gives_the_serial_rows(table_runs):
    units, serial, trials, sent = table_runs
    assert len(sent) == 1 and sent[0] is units[0].dataset  # once, not once per fold
    keys = ["experiment", "dataset", "loss", "trial", "metric"]
    assert trials[keys].equals(serial[keys]), _difference(trials, serial)


def test_table_data_on_a_cluster_gives_the_serial_values(table_runs):
    _, serial, trials, _ = table_runs
    assert trials.equals(serial), _difference(trials, serial)


def test_ctrl_c_on_a_cluster_run_cancels_and_leaves_no_worker(tmp_path):
    import json

    import psutil
    from helpers import start, wait_for

    (tmp_path / "c.yaml").write_text(
        "experiments:\n  - {name: a, datasets: [{kind: gaussian, n_samples: 3000}], "
        "losses: [mse, huber], trials: 400}\n"
    )
    process = start(["run", "c.yaml", "--out", "out", "--quiet", "--cluster", "local:2"], tmp_path)
    wait_for(lambda: list(tmp_path.glob("out/*/run.json")), "the run directory")

    def workers_busy():  # two worker processes have spent CPU time (imports, then trials)
        spent = []
        for child in psutil.Process(process.pid).children(recursive=True):
            try:
                spent.append(child.cpu_times().user)
            except psutil.NoSuchProcess:
                continue
        return len(spent) >= 2 and sorted(spent)[-2] > 0.5

    wait_for(workers_busy, "the cluster's workers to be busy")
    children = psutil.Process(process.pid).children(recursive=True)
    assert children  # the LocalCluster's processes
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    record = json.loads(next(tmp_path.glob("out/*/run.json")).read_text())
    assert record["status"] == "interrupted"
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, alive
