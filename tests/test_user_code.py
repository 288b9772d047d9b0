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


def _run_elsewhere(config: Path, text: str | None = None, args: tuple = ()) -> Path:
    """`lossbench run` of `config` (`text` written to it first, when given), in a fresh
    process (what it imports is not already in this one's modules) started in another
    directory; the run directory."""
    if text is not None:
        config.write_text(text)
    code = "import sys; from lossbench.cli import main; sys.argv[0] = 'lossbench'; main()"
    out = config.parent / "out"
    done = subprocess.run([sys.executable, "-c", code, "run", str(config), "--out", str(out),
                           "--quiet", *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "COLUMNS": "100"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    (run,) = out.iterdir()
    return run


@pytest.mark.slow  # fresh processes
def test_modules_beside_a_config_are_not_run(tmp_path):
    # what a run imports: numba always, joblib with --jobs 2, matplotlib with --report
    for module in ("numba", "joblib", "matplotlib", "pandas", "scipy"):
        (tmp_path / f"{module}.py").write_text(
            f"open({str(tmp_path / ('ran-' + module))!r}, 'w').close()\n"
        )
    run = _run_elsewhere(tmp_path / "c.yaml", "name: t\nexperiments:\n  - {name: fit, datasets: "
                         "[{kind: gaussian}], losses: [mse, huber], trials: 3}\n",
                         args=("--jobs", "2", "--report"))  # fmt: skip
    assert (run / "report.html").is_file()
    assert not list(tmp_path.glob("ran-*"))


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


_FAST_MSE = '''import numpy as np


def mse(y_true, y_pred):
    """mean squared error by a dot product"""
    for _ in range(REPEAT - 1):  # the slow copy's redundant work, the whole of it
        d = y_true - y_pred
        d @ d
    r = y_true - y_pred
    return r @ r / r.size


mse.loss = "mse"
mse.gradient = lambda y_true, y_pred: -2.0 * (y_true - y_pred) / y_true.size


def quartic(y_true, y_pred):
    r = y_true - y_pred
    for _ in range(REPEAT - 1):
        np.sum(r**4)
    return r**4
'''


def _kernel_folder(where: Path, repeat: int) -> Path:
    """A config beside a folder `kernels` holding a user loss and a user mse kernel that do
    their work `repeat` times."""
    (where / "kernels").mkdir(parents=True)
    (where / "kernels" / "__init__.py").write_text("")
    (where / "kernels" / "fast.py").write_text(_FAST_MSE.replace("REPEAT", str(repeat)))
    config = where / "c.yaml"
    config.write_text(
        "name: t\nexperiments: []\ntiming: {losses: [mse, 'kernels.fast:quartic'], ops: "
        "[value], impls: [numpy, 'kernels.fast:mse'], sizes: [100000], pyperf: {processes: 4,"
        " values: 3, warmups: 1}}\n"
    )
    return config


def test_a_user_implementation_is_checked_against_numpy_before_it_is_timed(tmp_path):
    from lossbench.config import Timing
    from lossbench.timing import planning as driver

    config = _kernel_folder(tmp_path, 1)
    with user.searched([config.parent]):
        chosen = Timing(losses=["mse", "huber"], ops=["value", "gradient"],
                        impls=["numpy", "kernels.fast:mse"], sizes=[1000])  # fmt: skip
        planned = driver.plan(chosen)
    mine = [b for b in planned.benchmarks if b.impl == "kernels.fast:mse"]
    # mse only (its declared loss), value and gradient (the function and its attribute)
    assert {(b.loss, b.op) for b in mine} == {("mse", "value"), ("mse", "gradient")}
    assert all(type(b).parse(b.name) == b for b in planned.benchmarks)
    (tmp_path / "kernels" / "wrong.py").write_text(
        "def mse(y_true, y_pred):\n    return float(((y_true - y_pred) ** 2).sum())\n\n\n"
        "mse.loss = 'mse'\n"
    )
    with user.searched([tmp_path]), pytest.raises(LossbenchError, match="does not compute"):
        driver.plan(Timing(losses=["mse"], impls=["kernels.wrong:mse"], sizes=[1000]))


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def mse(y_true, y_pred):\n    return 0.0\n", "must say which built-in loss"),
        ("def mse(y_true, y_pred):\n    return 0.0\nmse.loss = 'huber'\n", "add huber there"),
        ("def mse(y_true, y_pred):\n    return [1, 2]\nmse.loss = 'mse'\n", "must return a number"),
        ("def mse(y_true, y_pred):\n    raise OSError('no')\nmse.loss = 'mse'\n", "raised OSError"),
    ],
)
def test_user_implementation_mistakes_are_said_with_the_fix(tmp_path, source, message):
    from lossbench.config import Timing
    from lossbench.timing import planning as driver

    module = f"lb_impl_mistake_{message.split()[-1]}"  # one module name per case
    (tmp_path / f"{module}.py").write_text(source)
    with user.searched([tmp_path]), pytest.raises(LossbenchError, match=message):
        driver.plan(Timing(losses=["mse"], impls=[f"{module}:mse"], sizes=[1000]))


def test_benchmark_names_with_a_user_implementation_read_back():
    from lossbench.timing.bench import Benchmark

    for bench in [
        Benchmark(
            "huber(delta=1.345)", "value_and_gradient", "my.kernels.fast:huber", "float32", 7
        ),
        Benchmark("mse", "value", "kernels:mse", "float64", 1000),
        Benchmark("a.b:c(x=1.5)", "gradient", "numpy", "float64", 10),
    ]:
        assert Benchmark.parse(bench.name) == bench


@pytest.mark.slow  # timing worker processes
def test_two_copies_of_a_kernel_folder_differing_in_speed_compare_as_slower(tmp_path):
    import json

    base = _run_elsewhere(_kernel_folder(tmp_path / "base", 1))
    # ten times the work: decisive even beside the other tests' processes (xdist)
    head = _run_elsewhere(_kernel_folder(tmp_path / "head", 10))
    timed = pd.read_csv(head / "timings.csv").set_index("benchmark")
    mine = ["kernels.fast:quartic.value.numpy.float64.100000",
            "mse.value.kernels.fast:mse.float64.100000"]  # fmt: skip
    assert set(mine) <= set(timed.index)
    result = runner.invoke(app, ["compare", str(base), str(head), "--format", "json"])
    assert result.exit_code == 1, result.output
    verdicts = {row["benchmark"]: row["verdict"] for row in json.loads(result.output)}
    assert [verdicts[name] for name in mine] == ["slower", "slower"]
