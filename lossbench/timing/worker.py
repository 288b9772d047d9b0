"""pyperf's side of `lossbench run`'s timing: the master and the hidden worker entry point.

lossbench starts this module as a subprocess with an argument list it builds (pyperf never sees
lossbench's own command line); pyperf re-executes it with ``--worker`` for each worker process.
It imports only numpy, pyperf and `lossbench.timing.bench` (numba only for what a benchmark
runs), so workers start cheaply. The benchmarks come from a JSON file (``--lossbench-spec``),
forwarded to every worker.
"""

from __future__ import annotations

import json

import pyperf

from lossbench.timing.bench import Benchmark, time_loops


def _forward(cmd: list[str], args) -> None:
    cmd.extend(["--lossbench-spec", args.lossbench_spec])


def main() -> None:
    # pyperf runs workers as `python <program_args> --worker ...`
    runner = pyperf.Runner(
        program_args=("-m", "lossbench.timing.worker"), add_cmdline_args=_forward
    )
    runner.argparser.add_argument("--lossbench-spec", required=True)
    args = runner.parse_args()
    with open(args.lossbench_spec, encoding="utf-8") as handle:
        spec = json.load(handle)
    runner.metadata.update(spec.get("metadata", {}))
    for item in spec["benchmarks"]:
        inner = item.pop("inner", 1)
        bench = Benchmark(**item)
        runner.bench_time_func(bench.name, time_loops, bench, inner, inner_loops=inner)


if __name__ == "__main__":
    main()
