"""The kernel benchmark matrix, shared by `benchmarks/bench_kernels.py` and lossbench's timing.

A benchmark times one call of an implementation (`lossbench.losses.impls`; lossbench's own
run ``loss.<op>(y_true, y_pred, impl=impl)``) with the default "mean" reduction, on arrays
built once per process outside the timed region. Probes (loss
"probe") time the memory floor (`lossbench.losses.probes`) and numpy's vectorized log.

This module imports only numpy and `lossbench.losses`, so a pyperf worker that runs one
benchmark loads nothing else (numba only for fused kernels and probes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from lossbench import losses
from lossbench.losses import user_impls
from lossbench.losses.impls import OPS
from lossbench.losses.labels import names_code

__all__ = [
    "ALL_CORES",
    "FLOOR",
    "OPS",
    "PROBE",
    "PROBES",
    "ROW_CLASSES",
    "Benchmark",
    "inputs",
    "matrix",
    "supports",
    "time_loops",
]

PROBES = ("read", "read_write", "read_write2", "log")
PARALLEL_PROBES = ("read", "read_write", "read_write2")  # the floors of the all-core kernels
# the probe each op is measured against (its memory floor)
FLOOR = {
    "value": "read",
    "gradient": "read_write",
    "value_and_gradient": "read_write",
    "gradient_and_hessian": "read_write2",
}
# a probe timed only when an op it is the floor of is (gradient_and_hessian writes two arrays)
_PROBE_FOR = {"read_write2": "gradient_and_hessian"}
PROBE = "probe"
# a loss over rows (cross_entropy) is timed on n elements as n / ROW_CLASSES rows of logits
ROW_CLASSES = 10
ALL_CORES = "@all"  # an impl's mark for its all-core variant, as in "fused@all"


def supports(loss: losses.AnyLoss, op: str, impl: str) -> bool:
    """Whether `impl` implements `op` of `loss` (peers cover only some losses and ops)."""
    try:
        return user_impls.implementation(impl).supports(loss, op)
    except KeyError:
        return False


@dataclass(frozen=True)
class Benchmark:
    """One cell of the matrix. `name` is its pyperf benchmark name; `metadata` its fields as
    the pyperf metadata a run writes beside it, which `of_pyperf` reads back; `parse` reads
    the name itself, for suites written before the metadata: the one place that knows the
    format ``<loss>.<op>.<impl>.<dtype>.<n>`` (a loss label may itself hold dots, as in
    ``huber(delta=1.345)``)."""

    loss: str  # a loss label such as "huber(delta=1.345)", or "probe"
    op: str
    impl: str
    dtype: str
    n: int

    @property
    def name(self) -> str:
        return f"{self.loss}.{self.op}.{self.impl}.{self.dtype}.{self.n}"

    @property
    def metadata(self) -> dict[str, str | int]:
        """The fields as pyperf metadata (``lossbench_loss``, ...): written with every run."""
        return {f"lossbench_{key}": value for key, value in asdict(self).items()}

    @classmethod
    def of_pyperf(cls, benchmark: Any) -> Benchmark | None:
        """The benchmark a pyperf benchmark of a suite is: from the fields a lossbench run
        wrote into its metadata, or from its name for a suite written before them; None for
        another tool's."""
        metadata = benchmark.get_metadata()
        fields = {key: metadata.get(f"lossbench_{key}") for key in ("loss", "op", "impl", "dtype")}
        n = metadata.get("lossbench_n")
        if all(isinstance(value, str) for value in fields.values()) and isinstance(n, int):
            return cls(n=n, **fields)
        try:
            return cls.parse(benchmark.get_name())
        except ValueError:
            return None

    @property
    def implementation(self) -> str:
        """The implementation's name: `impl` without its all-core mark ``@all``."""
        return self.impl.removesuffix(ALL_CORES)

    @property
    def all_cores(self) -> bool:
        """Whether it runs on every core (``fused@all``), not on one."""
        return self.impl.endswith(ALL_CORES)

    @classmethod
    def parse(cls, name: str) -> Benchmark:
        """The benchmark a pyperf name stands for; ValueError if it is not one of ours.

        A user implementation's name (``package.module:function``) holds dots too: its last
        part has the colon, and it belongs to a built-in loss, whose label has no op between
        dots, so the op is the first part that names one."""
        head, dtype, n = name.rsplit(".", 2) if name.count(".") >= 4 else ("", "", "")
        parts = head.split(".")
        if not n.isdigit():
            raise ValueError(f"not a lossbench benchmark name: {name!r}")
        if not names_code(parts[-1]):
            loss, op, impl = head.rsplit(".", 2)
            return cls(loss, op, impl, dtype, int(n))
        for i, part in enumerate(parts[1:-1], start=1):
            if part in OPS:
                return cls(".".join(parts[:i]), part, ".".join(parts[i + 1 :]), dtype, int(n))
        raise ValueError(f"not a lossbench benchmark name: {name!r}")

    @classmethod
    def floor(cls, dtype: str, n: int, all_cores: bool = False) -> Benchmark:
        """The ``read`` probe at `dtype` and `n`: the memory floor of a value kernel."""
        return cls(PROBE, "read", _probe_impl("read", all_cores), dtype, n)

    @property
    def is_probe(self) -> bool:
        return self.loss == PROBE

    @property
    def working_set(self) -> int:
        """Bytes the benchmark holds at its peak, about (its implementation's `arrays` of n
        elements: inputs, outputs and temporaries)."""
        arrays = 8 if self.is_probe else user_impls.implementation(self.implementation).arrays
        return arrays * self.n * np.dtype(self.dtype).itemsize


