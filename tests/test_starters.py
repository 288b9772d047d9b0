"""`lossbench init --table` and `lossbench init --ci`: each starter is tested by running what
it wrote."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lossbench.starters import table

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _houses(path, rows=200):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "area": rng.uniform(40, 200, rows).round(1),
        "district": rng.choice(["north", "south", "east"], rows),
        "year": rng.integers(1950, 2020, rows).astype(float),
        "lot": rng.integers(100, 900, rows).astype(str),
        "listing": [f"id{i}" for i in range(rows)],
    })  # fmt: skip
    frame.loc[[2, 9], "year"] = np.nan
    frame.loc[[3, 17], "lot"] = "?"  # stray text in a numeric column
    frame["price"] = 2000 * frame.area + rng.standard_t(3, rows) * 20000
    frame.to_csv(path, index=False)
    return path


def test_a_table_starter_describes_the_columns_and_its_config_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    _houses(tmp_path / "data" / "houses.csv")
    result = invoke(["init", "--table", "data/houses.csv", "--target", "price", "my.yaml"])
    assert result.exit_code == 0, result.output
    assert "200 rows, regression" in result.output
    written = (tmp_path / "my.yaml").read_text()
    said = {line.split()[1]: line for line in written.splitlines() if line.startswith("#   ")}
    assert "regression" in said["price"] and "one-hot" in said["district"]
    assert "2 missing" in said["year"] and "'?'" in said["lot"] and "left out" in said["listing"]
    config = yaml.safe_load(written)
    dataset = config["experiments"][0]["datasets"][0]
    assert dataset == {"kind": "table", "path": "data/houses.csv", "target": "price",
                       "exclude": ["lot"], "missing": "drop"}  # fmt: skip
    assert config["experiments"][0]["score"] == ["test_rmse", "test_mae"]
    run = invoke(["run", "my.yaml", "--quick", "--out", "runs", "--only", "experiments"])
    assert run.exit_code == 0, run.output
    (directory,) = (tmp_path / "runs").iterdir()
    trials = pd.read_csv(directory / "trials.csv")
    assert set(trials.loss) == {"mse", "huber(delta=1.345, scale=mad)", "mae"}
    assert "2 rows with missing values dropped" in run.output


@pytest.mark.parametrize(
    ("labels", "task", "losses"),
    [(["yes", "no"], "classification", ["bce_logits", "mse"]),
     (["cat", "dog", "fox"], "multiclass", ["cross_entropy", "mse"])],
)  # fmt: skip
def test_class_targets_get_their_task_and_losses_and_run(tmp_path, monkeypatch, labels, task,
                                                         losses):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((150, 2))
    codes = np.digitize(x[:, 0] + rng.standard_normal(150), np.linspace(-1, 1, len(labels) - 1))
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "label": np.array(labels)[codes]})
    frame.to_csv("t.csv", index=False)
    assert invoke(["init", "--table", "t.csv", "--target", "label"]).exit_code == 0
    config = yaml.safe_load((tmp_path / "lossbench.yaml").read_text())
    assert config["experiments"][0]["losses"] == losses
    run = invoke(["run", "lossbench.yaml", "--quick", "--out", "runs"])
    assert run.exit_code == 0, run.output
    (directory,) = (tmp_path / "runs").iterdir()
    assert set(pd.read_csv(directory / "trials.csv").loss) == set(losses)
    assert task in (tmp_path / "lossbench.yaml").read_text()


_NAMES = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1,
                 max_size=12).filter(lambda s: s.strip() == s and s not in {"y", "x"})  # fmt: skip


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(target=_NAMES, feature=_NAMES, file=_NAMES)
def test_any_names_read_back_as_themselves(tmp_path_factory, target, feature, file):
    """Whatever the column and file names (quotes, colons, '#', 'true', digits, newlines), the
    config reads back with exactly those names, and its comments stay comments."""
    if target == feature or "/" in file or "\0" in file or file in {".", ".."}:
        return
    directory = tmp_path_factory.mktemp("names")
    path = directory / f"{file}.csv"
    try:
        pd.DataFrame({feature: np.arange(30.0), target: np.arange(30.0) % 7}).to_csv(
            path, index=False
        )
    except OSError:  # a name this file system refuses
        return
    if list(pd.read_csv(path).columns) != [feature, target]:
        return  # pandas itself reads the header otherwise (a newline in a name, say)
    starter = table.describe(path, target)
    config = yaml.safe_load(starter.config(directory / "c.yaml"))
    dataset = config["experiments"][0]["datasets"][0]
    assert (dataset["target"], dataset["path"]) == (target, path.name)
    assert isinstance(config["name"], str) and config["name"]


@pytest.mark.parametrize(
    ("args", "said"),
    [(["--table", "t.csv"], "go together"),
     (["--target", "y"], "go together"),
     (["--table", "none.csv", "--target", "y"], "no such file"),
     (["--table", "t.csv", "--target", "nope"], "has no column 'nope'"),
     (["--table", "t.csv", "--target", "c"], "one value only"),
     (["--table", "t.csv", "--target", "y", "--ci", "m:f"], "give one"),
     (["--ci", "not a spec"], "expected package.module:function"),
     (["--ci", "nosuchmodule:f"], "nosuchmodule"),
     (["--table", "t.csv", "--target", "y", "sub/c.yaml"], "no such directory")],
)  # fmt: skip
def test_starter_mistakes_are_one_line_and_write_nothing(tmp_path, monkeypatch, args, said):
    monkeypatch.chdir(tmp_path)
    pd.DataFrame({"x": np.arange(20.0), "y": np.arange(20.0) ** 2, "c": 1}).to_csv(
        "t.csv", index=False
    )
    result = invoke(["init", *args])
    assert result.exit_code == 2, result.output
    assert said in result.output and len(result.output.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]


def test_a_starter_never_overwrites(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _houses(tmp_path / "h.csv", rows=40)
    (tmp_path / "lossbench.yaml").write_text("mine")
    result = invoke(["init", "--table", "h.csv", "--target", "price"])
    assert result.exit_code == 2 and "exists" in result.output
    assert (tmp_path / "lossbench.yaml").read_text() == "mine"
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "lossbench.yml").write_text("theirs")
    (tmp_path / "kern.py").write_text("def f(y_true, y_pred):\n    return (y_pred - y_true) ** 2\n")
    result = invoke(["init", "--ci", "kern:f"])
    assert result.exit_code == 2 and "lossbench.yml exists" in result.output
    assert not (tmp_path / "lossbench-ci.yaml").exists()  # all or nothing


_KERNEL = """\
def squared(y_true, y_pred):
    r = y_pred - y_true{extra}
    return r * r


