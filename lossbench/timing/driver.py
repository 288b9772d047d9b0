"""Kernel timing through pyperf: the matrix, memory check, peers, probes and roofline.

`plan` turns a config's ``timing:`` section into benchmarks (unavailable peers skipped, each
said once); `check_memory` refuses sizes that would not fit; `run` times them in pyperf's worker
processes (`lossbench.timing.worker`, a subprocess whose arguments lossbench builds) and reports
progress; `table` reads the suite into the ``timings.csv`` columns.

Loops are calibrated here, in one process, instead of by pyperf in an extra worker per
benchmark: a worker that loads numba costs ~0.8 s, and the extra worker would nearly double a
run. Each benchmark gets pyperf ``inner_loops`` (calls per value) and pyperf ``--loops 1``; an
explicit ``loops`` in the config is used for every benchmark instead.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, astuple, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from lossbench import losses
from lossbench.config import PyperfOptions, Timing
from lossbench.errors import LossbenchError
from lossbench.losses import impls
from lossbench.timing import bench as matrix
from lossbench.timing.bench import Benchmark

__all__ = ["COLUMNS", "Plan", "check_memory", "plan", "run", "table"]

COLUMNS = [
    "benchmark", "loss", "op", "impl", "dtype", "n", "median_s", "mean_s", "stdev_s", "values",
    "ns_per_element", "gb_per_s", "roofline",
]  # fmt: skip
# arrays read + written per element, for GB/s: values read both inputs; gradients also write one
_ARRAYS_MOVED = {
    "value": 2,
    "gradient": 3,
    "value_and_gradient": 3,
    "read": 2,
    "read_write": 3,
    "log": 2,
}
# the probe each op is measured against
_FLOOR = {"value": "read", "gradient": "read_write", "value_and_gradient": "read_write"}


@dataclass
class Plan:
    benchmarks: list[Benchmark]
    options: PyperfOptions
    notes: list[str] = field(default_factory=list)  # what was skipped, and why

    def pyperf_args(self) -> list[str]:
        """pyperf's options, with `fast` / `rigorous` applied here so that an explicit process
        count is honoured (pyperf's own --fast would override it)."""
        o = self.options
        processes, values = o.processes, o.values
        if o.fast:
            processes, values = max(1, processes // 2), max(1, values * 2 // 3)
        if o.rigorous:
            processes *= 2
        return ["--processes", str(processes), "--values", str(values), "--warmups", str(o.warmups),
                "--min-time", str(o.min_time), "--loops", "1"]  # fmt: skip


def plan(timing: Timing) -> Plan:
    """The benchmarks a timing section asks for; errors name the field."""
    labels = []
    for i, spec in enumerate(timing.losses):
        try:
            if isinstance(spec, dict):
                params = dict(spec)
                labels.append(str(losses.get(params.pop("name", ""), **params)))
            else:
                labels.append(str(losses.get(spec)))
        except LossbenchError as error:
            raise LossbenchError(f"timing.losses[{i}]: {error}") from None
    known = tuple(impls.IMPLEMENTATIONS)
    notes, chosen = [], []
    for i, impl in enumerate(timing.impls):
        if impl not in known:
            raise LossbenchError(
                f"timing.impls[{i}]: unknown impl {impl!r}; expected one of {', '.join(known)}"
            )
        reason = impls.get(impl).unavailable()
        if reason is None:
            chosen.append(impl)
        else:
            notes.append(f"{impl}: {reason}; skipped")
    benches = matrix.matrix(labels, timing.ops, chosen, timing.sizes, timing.dtypes)
    return Plan(benches, timing.pyperf, notes)


def _available_memory() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def check_memory(benches: list[Benchmark], available: int | None = None) -> None:
    """Refuse sizes whose arrays would not fit: a benchmark holds both inputs, its outputs and
    the numpy reference's temporaries, about 8 arrays of n elements (one benchmark at a time)."""
    if not benches:
        return
    largest = max(benches, key=lambda b: b.n * np.dtype(b.dtype).itemsize)
    need = 8 * largest.n * np.dtype(largest.dtype).itemsize
    available = _available_memory() if available is None else available
    if need > available:
        raise LossbenchError(
            f"timing.sizes: n={largest.n} ({largest.dtype}) needs about {need / 1e9:.1f} GB "
            f"of memory; {available / 1e9:.1f} GB are available; lower timing.sizes"
        )


def _inner_loops(bench: Benchmark, min_time: float) -> int:
    """Calls per pyperf value so that one value lasts about `min_time` (estimated in-process).

    From a million elements up one call lasts milliseconds, far above the timer's resolution:
    one call per value, and no arrays built here."""
    if bench.n >= 1_000_000:
        return 1
    run_once = matrix.prepare(bench)
    start = time.perf_counter()
    calls = 0
    while calls < 3 or time.perf_counter() - start < min_time / 4:
        run_once()
        calls += 1
    per_call = (time.perf_counter() - start) / calls
    # a power of two, so that two runs of one config usually agree and merge in pyperf
    return 2 ** max(0, math.ceil(math.log2(min_time / max(per_call, 1e-9))))


def run(the_plan: Plan, output: Path, progress: Callable[[int, int], None] | None = None) -> Path:
    """Time the plan's benchmarks through pyperf workers; the suite is written to `output`."""
    benches = the_plan.benchmarks
    total = len(benches)
    specs = []
    for bench in benches:
        inner = the_plan.options.loops or _inner_loops(bench, the_plan.options.min_time)
        specs.append({**asdict(bench), "inner": inner})
        matrix.forget(bench)  # free its arrays before the next one is built
    with tempfile.TemporaryDirectory(prefix="lossbench-timing-") as work:
        spec_path = Path(work) / "spec.json"
        metadata = {"lossbench_skipped": "; ".join(the_plan.notes)} if the_plan.notes else {}
        spec_path.write_text(json.dumps({"benchmarks": specs, "metadata": metadata}))
        suite = Path(work) / "suite.json"
        cmd = [sys.executable, "-m", "lossbench.timing.worker", "--lossbench-spec", str(spec_path),
               "--output", str(suite), *the_plan.pyperf_args()]  # fmt: skip
        names = {bench.name for bench in benches}
        done_pattern = re.compile(r"^(\S+): ")
        process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            done = 0
            for line in process.stdout:  # pyperf's own printing stays here, as progress
                match = done_pattern.match(line.lstrip(". "))
                if match and match.group(1) in names:
                    done += 1
                    if progress is not None:
                        progress(done, total)
            stderr = process.stderr.read()
            if process.wait() != 0:
                raise RuntimeError(
                    f"pyperf exited with {process.returncode}: {stderr.strip()[-2000:]}"
                )
        except BaseException:
            process.kill()
            process.wait()
            raise
        # copy beside the target, then rename: $TMPDIR is often another filesystem (tmpfs),
        # where a rename across devices fails
        partial = output.with_name(f".{output.name}.partial")
        shutil.copyfile(suite, partial)
        os.replace(partial, output)
    return output


def table(suite_path: Path) -> pd.DataFrame:
    """The suite as ``timings.csv``: one row per benchmark, with ns per element, GB/s, the
    roofline (the matching probe's time over the kernel's; NaN for the probes themselves), the
    between-process coefficient of variation and ``unstable`` (that above 5%, or a roofline
    above 1.05)."""
    import pyperf

    rows = []
    for benchmark in pyperf.BenchmarkSuite.load(str(suite_path)).get_benchmarks():
        name = benchmark.get_name()
        loss, op, impl, dtype, n = astuple(Benchmark.parse(name))
        values = benchmark.get_values()
        median = benchmark.median()
        moved = _ARRAYS_MOVED[op] * n * np.dtype(dtype).itemsize
        processes = [np.asarray(r.values) for r in benchmark.get_runs() if r.values]
        rows.append({
            "benchmark": name, "loss": loss, "op": op, "impl": impl, "dtype": dtype, "n": n,
            "median_s": median, "mean_s": benchmark.mean(),
            "stdev_s": benchmark.stdev() if len(values) > 1 else math.nan, "values": len(values),
            "ns_per_element": median / n * 1e9, "gb_per_s": moved / median / 1e9,
            "process_cv": between_cv(processes),
        })  # fmt: skip
    frame = pd.DataFrame(rows, columns=[*COLUMNS[:-1], "process_cv"])
    floors = frame[frame["loss"] == matrix.PROBE].set_index(["op", "dtype", "n"])["median_s"]
    frame["roofline"] = [
        floors.get((_FLOOR[row.op], row.dtype, row.n), math.nan) / row.median_s
        if row.loss != matrix.PROBE else math.nan
        for row in frame.itertuples()
    ]  # fmt: skip
    # not to be trusted alone: processes disagree, or faster than the memory floor allows
    frame["unstable"] = (frame["process_cv"] > UNSTABLE_CV) | (frame["roofline"] > 1.05)
    return frame[[*COLUMNS, "process_cv", "unstable"]]


UNSTABLE_CV = 0.05  # between-process variation above which a timing is not trusted alone


def between_cv(processes: list[np.ndarray]) -> float:
    """Coefficient of variation of the per-process means (NaN with fewer than 2 processes):
    how much pyperf's worker processes disagree."""
    if len(processes) < 2:
        return math.nan
    means = np.array([values.mean() for values in processes])
    return float(np.std(means, ddof=1) / np.mean(means))