def matrix(
    loss_list: Iterable[losses.AnyLoss | str],
    ops: Iterable[str],
    impls: Iterable[str],
    sizes: Iterable[int],
    dtypes: Iterable[str],
    *,
    probes: bool = True,
    threads: Iterable[int | str] = (1,),
) -> list[Benchmark]:
    """Every supported (loss, op, impl) for every (dtype, n), probes first within each (dtype, n).

    Losses may be given by label. Cells an implementation does not cover (a peer's missing
    loss or op) are left out. With "all" in `threads`, each `threaded` implementation and the
    memory probes are also timed on every core (``fused@all``, ``numba@all``)."""
    resolved = [losses.get(x) if isinstance(x, str) else x for x in loss_list]
    one, every = 1 in threads, "all" in threads
    variants = [impl for impl in impls if one] + [
        impl + ALL_CORES for impl in impls if every and user_impls.implementation(impl).threaded
    ]
    benches = []
    ops = list(ops)
    needed = [p for p in PROBES if p not in _PROBE_FOR or _PROBE_FOR[p] in ops]
    for dtype in dtypes:
        for n in sizes:
            if probes:
                benches += [Benchmark(PROBE, p, _probe_impl(p), dtype, n) for p in needed if one]
                benches += [
                    Benchmark(PROBE, p, _probe_impl(p, True), dtype, n)
                    for p in PARALLEL_PROBES
                    if every and p in needed
                ]
            for loss in resolved:
                for op in ops:
                    benches += [
                        Benchmark(str(loss), op, impl, dtype, n)
                        for impl in variants
                        if supports(loss, op, impl.removesuffix(ALL_CORES))
                    ]
    return benches


def _probe_impl(probe: str, all_cores: bool = False) -> str:
    return "numpy" if probe == "log" else "numba" + (ALL_CORES if all_cores else "")


