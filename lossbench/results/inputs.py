"""The inputs of `lossbench compare`, read: a run directory or any pyperf JSON suite, as an
`lossbench.analysis.timings.Side`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lossbench import text
from lossbench.analysis.timings import Side, runs_of
from lossbench.errors import LossbenchError
from lossbench.results import files
from lossbench.timing.bench import Benchmark

__all__ = ["MAX_BENCHMARKS", "MAX_PROCESSES", "MAX_VALUES", "load"]


def load(path: str | Path, *, quality: bool = True) -> Side:
    """A run directory or a pyperf JSON file; refuses what it cannot read. `quality`: also a
    run's summary (what compare judges quality on); without it, run.json and the suite only."""
    path = Path(path)
    if path.is_dir():
        if quality:
            record, _, summary, _ = files.read_run(path)
            summary = summary if len(summary) else None
        else:
            record, summary = files.read_run_record(path), None
        suite_file = path / files.PYPERF
        suite = _load_suite(suite_file) if suite_file.is_file() else None
        host = {
            **record.get("host", {}),
            "python": record.get("python"),
            **(record.get("packages") or {}),
        }
        side = _side(path, suite, summary, host)
        side.started = record.get("started")
        return side
    if not path.is_file():
        raise LossbenchError(f"{path}: no such run directory or pyperf file")
    suite = _load_suite(path)
    meta = suite.get_metadata()
    host = {
        "cpu": meta.get("cpu_model_name"),
        "cores": meta.get("cpu_count"),
        "python": meta.get("python_version"),
    }
    side = _side(path, suite, None, host)
    side.started = meta.get("date")
    return side


# what a comparison reads: far beyond any real suite, and what keeps it to seconds and
# memory to a few hundred MB (100,000 benchmarks took over 5 minutes)
MAX_BENCHMARKS = 10_000
MAX_PROCESSES = 1_000  # per benchmark
MAX_VALUES = 100_000  # per benchmark, all processes together
MAX_VALUE = 1e15  # seconds or instructions per value: beyond it a value is damage, not a time


def _side(path: Path, suite, summary, host) -> Side:
    if suite is None:
        return Side(path, None, summary, host)
    runs = runs_of(suite)
    _check_sizes(path, runs)
    units = {b.get_name(): b.get_unit() for b in suite.get_benchmarks()}
    described = {b.get_name(): Benchmark.of_pyperf(b) for b in suite.get_benchmarks()}
    return Side(path, runs, summary, host, floors=_floors(described), units=units)


def _floors(described: dict[str, Benchmark | None]) -> dict[str, str]:
    """Each lossbench kernel's ``read`` probe at its dtype and n, whichever implementation
    timed the probe (named even when absent, so that `--normalize` can say which is missing);
    another tool's benchmarks (None) have nothing to normalize by."""
    parsed = {name: bench for name, bench in described.items() if bench is not None}
    probes = {(b.dtype, b.n): name for name, b in parsed.items() if b.is_probe and b.op == "read"}
    return {
        name: probes.get((b.dtype, b.n), Benchmark.floor(b.dtype, b.n).name)
        for name, b in parsed.items()
        if not b.is_probe
    }


def _load_suite(path: Path):
    """The pyperf suite at `path`, read once: a suite of more than `MAX_BENCHMARKS` is refused
    from json's count before pyperf's reader, which builds an object per value and took 150 s
    over 100,000 benchmarks, ever runs."""
    import gzip
    import io
    import json

    import pyperf

    opener = gzip.open if path.suffix == ".gz" else open
    document: str | None
    benchmarks: Any
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            document = handle.read()
        benchmarks = json.loads(document).get("benchmarks")
    except (OSError, UnicodeDecodeError, ValueError, EOFError, AttributeError):
        document = benchmarks = None  # pyperf's reader says what is wrong with it
    if isinstance(benchmarks, list) and len(benchmarks) > MAX_BENCHMARKS:
        raise LossbenchError(
            f"{path}: {len(benchmarks):,} benchmarks; compare reads at most {MAX_BENCHMARKS:,}"
        )
    try:
        return pyperf.BenchmarkSuite.load(io.StringIO(document) if document else str(path))
    except Exception as error:  # pyperf raises many kinds for a corrupt file; all mean unreadable
        raise LossbenchError(
            f"{path}: not a readable pyperf suite ({type(error).__name__}: {error})"
        ) from None


def _check_sizes(path: Path, runs: dict[str, list[np.ndarray]]) -> None:
    """Refuse, naming the limit, a suite too large to compare or holding impossible values."""
    if len(runs) > MAX_BENCHMARKS:
        raise LossbenchError(
            f"{path}: {len(runs):,} benchmarks; compare reads at most {MAX_BENCHMARKS:,}"
        )
    for name, processes in runs.items():
        shown = text.visible(name)[:80]
        if len(processes) > MAX_PROCESSES:
            raise LossbenchError(
                f"{path}: {shown}: {len(processes):,} processes; at most {MAX_PROCESSES:,}"
            )
        count = sum(len(values) for values in processes)
        if count > MAX_VALUES:
            raise LossbenchError(
                f"{path}: {shown}: {count:,} values; at most {MAX_VALUES:,} a benchmark"
            )
        for values in processes:
            bad = values[~(np.isfinite(values) & (values > 0) & (values <= MAX_VALUE))]
            if bad.size:
                raise LossbenchError(
                    f"{path}: {shown}: a value of {float(bad[0])!r} (values are positive times or "
                    f"counts, at most {MAX_VALUE:g}): the file is damaged"
                )
