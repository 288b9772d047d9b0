"""The inputs of `lossbench compare`, read: a run directory or any pyperf JSON suite, as an
`lossbench.analysis.timings.Side`."""

from __future__ import annotations

from pathlib import Path

from lossbench.analysis.timings import Side, runs_of
from lossbench.errors import LossbenchError
from lossbench.results import files
from lossbench.timing.bench import Benchmark

__all__ = ["load"]


def load(path: str | Path) -> Side:
    """A run directory or a pyperf JSON file; refuses what it cannot read."""
    path = Path(path)
    if path.is_dir():
        record, _, summary, _ = files.read_run(path)
        suite_file = path / files.PYPERF
        suite = _load_suite(suite_file) if suite_file.is_file() else None
        host = {
            **record.get("host", {}),
            "python": record.get("python"),
            **(record.get("packages") or {}),
        }
        return _side(path, suite, summary if len(summary) else None, host)
    if not path.is_file():
        raise LossbenchError(f"{path}: no such run directory or pyperf file")
    suite = _load_suite(path)
    meta = suite.get_metadata()
    host = {"cpu": meta.get("cpu_model_name"), "python": meta.get("python_version")}
    return _side(path, suite, None, host)


def _side(path: Path, suite, summary, host) -> Side:
    if suite is None:
        return Side(path, None, summary, host)
    runs = runs_of(suite)
    units = {b.get_name(): b.get_unit() for b in suite.get_benchmarks()}
    return Side(path, runs, summary, host, floors=_floors(runs), units=units)


def _floors(names) -> dict[str, str]:
    """Each lossbench kernel's ``read`` probe at its dtype and n, whichever implementation
    timed the probe (named even when absent, so that `--normalize` can say which is missing)."""
    parsed = {}
    for name in names:
        try:
            parsed[name] = Benchmark.parse(name)
        except ValueError:
            continue  # another tool's benchmark: nothing to normalize by
    probes = {(b.dtype, b.n): name for name, b in parsed.items() if b.is_probe and b.op == "read"}
    return {
        name: probes.get((b.dtype, b.n), Benchmark.floor(b.dtype, b.n).name)
        for name, b in parsed.items()
        if not b.is_probe
    }


def _load_suite(path: Path):
    import pyperf

    try:
        return pyperf.BenchmarkSuite.load(str(path))
    except Exception as error:  # pyperf raises many kinds for a corrupt file; all mean unreadable
        raise LossbenchError(
            f"{path}: not a readable pyperf suite ({type(error).__name__}: {error})"
        ) from None
