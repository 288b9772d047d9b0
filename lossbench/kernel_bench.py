"""The kernel benchmark matrix, shared by `benchmarks/bench_kernels.py` and lossbench's timing.

A benchmark times one public call, ``loss.<op>(y_true, y_pred, impl=impl)`` with the default
"mean" reduction, on arrays built once per process outside the timed region. Probes (loss
"probe") time the memory floor (`lossbench.probes`) and numpy's vectorized log.

This module imports only numpy and `lossbench.losses`, so a pyperf worker that runs one
benchmark loads nothing else (numba only for fused kernels and probes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from lossbench import losses

__all__ = ["OPS", "PROBES", "Benchmark", "inputs", "matrix", "time_loops"]

OPS = ("value", "gradient", "value_and_gradient")
PROBES = ("read", "read_write", "log")
PROBE = "probe"


@dataclass(frozen=True)
class Benchmark:
    """One cell of the matrix; `name` is its pyperf benchmark name."""

    loss: str  # a loss label such as "huber(delta=1.345)", or "probe"
    op: str
    impl: str
    dtype: str
    n: int

    @property
    def name(self) -> str:
        return f"{self.loss}.{self.op}.{self.impl}.{self.dtype}.{self.n}"


def matrix(
    loss_labels: Iterable[str],
    ops: Iterable[str],
    impls: Iterable[str],
    sizes: Iterable[int],
    dtypes: Iterable[str],
    *,
    probes: bool = True,
) -> list[Benchmark]:
    """Every (loss, op, impl) for every (dtype, n), probes first within each (dtype, n)."""
    benches = []
    for dtype in dtypes:
        for n in sizes:
            if probes:
                benches += [Benchmark(PROBE, p, _probe_impl(p), dtype, n) for p in PROBES]
            for label in loss_labels:
                for op in ops:
                    benches += [Benchmark(label, op, impl, dtype, n) for impl in impls]
    return benches


def _probe_impl(probe: str) -> str:
    return "numpy" if probe == "log" else "numba"


def inputs(loss: losses.Loss, n: int, dtype: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Typical `(y_true, y_pred)` for a loss: labels and probabilities or logits for the binary
    losses, residuals of a few units (both sides of Huber's delta) for the others."""
    rng = np.random.default_rng(seed)
    if loss.labels:
        y_true = rng.integers(0, 2, n).astype(dtype)
        if loss.prediction == "probability":
            y_pred = rng.uniform(0.001, 0.999, n).astype(dtype)
        else:
            y_pred = rng.normal(0.0, 3.0, n).astype(dtype)
    else:
        y_true = rng.normal(0.0, 1.0, n).astype(dtype)
        y_pred = (y_true + rng.standard_t(3, n)).astype(dtype)
    return y_true, y_pred


def _callable(bench: Benchmark) -> Callable[[], object]:
    """A zero-argument function that runs the benchmark once, inputs already built."""
    if bench.loss == PROBE:
        y_true, y_pred = inputs(losses.get("mse"), bench.n, bench.dtype)
        if bench.op == "log":
            positive, out = np.abs(y_pred) + 0.5, np.empty_like(y_pred)
            return lambda: np.log(positive, out=out)
        from lossbench import probes

        probe = getattr(probes, bench.op)
        return lambda: probe(y_true, y_pred)
    loss = losses.get(bench.loss)
    y_true, y_pred = inputs(loss, bench.n, bench.dtype)
    method = getattr(loss, bench.op)
    impl = bench.impl
    return lambda: method(y_true, y_pred, impl=impl)


_prepared: dict[Benchmark, Callable[[], object]] = {}


def time_loops(loops: int, bench: Benchmark) -> float:
    """Seconds for `loops` calls (pyperf's time_func); the first call in a process builds the
    inputs and compiles or loads the kernel, outside the timed region."""
    run = _prepared.get(bench)
    if run is None:
        run = _prepared[bench] = _callable(bench)
        run()
    start = time.perf_counter()
    for _ in range(loops):
        run()
    return time.perf_counter() - start