def _gradient(y_true, y_pred):
    return 2.0 * (y_pred - y_true)


squared.gradient = _gradient
"""


def _git(*args, cwd) -> str:
    return subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip


@pytest.mark.slow
def test_the_ci_starter_s_workflow_fails_a_slower_kernel_and_passes_the_same(tmp_path):
    """The workflow `init --ci` writes, its steps run as GitHub would run them (the checkout
    and setup actions aside; pip and sudo as no-ops: lossbench and valgrind are here): the
    gate fails a head whose kernel does a redundant pass. (That identical code passes, one
    process a side, is `test_compare`'s and `test_timing`'s to show: counting takes a minute.)"""
    if not shutil.which("valgrind"):
        pytest.skip("valgrind is not installed (apt-get install valgrind)")
    repo = tmp_path / "repo"
    (repo / "mypkg").mkdir(parents=True)
    (repo / "mypkg" / "__init__.py").write_text("")
    (repo / "mypkg" / "kernels.py").write_text(_KERNEL.format(extra=""))
    command = [sys.executable, "-m", "lossbench.cli", "init", "--ci", "mypkg.kernels:squared"]
    result = subprocess.run(command, cwd=repo, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    # the timing config itself runs as written (quick: the workflow's runs are below)
    quick = subprocess.run([sys.executable, "-m", "lossbench.cli", "run", "lossbench-ci.yaml",
                            "--only", "timing", "--quick", "--out", str(tmp_path / "q")],
                           cwd=repo, capture_output=True, text=True)  # fmt: skip
    assert quick.returncode == 0, quick.stderr
    # counted at 10^5 elements only: valgrind runs code some 50x slower, and 10^6 as well
    # took most of this test's minute without asking anything more of the workflow
    config = repo / "lossbench-ci.yaml"
    config.write_text(config.read_text().replace("sizes: [100000, 1000000]", "sizes: [100000]"))
    assert "sizes: [100000]" in config.read_text()
    _git("init", "-q", cwd=repo)
    _git("add", "-A", cwd=repo)
    _git("commit", "-qm", "base", cwd=repo)
    # one counting process a side, not the workflow's two (a minute less; that two processes'
    # counts agree is test_timing's to show); every other word of the workflow as written
    path = repo / ".github/workflows/lossbench.yml"
    path.write_text(path.read_text().replace("pyperf.processes=2", "pyperf.processes=1"))
    workflow = yaml.safe_load(path.read_text())
    shims = tmp_path / "shims"
    shims.mkdir()
    for tool in ("pip", "sudo"):
        (shims / tool).write_text("#!/bin/sh\nexit 0\n")
        (shims / tool).chmod(0o755)

    base = _git("rev-parse", "HEAD", cwd=repo)
    (repo / "mypkg" / "kernels.py").write_text(_KERNEL.format(extra="\n    r = r * 1.0"))
    _git("commit", "-qam", "head", cwd=repo)
    head = _git("rev-parse", "HEAD", cwd=repo)
    env = {**os.environ, **{k: str(v) for k, v in workflow["env"].items()}}
    env.update(BASE=base, HEAD=head, RUNNER_TEMP=str(tmp_path),
               GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"),
               PATH=f"{shims}{os.pathsep}{os.path.dirname(sys.executable)}{os.pathsep}"
               f"{os.environ['PATH']}")  # fmt: skip
    codes = []
    for step in workflow["jobs"]["gate"]["steps"]:
        if "run" in step:
            done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=repo, env=env,
                                  capture_output=True, text=True)  # fmt: skip
            codes.append(done.returncode)
    assert codes == [0, 0, 1, 0], done.stderr  # valgrind, count, compare: slower, summary
    report = (tmp_path / "summary.md").read_text()
    assert "squared.value.numpy.float64.100000" in report and "slower" in report
