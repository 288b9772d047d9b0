"""Kernel timing, run: `run` times a plan's benchmarks (`lossbench.timing.planning`) in
worker processes and writes a pyperf suite (`lossbench.timing.table` reads it into
``timings.csv``).

Each worker process (`lossbench.timing.worker`) times every benchmark once, one after the
other, and `run` starts ``processes`` of them in turn; each worker's values for a benchmark
are one pyperf run, so the suite is what pyperf itself would write (``pyperf stats``,
``compare_to`` and ``convert --add`` work on it) and the process stays the statistical unit.
pyperf's own Runner would start a process per benchmark and process, each loading numba
or scikit-learn (about 1 s) for a call of milliseconds.

Loops are calibrated here, in one process: each benchmark gets pyperf ``inner_loops`` (calls
per value, so a value lasts about ``min_time``) and ``loops`` 1; an explicit ``loops`` in the
config is used for every benchmark instead.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import asdict
from pathlib import Path

from lossbench import system
from lossbench.losses import user_impls
from lossbench.signals import interrupts_deferred, raise_if_stopped
from lossbench.timing import bench as matrix
from lossbench.timing import worker
from lossbench.timing.bench import Benchmark
from lossbench.timing.planning import Plan

__all__ = ["run"]


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


def run(
    the_plan: Plan,
    output: Path,
    progress: Callable[[int, int], None] | None = None,
    search: Sequence[str] = (),
) -> list[str]:
    """Time the plan's benchmarks in worker processes, which import user code from the
    directories `search`; the suite is written to `output`. Returns what the run itself has
    to say (peers timed in fewer processes, benchmarks too slow for every value they asked
    for); the plan's own notes stay the plan's.

    Interrupted, the suite of what finished (whole runs only) is written before the interrupt
    goes on."""
    import pyperf

    benches = the_plan.benchmarks
    processes, values, warmups = the_plan.counts()
    specs = []
    counting = the_plan.measure == "instructions"
    for bench in benches:
        if counting:  # a count is exact: a few calls, not a fraction of a second's worth
            inner = 1 if bench.n >= 100_000 else 4
        else:
            inner = the_plan.options.loops or _inner_loops(bench, the_plan.options.min_time)
        specs.append({"benchmark": asdict(bench), "inner": inner})
    matrix.forget_all()  # free the calibration's arrays before the workers build theirs
    groups = _groups(specs, benches, processes)
    total = sum(map(len, groups))
    metadata = _metadata(the_plan)
    by_name = {bench.name: bench for bench in the_plan.benchmarks}
    runs: dict[str, list[pyperf.Run]] = {}
    fewer = set()
    done = 0
    with tempfile.TemporaryDirectory(prefix="lossbench-timing-") as work:
        try:
            for index, group in enumerate(groups):
                spec_path = Path(work) / f"spec-{index}.json"
                spec = {
                    "benchmarks": group,
                    "values": values,
                    "warmups": warmups,
                    "search": list(search),  # where user losses are
                    "measure": the_plan.measure,
                }
                spec_path.write_text(json.dumps(spec))
                dumps = Path(work) / f"counts-{index}" if counting else None
                # closed at once when an interrupt lands between its records, so the worker
                # is killed now rather than when the generator is collected (never, on exit)
                with contextlib.closing(_worker(spec_path, Path(work), dumps)) as records:
                    for record in records:
                        raise_if_stopped()
                        if dumps is not None:
                            record = _counted(record, dumps)
                        described = {**metadata, **by_name[record["name"]].metadata}
                        runs.setdefault(record["name"], []).append(_as_run(record, described))
                        if len(record["values"]) < values:
                            fewer.add(record["name"])
                        done += 1
                        if progress is not None:
                            progress(done, total)
        except KeyboardInterrupt:
            if runs:
                _write_suite([runs[b.name] for b in benches if b.name in runs], output)
            raise
    _write_suite([runs[b.name] for b in benches], output)
    notes = []
    peers = sorted({b.impl for b in benches if _is_peer(b)})
    if peers and processes > 1:
        notes.append(
            f"peers ({', '.join(peers)}) timed in {math.ceil(processes / 2)} of {processes} "
            "worker processes, each in its own (lossbench's own implementations and the "
            "probes in all)"
        )
    if fewer:
        notes.append(
            f"{len(fewer)} slow benchmark{'s' if len(fewer) != 1 else ''} got fewer than "
            f"{values} values per process (at "
            f"most {worker.BUDGET:g} s of values each; timings.csv's `values` counts them)"
        )
    return notes


def _groups(specs: list[dict], benches: list[Benchmark], processes: int) -> list[list[dict]]:
    """The worker processes to start, in order, as their benchmarks: each round one process
    for lossbench's own implementations and the probes, and in the first half of the rounds
    one per peer. Peers are there to be measured against, not gated on; each in a process of
    its own loads only itself (torch alone holds 220 MB) and leaves the others' timings alone."""
    by_impl: dict[str, list[dict]] = {}
    for spec, bench in zip(specs, benches, strict=True):
        by_impl.setdefault(bench.impl if _is_peer(bench) else "", []).append(spec)
    own = by_impl.pop("", [])
    groups = []
    for index in range(processes):
        groups += [own] if own else []
        if index < math.ceil(processes / 2):
            groups += list(by_impl.values())
    return groups


