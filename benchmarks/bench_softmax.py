"""Time softmax cross-entropy on (n, K) logits with pyperf: lossbench's fused kernels against
torch and scikit-learn, and against two floors measured in the same run.

    python benchmarks/bench_softmax.py --fast -o softmax.json
    python benchmarks/bench_softmax.py --fast --shapes 1000000x10 --dtypes float64 -o s.json

Every cell is a pyperf benchmark named ``softmax.<op>.<impl>.<dtype>.<n>x<K>``:

- ops ``value`` and ``value_and_gradient`` (the mean over rows and its gradient, (n, K));
- impls ``fused`` and ``fused@all`` (lossbench's kernel itself, one core and all),
  ``numpy`` (the reference), ``torch`` (``cross_entropy`` forward, and backward for the
  gradient) and ``sklearn`` (``HalfMultinomialLoss``, its Cython kernels), called as a run's
  timing calls them (`lossbench.losses.impls`); peers run on one thread;
- floors ``memory`` (read the logits, write an (n, K) array: `probes.read_write`) and ``exp``
  (that, with one accurate vectorized exp per element: `softmax_fused.exp_floor`). A softmax
  takes an exp of every element, so ``exp`` is the floor a kernel can reach; ``memory`` says
  how far that is from bandwidth.

At the end the main process prints, per shape and dtype, each kernel's time over the fused
kernel's (the speed-up) and each floor's time over the kernel's (1.0 = at it).
"""

from __future__ import annotations

import numpy as np
import pyperf

DEFAULTS = {
    "shapes": "1000000x10,3333333x3,100000x100",
    "dtypes": "float64,float32",
    "ops": "value,value_and_gradient",
    "impls": "fused,fused@all,numpy,torch,sklearn",
}
_FLOORS = ("memory", "exp")


def _forward(cmd: list[str], args) -> None:
    for option in DEFAULTS:
        cmd.extend([f"--{option}", getattr(args, option)])


def _inputs(n: int, k: int, dtype: str):
    rng = np.random.default_rng(0)
    return rng.integers(0, k, n), (rng.standard_normal((n, k)) * 3).astype(dtype)


def _call(op: str, impl: str, labels: np.ndarray, z: np.ndarray):
    """A function of no arguments doing one call of `op` by `impl`."""
    gradient = op == "value_and_gradient"
    if impl.startswith("fused"):
        from lossbench.losses import softmax_fused

        all_cores, scale = impl.endswith("@all"), 1.0 / len(z)
        return lambda: softmax_fused.kernel(z, labels, scale, gradient=gradient,
                                            all_cores=all_cores)  # fmt: skip
    if impl in ("numpy", "torch", "sklearn"):  # the peers a run's timing calls, as it does
        from lossbench import losses
        from lossbench.losses import impls

        return impls.get(impl).call(losses.get("cross_entropy"), op, labels, z)
    if impl == "memory":
        from lossbench.losses import probes

        flat = z.reshape(-1)
        return lambda: probes.read_write(flat, flat)
    if impl == "exp":
        from lossbench.losses import softmax_fused

        return lambda: softmax_fused.exp_floor(z)
    raise ValueError(f"unknown impl {impl!r}")


_PREPARED: dict[tuple, object] = {}


def _time(loops: int, op: str, impl: str, n: int, k: int, dtype: str) -> float:
    key = (op, impl, n, k, dtype)
    if key not in _PREPARED:  # once per worker process: pyperf calls this for every value
        _PREPARED.clear()
        _PREPARED[key] = _call(op, impl, *_inputs(n, k, dtype))
        _PREPARED[key]()  # compiled, imported, warmed before the clock starts
    call = _PREPARED[key]
    start = pyperf.perf_counter()
    for _ in range(loops):
        call()
    return pyperf.perf_counter() - start


def _cells(args):
    for shape in args.shapes.split(","):
        n, k = (int(float(part)) for part in shape.split("x"))
        for dtype in args.dtypes.split(","):
            for floor in _FLOORS:
                yield "floor", floor, n, k, dtype
            for op in args.ops.split(","):
                for impl in args.impls.split(","):
                    yield op, impl, n, k, dtype


def _summary(results: dict[tuple, float]) -> str:
    lines = []
    keys = sorted({(n, k, dtype) for (_, _, n, k, dtype) in results})
    for n, k, dtype in keys:
        floors = {name: results.get(("floor", name, n, k, dtype)) for name in _FLOORS}
        lines.append(f"n={n} K={k} {dtype}: floors memory {floors['memory'] * 1e3:.1f} ms, "
                     f"exp {floors['exp'] * 1e3:.1f} ms")  # fmt: skip
        for op in ("value", "value_and_gradient"):
            fused = results.get((op, "fused", n, k, dtype))
            if fused is None:
                continue
            lines.append(f"  {op}: fused {fused * 1e3:.1f} ms; exp floor / fused "
                         f"{floors['exp'] / fused:.2f}, memory floor / fused "
                         f"{floors['memory'] / fused:.2f}")  # fmt: skip
            for (o, impl, nn, kk, dt), seconds in sorted(results.items()):
                if (o, nn, kk, dt) == (op, n, k, dtype) and impl != "fused":
                    lines.append(f"    {impl}: {seconds * 1e3:.1f} ms, {seconds / fused:.2f}x "
                                 f"the fused kernel's time")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    runner = pyperf.Runner(processes=6, add_cmdline_args=_forward)
    for option, default in DEFAULTS.items():
        runner.argparser.add_argument(f"--{option}", default=default,
                                      help=f"comma-separated ({default})")  # fmt: skip
    args = runner.parse_args()
    results = {}
    for op, impl, n, k, dtype in _cells(args):
        name = f"softmax.{op}.{impl}.{dtype}.{n}x{k}"
        bench = runner.bench_time_func(name, _time, op, impl, n, k, dtype)
        if bench is not None and not args.worker:  # the main process holds every value
            results[(op, impl, n, k, dtype)] = bench.median()
    if results:
        print(_summary(results))


if __name__ == "__main__":
    main()
