"""Kernel timing through real pyperf workers: suite, matrix, columns, options, refusals."""

import json
import subprocess
import sys

import numpy as np
import pyperf
import pytest
from typer.testing import CliRunner

from lossbench import config as config_module
from lossbench import results, runner
from lossbench.cli import app
from lossbench.errors import LossbenchError
from lossbench.losses import impls
from lossbench.timing import bench as kernel_bench
from lossbench.timing import driver as timing_driver
from lossbench.timing import planning as timing
from lossbench.timing.bench import Benchmark

CONTRACT = [
    "benchmark", "loss", "op", "impl", "dtype", "n", "median_s", "mean_s", "stdev_s", "values",
    "ns_per_element", "gb_per_s", "roofline",
]  # fmt: skip
TINY = {
    "name": "tiny",
    "experiments": [],
    "timing": {
        "losses": ["mse", {"name": "huber", "delta": 1.345}],
        "ops": ["value", "value_and_gradient"],
        "impls": ["numpy", "fused", "seed", "scipy", "torch"],
        "sizes": [3000],
        "dtypes": ["float32"],
        "pyperf": {"processes": 2, "values": 2, "warmups": 0},
    },
}


@pytest.mark.slow  # real timing workers
def test_a_small_timing_run_through_real_pyperf_workers(tmp_path):
    config = config_module.validate(TINY)
    plan = timing.plan(config.timing)
    outcome = runner.execute(config, tmp_path, only="timing")
    assert outcome.status == "complete"
    suite = pyperf.BenchmarkSuite.load(str(outcome.path / results.PYPERF))
    names = {b.get_name() for b in suite.get_benchmarks()}
    assert names == {b.name for b in plan.benchmarks}
    assert {"probe.read.numba.float32.3000", "probe.read_write.numba.float32.3000",
            "mse.value.seed.float32.3000", "huber(delta=1.345).value.scipy.float32.3000",
            "huber(delta=1.345).value_and_gradient.fused.float32.3000"} <= names  # fmt: skip
    for benchmark in suite.get_benchmarks():  # options honoured: 2 processes × 2 values,
        runs = [run for run in benchmark.get_runs() if run.values]  # peers in 1 of the 2
        peer = Benchmark.parse(benchmark.get_name()).impl in {"seed", "scipy", "torch"}
        assert len(runs) == (1 if peer else 2) and all(len(run.values) == 2 for run in runs)
        assert all(len(run.warmups) == 1 for run in benchmark.get_runs())
        assert benchmark.get_metadata()["loops"] == 1
    table = outcome.timings
    assert list(table.columns) == [*CONTRACT, "process_cv", "unstable"]
    # the between-process variation, by hand from pyperf's runs, and the unstable flag
    first = suite.get_benchmark(table["benchmark"].iloc[0])
    means = [np.mean(run.values) for run in first.get_runs() if run.values]
    assert table["process_cv"].iloc[0] == pytest.approx(np.std(means, ddof=1) / np.mean(means))
    assert (table["unstable"] == ((table["process_cv"] > 0.05) | (table["roofline"] > 1.05))).all()
    kernels = table[table["loss"] != "probe"]
    # a ratio of two measured times, each kernel's to its floor's (exactly: the test below);
    # how near its floor a kernel runs depends on the machine, and is benchmarks/' to measure
    assert (np.isfinite(kernels["roofline"]) & (kernels["roofline"] > 0)).all(), kernels
    assert table[table["loss"] == "probe"]["roofline"].isna().all()
    assert (table["ns_per_element"] > 0).all() and (table["gb_per_s"] > 0).all()
    stored = (outcome.path / results.TIMINGS).read_text().splitlines()[0]
    assert stored == ",".join([*CONTRACT, "process_cv", "unstable"])
    record = json.loads((outcome.path / results.RUN).read_text())
    assert record["timing"] == "done" and record["experiments_total"] == 0
    suite_file = str(outcome.path / results.PYPERF)
    for command in (["stats", suite_file], ["compare_to", suite_file, suite_file]):
        tool = subprocess.run(
            [sys.executable, "-m", "pyperf", *command], capture_output=True, text=True
        )
        assert tool.returncode == 0, tool.stderr
    assert "mse.value.fused.float32.3000" in tool.stdout
    shown = CliRunner().invoke(app, ["show", str(outcome.path)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "timing, value, float32, n=3e+03" in shown.output and "fused mse value" in shown.output


def test_missing_peers_are_skipped_with_one_line_each():
    plan = timing.plan(config_module.Timing(impls=["numpy", "fused", "torch", "sklearn"]))
    for peer in ("torch", "sklearn"):
        skipped = [n for n in plan.notes if n.startswith(f"{peer}:")]
        if impls.available(peer):
            assert not skipped and any(b.impl == peer for b in plan.benchmarks)
        else:
            assert skipped == [
                f"{peer}: not installed (pip install {impls.get(peer).install}); skipped"
            ]
            assert not any(b.impl == peer for b in plan.benchmarks)


def test_peers_cover_only_what_they_implement():
    plan = timing.plan(
        config_module.Timing(
            losses=["mse", "bce"], ops=["value", "gradient"], impls=["seed", "scipy"]
        )
    )
    kernels = {(b.loss, b.op, b.impl) for b in plan.benchmarks if b.loss != "probe"}
    assert kernels == {("mse", "value", "seed"), ("mse", "gradient", "seed")}


def test_gradient_and_hessian_is_timed_for_lossbench_own_against_a_two_output_floor():
    chosen = config_module.Timing(losses=["mse", "bce"], ops=["value", "gradient_and_hessian"],
                                  impls=["numpy", "fused", "seed", "sklearn"], sizes=[1000],
                                  threads=[1, "all"])  # fmt: skip
    planned = {(b.loss, b.op, b.impl) for b in timing.plan(chosen).benchmarks}
    second = {cell for cell in planned if cell[1] == "gradient_and_hessian"}
    assert second == {(loss, "gradient_and_hessian", impl) for loss in ("mse", "bce")
                      for impl in ("numpy", "fused", "fused@all")}  # fmt: skip
    assert {("probe", "read_write2", "numba"), ("probe", "read_write2", "numba@all")} <= planned
    without = config_module.Timing(losses=["mse"], ops=["value"], impls=["fused"], sizes=[1000])
    assert not any(b.op == "read_write2" for b in timing.plan(without).benchmarks)


def test_timing_mistakes_name_the_field():
    with pytest.raises(LossbenchError, match=r"timing.impls\[1\]: unknown impl 'cuda'"):
        timing.plan(config_module.Timing(impls=["numpy", "cuda"]))
    with pytest.raises(LossbenchError, match=r"timing.losses\[0\]: unknown loss 'msee'"):
        timing.plan(config_module.Timing(losses=["msee"]))


def test_all_cores_adds_the_threaded_implementations_and_their_floors():
    def planned(**options):
        chosen = config_module.Timing(losses=["mse"], ops=["value"], sizes=[1000],
                                      impls=["numpy", "fused", "seed"], **options)  # fmt: skip
        return {(b.loss, b.op, b.impl) for b in timing.plan(chosen).benchmarks}

    one = planned()
    both = planned(threads=[1, "all"])
    every = {("probe", "read", "numba@all"), ("probe", "read_write", "numba@all"),
             ("mse", "value", "fused@all")}  # fmt: skip
    assert both == one | every  # numpy and seed are one-thread code: no all-core variant
    assert planned(threads=["all"]) == every
    name = Benchmark("mse", "value", "fused@all", "float64", 10).name
    assert name == "mse.value.fused@all.float64.10" and Benchmark.parse(name).all_cores
    with pytest.raises(LossbenchError, match=r"timing.threads: .*use measure: time"):
        timing.plan(config_module.Timing(threads=[1, "all"], measure="instructions"))
    for wrong in ([2], [1, 1], []):
        with pytest.raises(LossbenchError, match=r"timing\.threads"):
            config_module.validate({"timing": {"threads": wrong}})


@pytest.mark.slow  # real timing workers, and the parallel kernels compiled
def test_all_core_kernels_are_measured_against_the_all_core_probe(tmp_path):
    from lossbench import system

    pyperf = {"processes": 1, "values": 2, "warmups": 1}
    chosen = {"losses": ["mse"], "ops": ["value"], "impls": ["fused"], "sizes": [100000],
              "threads": [1, "all"], "pyperf": pyperf}  # fmt: skip
    outcome = runner.execute(
        config_module.validate({"name": "t", "timing": chosen}), tmp_path, only="timing"
    )
    table = outcome.timings.set_index("impl")
    assert list(outcome.timings.columns)[-1] == "threads"
    kernel, floor = table.loc["fused@all"], table[table["op"] == "read"].loc["numba@all"]
    assert kernel["threads"] == system.cores() and table.loc["fused", "threads"] == 1
    assert kernel["roofline"] == pytest.approx(floor["median_s"] / kernel["median_s"])
    one_floor = table[table["op"] == "read"].loc["numba", "median_s"]
    assert table.loc["fused", "roofline"] == pytest.approx(
        one_floor / table.loc["fused", "median_s"]
    )
    shown = CliRunner().invoke(app, ["show", str(outcome.path)], env={"COLUMNS": "80"})
    assert "fused@all roof" in shown.output and "read@all" in shown.output
    assert f"on {system.cores()} cores" in shown.output


def test_sizes_that_do_not_fit_in_memory_are_refused():
    benches = kernel_bench.matrix(["mse"], ["value"], ["numpy"], [10**9], ["float64"])
    with pytest.raises(
        LossbenchError, match=r"n=1000000000 \(float64\) needs about 64.0 GB of memory; 1.0 GB"
    ):
        timing.check_memory(benches, available=10**9)
    timing.check_memory(benches, available=10**12)  # fits: no error


def test_fast_and_rigorous_are_applied_so_an_explicit_process_count_holds():
    counts = lambda **o: timing.Plan([], config_module.PyperfOptions(**o)).counts()  # noqa: E731
    assert counts(processes=4, values=3, warmups=1) == (4, 3, 1)
    assert counts(processes=4, values=3, fast=True)[:2] == (2, 2)
    assert counts(processes=4, rigorous=True)[0] == 8


def test_huge_sizes_exit_2_before_anything_runs(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("timing: {sizes: [100000000000]}\n")
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "lower timing.sizes" in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_only_timing_needs_a_timing_section(tmp_path):
    path = tmp_path / "no-timing.yaml"
    path.write_text("experiments: []\n")
    result = CliRunner().invoke(app, ["run", str(path), "--only", "timing", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "the config has no timing section" in result.output


@pytest.mark.slow  # real timing workers
def test_a_numpy_worker_imports_nothing_it_does_not_need():
    heavy = ("pandas", "rich", "typer", "scipy", "numba", "pydantic")
    code = (
        "import sys, lossbench.timing.worker\n"
        "from lossbench.timing.bench import Benchmark, prepare\n"
        "prepare(Benchmark('huber(delta=1.0)', 'value', 'numpy', 'float64', 100))\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.slow  # real timing workers
def test_explicit_loops_are_used_for_every_benchmark(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(
        timing_driver, "_inner_loops", lambda bench, min_time: seen.append(bench) or 1
    )
    pyperf_options = {"processes": 1, "values": 1, "loops": 7}
    matrix = {"losses": ["mse"], "ops": ["value"], "impls": ["numpy"], "sizes": [500]}
    config = config_module.validate(
        {"experiments": [], "timing": {**matrix, "pyperf": pyperf_options}}
    )
    outcome = runner.execute(config, tmp_path, only="timing")
    suite = pyperf.BenchmarkSuite.load(str(outcome.path / results.PYPERF))
    assert not seen  # no calibration
    assert {b.get_metadata()["inner_loops"] for b in suite.get_benchmarks()} == {7}


@pytest.mark.slow  # real timing workers
def test_timing_survives_a_temporary_directory_on_another_filesystem(tmp_path, monkeypatch):
    import os
    import tempfile
    from pathlib import Path

    other = Path("/dev/shm")
    if not other.is_dir() or os.stat(other).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs /dev/shm on another filesystem than the test's directory")
    monkeypatch.setattr(tempfile, "tempdir", str(other))  # pyperf's work files land there
    config = config_module.validate({
        "experiments": [],
        "timing": {"losses": ["mse"], "ops": ["value"], "impls": ["numpy"], "sizes": [500],
                   "pyperf": {"processes": 1, "values": 1}},
    })  # fmt: skip
    outcome = runner.execute(config, tmp_path, only="timing")
    assert outcome.status == "complete" and (outcome.path / results.PYPERF).is_file()
    assert not list(outcome.path.glob(".*"))  # no partial copy left behind


def test_a_worker_spends_a_warm_up_call_and_gives_slow_calls_fewer_values(monkeypatch):
    from lossbench.timing import worker

    durations = {"fast": 0.01, "slow": 0.3, "slower": 2.0}
    calls = []

    def fake_time(loops, bench, inner=1):
        calls.append(bench.loss)
        return durations[bench.loss] * inner

    monkeypatch.setattr(worker, "prepare", lambda bench: None)
    monkeypatch.setattr(worker, "forget", lambda bench: None)
    monkeypatch.setattr(worker, "time_loops", fake_time)
    bench = lambda loss: kernel_bench.Benchmark(loss, "value", "numpy", "float64", 10)  # noqa: E731
    fast = worker.measure(bench("fast"), inner=4, values=3, warmups=0)
    assert fast["warmups"] == [0.01] and fast["values"] == [0.01] * 3 and fast["inner"] == 4
    slow = worker.measure(bench("slow"), inner=1, values=3, warmups=2)
    assert len(slow["warmups"]) == 2 and len(slow["values"]) == 1  # 0.5 s holds one 0.3 s call
    slower = worker.measure(bench("slower"), inner=1, values=3, warmups=0)
    assert len(slower["warmups"]) == 1 and len(slower["values"]) == 1  # never none
    assert len(calls) == 4 + 3 + 2


def test_peers_run_in_half_the_processes_each_in_its_own():
    benches = kernel_bench.matrix(["mse"], ["value"], ["numpy", "fused", "seed", "scipy"],
                                  [100], ["float64"])  # fmt: skip
    specs = [{"benchmark": b.name} for b in benches]
    groups = timing_driver._groups(specs, benches, processes=3)
    impls_of = [{name["benchmark"].split(".")[2] for name in group} for group in groups]
    own = {"numba", "numpy", "fused"}  # probes run as numba and numpy
    assert impls_of == [own, {"seed"}, own, {"seed"}, own]  # scipy has no mse
    assert sum(map(len, groups)) == 3 * (len(benches) - 1) + 2 * 1


def test_a_run_s_benchmarks_say_what_they_are_in_pyperf_metadata(tmp_path):
    """timings.csv reads each benchmark's loss, op, impl, dtype and n from the metadata the run
    wrote beside its name (issue 38), not from the name; a suite from before the metadata is
    read from the name, another tool's benchmark is none of ours."""
    from lossbench.timing.bench import Benchmark

    bench = Benchmark("huber(delta=1.345)", "value", "fused", "float64", 1000)
    run = pyperf.Run(
        [1e-3, 1.1e-3],
        metadata={"name": "anything", "loops": 1, **bench.metadata},
        collect_metadata=False,
    )
    assert Benchmark.of_pyperf(pyperf.Benchmark([run])) == bench
    old = pyperf.Run([1e-3], metadata={"name": bench.name, "loops": 1}, collect_metadata=False)
    assert Benchmark.of_pyperf(pyperf.Benchmark([old])) == bench
    other = pyperf.Run([1e-3], metadata={"name": "json_dumps", "loops": 1}, collect_metadata=False)
    assert Benchmark.of_pyperf(pyperf.Benchmark([other])) is None
