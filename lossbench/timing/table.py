"""``timings.csv`` from a run's pyperf suite: per benchmark its times (or instruction counts),
ns per element, GB/s, the roofline against its probe and whether to trust it alone."""

from __future__ import annotations

import math
from dataclasses import astuple
from pathlib import Path

import numpy as np
import pandas as pd

from lossbench import losses
from lossbench.analysis.constants import ROOFLINE_LIMIT, UNSTABLE_CV
from lossbench.analysis.timings import between_cv
from lossbench.timing import bench as matrix
from lossbench.timing.bench import Benchmark

__all__ = ["COLUMNS", "table"]

COLUMNS = [
    "benchmark",
    "loss",
    "op",
    "impl",
    "dtype",
    "n",
    "median_s",
    "mean_s",
    "stdev_s",
    "values",
    "ns_per_element",
    "gb_per_s",
    "roofline",
]
# arrays read + written per element, for GB/s: values read both inputs; gradients also write one
_ARRAYS_MOVED = {
    "value": 2,
    "gradient": 3,
    "value_and_gradient": 3,
    "gradient_and_hessian": 4,
    "read": 2,
    "read_write": 3,
    "read_write2": 4,
    "log": 2,
}


def table(suite_path: Path) -> pd.DataFrame:
    """The suite as ``timings.csv``: one row per benchmark, with ns per element, GB/s, the
    roofline (the matching probe's time over the kernel's; NaN for the probes themselves), the
    between-process coefficient of variation and ``unstable`` (that above 5%, or a roofline
    above 1.05)."""
    import pyperf

    rows = []
    for benchmark in pyperf.BenchmarkSuite.load(str(suite_path)).get_benchmarks():
        name = benchmark.get_name()
        bench = Benchmark.of_pyperf(benchmark)
        if bench is None:
            raise ValueError(f"not a lossbench benchmark: {name!r}")
        loss, op, impl, dtype, n = astuple(bench)
        cores = int(benchmark.get_metadata().get("lossbench_cores", 0)) or math.nan
        values = benchmark.get_values()
        median = benchmark.median()
        # a loss over rows reads logits and labels (n / K of them), not two arrays of n
        arrays = _ARRAYS_MOVED[op] - (loss in losses.ROW_LOSSES)
        moved = arrays * n * np.dtype(dtype).itemsize
        processes = [np.asarray(r.values) for r in benchmark.get_runs() if r.values]
        row = {
            "benchmark": name,
            "loss": loss,
            "op": op,
            "impl": impl,
            "dtype": dtype,
            "n": n,
            "median_s": median,
            "mean_s": benchmark.mean(),
            "stdev_s": benchmark.stdev() if len(values) > 1 else math.nan,
            "values": len(values),
            "ns_per_element": median / n * 1e9,
            "gb_per_s": moved / median / 1e9,
            "process_cv": between_cv(processes),
            "threads": cores if bench.all_cores else 1,
        }
        if benchmark.get_unit() == "integer":  # instruction counts, not seconds
            row.update(
                {
                    key: math.nan
                    for key in ("median_s", "mean_s", "stdev_s", "ns_per_element", "gb_per_s")
                }
            )
            row.update(instructions=median, instructions_per_element=median / n)
        rows.append(row)
    counted = ["instructions", "instructions_per_element"]
    frame = pd.DataFrame(rows, columns=[*COLUMNS[:-1], "process_cv", "threads", *counted])
    probes = frame[frame["loss"] == matrix.PROBE]
    every = frame["impl"].str.endswith(matrix.ALL_CORES)  # all-core kernels: all-core floors
    floors = probes["median_s"].set_axis(
        pd.MultiIndex.from_arrays([probes["op"], probes["dtype"], probes["n"], every[probes.index]])
    )
    keys = zip(frame["op"].map(matrix.FLOOR), frame["dtype"], frame["n"], every, strict=True)
    frame["roofline"] = [floors.get(key, math.nan) for key in keys] / frame["median_s"]
    frame.loc[frame["loss"] == matrix.PROBE, "roofline"] = math.nan
    # no probe is a softmax's floor: it reads one array of n, not two, and an exp of every
    # element bounds it (benchmarks/bench_softmax.py measures that floor)
    frame.loc[frame["loss"].isin(list(losses.ROW_LOSSES)), "roofline"] = math.nan
    # not to be trusted alone: processes disagree, or faster than the memory floor allows
    frame["unstable"] = (frame["process_cv"] > UNSTABLE_CV) | (frame["roofline"] > ROOFLINE_LIMIT)
    extra = ["threads"] if every.any() else []  # with timing.threads: [1, all] only
    extra += counted if frame["instructions"].notna().any() else []
    return frame[[*COLUMNS, "process_cv", "unstable", *extra]]
