"""The benchmark matrix and the pyperf script, run for real on tiny sizes (no timing asserted)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lossbench import losses
from lossbench.timing import bench as kernel_bench

ROOT = Path(__file__).resolve().parents[1]


def test_matrix_names_every_cell_and_probes():
    benches = kernel_bench.matrix(
        ["mse", "huber(delta=1.345)"], ["value"], ["numpy", "fused"], [10, 20], ["float32"]
    )
    names = [b.name for b in benches]
    assert len(names) == len(set(names)) == 2 * (3 + 2 * 2)
    assert "huber(delta=1.345).value.fused.float32.20" in names
    assert "probe.read.numba.float32.10" in names


def test_inputs_lie_in_each_loss_domain():
    y, p = kernel_bench.inputs(losses.get("bce"), 1000, "float32")
    assert y.dtype == p.dtype == np.float32
    assert set(np.unique(y)) == {0.0, 1.0} and 0 < p.min() and p.max() < 1


def test_time_loops_runs_each_kind_of_benchmark():
    for bench in kernel_bench.matrix(
        ["bce_logits"], kernel_bench.OPS, ["numpy", "fused"], [100], ["float64"]
    ):
        assert kernel_bench.time_loops(3, bench) > 0


@pytest.mark.slow  # a pyperf script as a subprocess
def test_bench_script_writes_a_pyperf_suite(tmp_path):
    out = tmp_path / "out.json"
    cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "bench_kernels.py"),
        "--debug-single-value",
        "--losses",
        "mse",
        "--sizes",
        "1000",
        "--dtypes",
        "float32",
        "-o",
        str(out),
        "--quiet",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    names = {b["metadata"]["name"] for b in json.loads(out.read_text())["benchmarks"]}
    assert names == {
        "probe.read.numba.float32.1000",
        "probe.read_write.numba.float32.1000",
        "probe.log.numpy.float32.1000",
        "mse.value.numpy.float32.1000",
        "mse.value.fused.float32.1000",
        "mse.value_and_gradient.numpy.float32.1000",
        "mse.value_and_gradient.fused.float32.1000",
    }


@pytest.mark.slow  # a process per script, each importing what it measures
@pytest.mark.parametrize(
    "script", sorted(p.name for p in (ROOT / "benchmarks").glob("*.py")), ids=str
)
def test_every_benchmark_script_imports_and_explains_itself(script):
    """Each script under benchmarks/ runs as far as its --help: it imports what it measures
    with today's code and says how to call it (the measurements themselves take minutes)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout.lower()