def _is_peer(bench: Benchmark) -> bool:
    if bench.is_probe:
        return False
    impl = user_impls.implementation(bench.implementation)
    return not impl.own and not impl.user


def _counted(record: dict, dumps: Path) -> dict:
    """A counting worker's record with its values: instructions per call, from callgrind's
    dumps, less the cost per call of the worker's own empty loop."""
    from lossbench.timing import valgrind

    counts = valgrind.dumped(dumps)
    fixed = counts.get("fixed", 0)
    loop = (counts.get("loop#1000", fixed) - fixed) / 1000
    inner, name = record["inner"], record["name"]
    values = [
        (counts[f"{name}#{i}"] - fixed) / inner - loop
        for i in range(record["counted"])
        if f"{name}#{i}" in counts
    ]
    if not values:
        raise RuntimeError(f"callgrind wrote no count for {name} (in {dumps})")
    return {**record, "values": values, "unit": "integer"}


def _worker(spec_path: Path, work: Path, dumps: Path | None = None) -> Generator[dict, None, None]:
    """The records of one worker process, as it finishes each benchmark (run under callgrind,
    writing its counts into `dumps`, when given)."""
    with open(work / "stderr.txt", "w+", encoding="utf-8") as errors:
        cmd = [sys.executable, "-m", "lossbench.timing.worker", str(spec_path)]
        if dumps is not None:
            from lossbench.timing import valgrind

            dumps.mkdir()
            cmd = valgrind.command(valgrind.require(), dumps) + cmd
        environment = {**os.environ, **valgrind.ENVIRONMENT} if dumps is not None else None
        process = None
        try:
            # an interrupt inside Popen, after the fork, would leave a child nobody kills
            with interrupts_deferred():
                process = subprocess.Popen(
                    cmd, stdout=subprocess.PIPE, stderr=errors, text=True, env=environment
                )
            assert process.stdout is not None  # stdout=PIPE
            for line in process.stdout:
                yield json.loads(line)
            code = process.wait()
        except BaseException:  # an interrupt here, or the consumer gone: no orphan left
            if process is not None:
                process.kill()
                process.wait()
            raise
        if code in (-signal.SIGINT, -signal.SIGTERM, -signal.SIGHUP):
            raise KeyboardInterrupt  # the same Ctrl-C (or hang-up) reached the worker first
        if code != 0:
            errors.seek(0)
            raise RuntimeError(f"a timing worker exited with {code}: {errors.read()[-2000:]}")


def _metadata(the_plan: Plan) -> dict:
    """pyperf's metadata about this machine and Python, collected once for every run."""
    import pyperf

    metadata = pyperf.Run([1.0]).get_metadata()  # a Run collects what pyperf's workers record
    metadata.pop("mem_max_rss", None)  # this process's, not a worker's
    metadata["lossbench_cores"] = system.cores()  # what an all-core benchmark ran on
    if the_plan.notes:
        metadata["lossbench_skipped"] = "; ".join(the_plan.notes)
    return metadata


def _as_run(record: dict, metadata: dict):
    import pyperf

    meta = {
        **metadata,
        "name": record["name"],
        "loops": 1,
        "inner_loops": record["inner"],
        "unit": record.get("unit", "second"),
    }
    warmups = [(1, value) for value in record["warmups"]]
    return pyperf.Run(record["values"], warmups=warmups, metadata=meta, collect_metadata=False)


def _write_suite(runs_per_benchmark: list[list], output: Path) -> None:
    """The pyperf suite, written beside `output` and renamed onto it (never half-written)."""
    import pyperf

    suite = pyperf.BenchmarkSuite([pyperf.Benchmark(runs) for runs in runs_per_benchmark])
    partial = output.with_name(f".{output.name}.partial")
    try:
        suite.dump(str(partial), replace=True)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
