"""Time lossbench's loss kernels with pyperf.

    python benchmarks/bench_kernels.py --fast -o out.json
    python benchmarks/bench_kernels.py --losses mse,huber --sizes 1e7 --dtypes float32 -o out.json
    python -m pyperf stats out.json;  python -m pyperf compare_to old.json new.json

Every cell of the matrix is a pyperf benchmark named loss.op.impl.dtype.n, run in pyperf's worker
processes; probes (`probe.read`, `probe.read_write`, `probe.log`) give the memory floor at each
(dtype, n). The matrix is `lossbench.timing.bench`, shared with `lossbench run`.
"""

import pyperf

from lossbench.timing import bench as kernel_bench

DEFAULTS = {
    "losses": "mse,huber,bce,bce_logits,mae,pseudo_huber,log_cosh",
    "ops": "value,value_and_gradient",
    "impls": "numpy,fused",
    "sizes": "1000,100000,10000000",
    "dtypes": "float64,float32",
}


def _forward(cmd: list[str], args) -> None:
    """Hand this script's own options on to pyperf's worker processes."""
    for option in DEFAULTS:
        cmd.extend([f"--{option}", getattr(args, option)])


def main() -> None:
    # processes=6: with --fast pyperf uses max(6 // 2, 3) = 3 workers per benchmark, which keeps
    # the full matrix (~190 benchmarks) to minutes rather than the hour its default of 20 takes.
    runner = pyperf.Runner(processes=6, add_cmdline_args=_forward)
    for option, default in DEFAULTS.items():
        runner.argparser.add_argument(
            f"--{option}", default=default, help=f"comma-separated ({default})"
        )
    args = runner.parse_args()
    split = {option: getattr(args, option).split(",") for option in DEFAULTS}
    runner.metadata["lossbench_matrix"] = ";".join(f"{k}={getattr(args, k)}" for k in DEFAULTS)
    for bench in kernel_bench.matrix(
        split["losses"],
        split["ops"],
        split["impls"],
        [int(float(n)) for n in split["sizes"]],
        split["dtypes"],
    ):
        runner.bench_time_func(bench.name, kernel_bench.time_loops, bench)


if __name__ == "__main__":
    main()
