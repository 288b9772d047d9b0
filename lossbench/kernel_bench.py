"""The kernel benchmark matrix, shared by `benchmarks/bench_kernels.py` and lossbench's timing.

A benchmark times one public call, ``loss.<op>(y_true, y_pred, impl=impl)`` with the default
"mean" reduction, on arrays built once per process outside the timed region. Probes (loss
"probe") time the memory floor (`lossbench.probes`) and numpy's vectorized log.

This module imports only numpy and `lossbench.losses`, so a pyperf worker that runs one
benchmark loads nothing else (numba only for fused kernels and probes).
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from lossbench import losses

__all__ = [
    "OPS",
    "PEERS",
    "PROBES",
    "Benchmark",
    "available",
    "inputs",
    "matrix",
    "supports",
    "time_loops",
]

OPS = ("value", "gradient", "value_and_gradient")
PROBES = ("read", "read_write", "log")
PROBE = "probe"
# peers: other implementations to measure against, when importable (never installed for you):
# impl -> (module to import, how to install it, what it is)
PEERS = {
    "seed": ("numpy", "numpy", "the literal formula np.sum((y - p)**2) * (1 / m): mse only"),
    "scipy": ("scipy", "scipy", "scipy.special.huber / pseudo_huber, averaged: value only"),
    "sklearn": (
        "sklearn",
        "'lossbench[peers]'",
        "sklearn.metrics mean_squared_error, mean_absolute_error, log_loss",
    ),
    "torch": (
        "torch",
        "torch",
        "torch.nn.functional on the CPU, one thread, gradients by autograd",
    ),
}
_PEER_SUPPORT = {
    "seed": ({"mse"}, set(OPS)),
    "scipy": ({"huber", "pseudo_huber"}, {"value"}),
    "sklearn": ({"mse", "mae", "bce"}, {"value"}),
    "torch": ({"mse", "mae", "huber", "bce", "bce_logits"}, set(OPS)),
}


def available(impl: str) -> bool:
    """Whether `impl` can run here: lossbench's own always, a peer when its package imports."""
    if impl in losses.IMPLS:
        return True
    return impl in PEERS and importlib.util.find_spec(PEERS[impl][0]) is not None


def supports(loss: losses.Loss, op: str, impl: str) -> bool:
    """Whether `impl` implements `op` of `loss` (peers cover only some losses and ops)."""
    if impl in losses.IMPLS:
        return impl in loss.impls
    names, ops = _PEER_SUPPORT.get(impl, (set(), set()))
    return loss.name in names and op in ops


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
    """Every supported (loss, op, impl) for every (dtype, n), probes first within each (dtype, n).

    Cells an implementation does not cover (a peer's missing loss or op) are left out."""
    loss_list = [losses.get(label) for label in loss_labels]
    benches = []
    for dtype in dtypes:
        for n in sizes:
            if probes:
                benches += [Benchmark(PROBE, p, _probe_impl(p), dtype, n) for p in PROBES]
            for loss in loss_list:
                for op in ops:
                    benches += [
                        Benchmark(str(loss), op, impl, dtype, n)
                        for impl in impls
                        if supports(loss, op, impl)
                    ]
    return benches


def _probe_impl(probe: str) -> str:
    return "numpy" if probe == "log" else "numba"


def inputs(loss: losses.Loss, n: int, dtype: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Typical `(y_true, y_pred)` for a loss: 0/1 labels with probabilities in (0.001, 0.999) or
    logits in (-6, 6) for the binary losses; for the others residuals uniform in (-4, 4), so that
    both of Huber's branches are timed. Uniform draws are the cheapest numpy makes, and every
    pyperf worker builds its own inputs (Student-t sampling took 0.9 s at n = 1e7)."""
    rng = np.random.default_rng(seed)
    y_true, y_pred = rng.random((2, n), dtype=np.dtype(dtype).type)  # in place from here on:
    if loss.labels:  # fresh memory costs page faults, and every worker builds its own
        np.less(y_true, 0.5, out=y_true)
        scale, shift = (0.998, 0.001) if loss.prediction == "probability" else (12.0, -6.0)
    else:
        y_true *= 4.0
        y_true -= 2.0
        scale, shift = 8.0, -4.0
    y_pred *= scale
    y_pred += shift
    if not loss.labels:
        y_pred += y_true
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
    if bench.impl in PEERS:
        return _peer(bench.impl, loss, bench.op, y_true, y_pred)
    method = getattr(loss, bench.op)
    impl = bench.impl
    return lambda: method(y_true, y_pred, impl=impl)


def _peer(
    impl: str, loss: losses.Loss, op: str, y: np.ndarray, p: np.ndarray
) -> Callable[[], object]:
    """A peer's own call for (loss, op), imported only in the worker that times it."""
    m = y.size
    if impl == "seed":  # the seed's literal formulas, as a user would first write them
        value = lambda: np.sum((y - p) ** 2) * (1 / m)  # noqa: E731
        gradient = lambda: -2 * (y - p) * (1 / m)  # noqa: E731
        return {
            "value": value,
            "gradient": gradient,
            "value_and_gradient": lambda: (value(), gradient()),
        }[op]
    if impl == "scipy":
        from scipy import special

        function = special.huber if loss.name == "huber" else special.pseudo_huber
        delta = loss.params["delta"]
        return lambda: np.mean(function(delta, y - p))
    if impl == "sklearn":
        from sklearn import metrics

        function = {
            "mse": metrics.mean_squared_error,
            "mae": metrics.mean_absolute_error,
            "bce": metrics.log_loss,
        }[loss.name]
        return lambda: function(y, p)
    return _torch(loss, op, y, p)


def _torch(loss: losses.Loss, op: str, y: np.ndarray, p: np.ndarray) -> Callable[[], object]:
    import torch
    from torch.nn import functional

    torch.set_num_threads(1)
    y_t, p_t = torch.from_numpy(y), torch.from_numpy(p)
    function = {
        "mse": functional.mse_loss,
        "mae": functional.l1_loss,
        "huber": lambda a, b: functional.huber_loss(a, b, delta=loss.params["delta"]),
        "bce": functional.binary_cross_entropy,
        "bce_logits": functional.binary_cross_entropy_with_logits,
    }[loss.name]
    if op == "value":
        return lambda: function(p_t, y_t)

    def with_gradient():
        q = p_t.detach().requires_grad_(True)
        value = function(q, y_t)
        value.backward()
        return value, q.grad

    return with_gradient


_prepared: dict[Benchmark, Callable[[], object]] = {}


def prepare(bench: Benchmark) -> Callable[[], object]:
    """The benchmark's call, ready: inputs built and the kernel compiled or loaded (once per
    process), so that timing starts warm."""
    run = _prepared.get(bench)
    if run is None:
        run = _prepared[bench] = _callable(bench)
        run()
    return run


def forget(bench: Benchmark) -> None:
    """Drop a prepared benchmark and its arrays."""
    _prepared.pop(bench, None)


def time_loops(loops: int, bench: Benchmark, inner: int = 1) -> float:
    """Seconds for `loops` × `inner` calls (pyperf's time_func; pyperf divides by both)."""
    run = prepare(bench)
    start = time.perf_counter()
    for _ in range(loops * inner):
        run()
    return time.perf_counter() - start
