"""User code is imported from the config's directory only where the config names it."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from lossbench import LossbenchError, losses
from lossbench.cli import app
from lossbench.losses import user

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _run_elsewhere(config: Path, text: str) -> Path:
    """`lossbench run` of `text` written to `config`, in a fresh process (what it imports is
    not already in this one's modules) started in another directory; the run directory."""
    config.write_text(text)
    code = "import sys; from lossbench.cli import main; sys.argv[0] = 'lossbench'; main()"
    out = config.parent / "out"
    done = subprocess.run([sys.executable, "-c", code, "run", str(config), "--out", str(out),
                           "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "COLUMNS": "100"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    (run,) = out.iterdir()
    return run


@pytest.mark.slow  # fresh processes
def test_a_numba_py_beside_a_config_is_not_run(tmp_path):
    (tmp_path / "numba.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w').close()\n")
    _run_elsewhere(tmp_path / "c.yaml", "name: t\nexperiments:\n  - {name: fit, datasets: "
                   "[{kind: gaussian}], losses: [mse, huber], trials: 3}\n")  # fmt: skip
    assert not (tmp_path / "ran").exists()


@pytest.mark.slow  # timing worker processes
def test_a_user_kernel_in_a_folder_beside_its_config_is_timed_from_elsewhere(tmp_path):
    (tmp_path / "kernels").mkdir()
    (tmp_path / "kernels" / "__init__.py").write_text("")
    (tmp_path / "kernels" / "quartic.py").write_text(
        "def quartic(y_true, y_pred):\n    return (y_true - y_pred) ** 4\n"
    )
    run = _run_elsewhere(
        tmp_path / "c.yaml",
        "name: t\nexperiments: []\ntiming: {losses: [mse, 'kernels.quartic:quartic'], ops: "
        "[value], impls: [numpy], sizes: [1000], pyperf: {processes: 2, values: 2, warmups: 0}}\n",
    )
    timed = pd.read_csv(run / "timings.csv")
    assert "kernels.quartic:quartic" in set(timed["loss"])


def test_a_user_loss_runs_in_worker_processes_from_elsewhere(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # not the config's directory: workers must find it by the config
    (tmp_path / "lb_workers_cubed.py").write_text(
        "import numpy as np\n\n\ndef cubed(y_true, y_pred):\n"
        "    return np.abs(y_true - y_pred) ** 3\n"
    )
    (tmp_path / "c.yaml").write_text(
        "name: t\nexperiments:\n  - {name: fit, datasets: [{kind: gaussian}], trials: 4,"
        " losses: [mse, 'lb_workers_cubed:cubed']}\n"
    )
    result = runner.invoke(app, ["run", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "o"),
                                 "--jobs", "2", "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "o").iterdir()
    assert "lb_workers_cubed:cubed" in set(pd.read_csv(run / "trials.csv")["loss"])


def test_a_file_named_like_a_loaded_module_is_refused_with_the_fix(tmp_path):
    (tmp_path / "json.py").write_text("def f(y_true, y_pred):\n    return y_true - y_pred\n")
    with user.searched([tmp_path]), pytest.raises(LossbenchError, match="rename the file"):
        losses.get("json:f")


def test_the_search_directories_are_on_sys_path_only_during_the_import(tmp_path):
    (tmp_path / "lb_scoped_loss.py").write_text(
        "def f(y_true, y_pred):\n    return (y_true - y_pred) ** 2\n"
    )
    before = list(sys.path)
    with user.searched([tmp_path]):
        loss = losses.get("lb_scoped_loss:f")
    assert sys.path == before and loss.name == "lb_scoped_loss:f"
    # a worker rebuilds it by name from the same directories
    import pickle

    again = pickle.loads(pickle.dumps(loss))
    assert again._search == (str(tmp_path.resolve()),)