def inputs(
    loss: losses.AnyLoss, n: int, dtype: str, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Typical `(y_true, y_pred)` for a loss: 0/1 labels with probabilities in (0.001, 0.999) or
    logits in (-6, 6) for the binary losses; for the others residuals uniform in (-4, 4), so that
    both of Huber's branches are timed. Uniform draws are the cheapest numpy makes, and every
    pyperf worker builds its own inputs (Student-t sampling costs about 0.9 s at n = 1e7)."""
    rng = np.random.default_rng(seed)
    if loss.over == "rows":  # class labels and (n / K, K) logits in (-6, 6): n elements
        rows = max(1, n // ROW_CLASSES)
        logits = rng.random((rows, ROW_CLASSES), dtype=np.dtype(dtype).type)
        logits *= 12.0
        logits -= 6.0
        return rng.integers(0, ROW_CLASSES, rows), logits
    y_true, y_pred = rng.random((2, n), dtype=np.dtype(dtype).type)  # in place from here on:
    if loss.labels:  # fresh memory costs page faults, and every worker builds its own
        np.less(y_true, 0.5, out=y_true)
        # logits in (-6, 6), or the probabilities of logits in about (-6.9, 6.9)
        on_logits = _kind_of_inputs(loss) == "logits"
        scale, shift = (12.0, -6.0) if on_logits else (0.998, 0.001)
    else:
        y_true *= 4.0
        y_true -= 2.0
        scale, shift = 8.0, -4.0
    y_pred *= scale
    y_pred += shift
    if not loss.labels:
        y_pred += y_true
    return y_true, y_pred


def _kind_of_inputs(loss: losses.AnyLoss) -> str:
    if not isinstance(loss, losses.Loss):  # over rows of (n, K) logits
        return "rows"
    if not loss.labels:
        return "residuals"
    return "logits" if loss.link("classification") is losses.IDENTITY else "probabilities"


_shared: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def shared_inputs(loss: losses.AnyLoss, n: int, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """`inputs`, kept for the next benchmark that needs the same ones (every implementation of
    a loss family runs on one set; one set is kept at a time, so memory stays that of one)."""
    key = (_kind_of_inputs(loss), n, dtype)
    if key not in _shared:
        _shared.clear()  # before building the next: two sets at 1e7 are 320 MB
        _shared[key] = inputs(loss, n, dtype)
    return _shared[key]


def _callable(bench: Benchmark, n: int) -> Callable[[], object]:
    """A zero-argument function that runs the benchmark once on `n` elements, inputs built."""
    get = shared_inputs if n == bench.n else inputs
    if bench.loss == PROBE:
        y_true, y_pred = get(losses.get("mse"), n, bench.dtype)
        if bench.op == "log":
            positive, out = np.abs(y_pred) + 0.5, np.empty_like(y_pred)
            return lambda: np.log(positive, out=out)
        from lossbench.losses import probes

        probe = probes.parallel(bench.op) if bench.all_cores else getattr(probes, bench.op)
        return lambda: probe(y_true, y_pred)
    loss = losses.get(bench.loss)
    y_true, y_pred = get(loss, n, bench.dtype)
    impl = user_impls.implementation(bench.implementation)
    return impl.call(loss, bench.op, y_true, y_pred, all_cores=bench.all_cores)


_prepared: dict[Benchmark, Callable[[], object]] = {}
WARM_N = 1000  # elements of the call that loads a kernel (numba's cache, lazy imports)


def prepare(bench: Benchmark) -> Callable[[], object]:
    """The benchmark's call, ready: inputs built and the kernel compiled or loaded by a call
    on `WARM_N` elements (once per process), so that no full-size call is spent on loading."""
    run = _prepared.get(bench)
    if run is None:
        _callable(bench, min(bench.n, WARM_N))()
        run = _prepared[bench] = _callable(bench, bench.n)
    return run


def forget(bench: Benchmark) -> None:
    """Drop a prepared benchmark (its inputs stay shared until another set is needed)."""
    _prepared.pop(bench, None)


def forget_all() -> None:
    """Drop every prepared benchmark and the shared inputs."""
    _prepared.clear()
    _shared.clear()


def time_loops(loops: int, bench: Benchmark, inner: int = 1) -> float:
    """Seconds for `loops` × `inner` calls (pyperf's time_func; pyperf divides by both)."""
    run = prepare(bench)
    start = time.perf_counter()
    for _ in range(loops * inner):
        run()
    return time.perf_counter() - start
