"""Serial against `--cluster local:N` on a sweep of fits, and the cluster path's overhead.

The sweep: Gaussian and Student-t data of `--rows` rows × 5 features, mse and huber at five δ
values, `--trials` trials: 2 × 6 × trials fits (2,040 at the default 170). Both runs go through
`experiments.run`, in this process's order; the trials must be identical (wall-time
`fit_seconds` aside). The overhead: `--empty` units that do nothing, through the cluster path.

Usage: python benchmarks/cluster_speedup.py [--trials 170] [--rows 100000] [--workers 2]
"""

from __future__ import annotations

import argparse
import time

from lossbench import config as config_module
from lossbench import experiments
from lossbench.experiments.cluster import connect, run_on


def _sweep(trials: int, rows: int):
    return config_module.validate({
        "name": "sweep", "seed": 0, "trials": trials,
        "experiments": [{
            "name": "sweep",
            "datasets": [{"kind": "gaussian", "n_samples": rows},
                         {"kind": "student_t", "df": 3, "n_samples": rows}],
            "losses": ["mse", {"name": "huber", "delta": [0.5, 1.0, 1.345, 2.0, 3.0]}],
        }],
    })  # fmt: skip


def _nothing(unit: int) -> list:
    return []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=170)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--empty", type=int, default=1000)
    args = parser.parse_args()
    config = _sweep(args.trials, args.rows)
    units = experiments.tasks(config)
    fits = sum(len(unit.losses) for unit in units)
    print(f"{fits} fits in {len(units)} units on {args.rows:,}-row data", flush=True)

    start = time.perf_counter()
    serial = experiments.run_tasks(units)
    serial_s = time.perf_counter() - start
    print(f"serial: {serial_s:.1f} s", flush=True)

    with connect(f"local:{args.workers}") as client:
        client.run(lambda: __import__("lossbench.experiments"))  # imports, not trials
        start = time.perf_counter()
        cluster = experiments.run_tasks(units, client=client)
        cluster_s = time.perf_counter() - start
        start = time.perf_counter()
        for _ in run_on(client, _nothing, list(range(args.empty))):
            pass
        empty_s = time.perf_counter() - start
    steady = [t[t["metric"] != "fit_seconds"].reset_index(drop=True) for t in (serial, cluster)]
    print(f"local:{args.workers}: {cluster_s:.1f} s; speed-up {serial_s / cluster_s:.2f}x; "
          f"trials identical: {steady[0].equals(steady[1])}")  # fmt: skip
    print(f"overhead: {args.empty} empty units in {empty_s:.2f} s, "
          f"{empty_s / args.empty * 1e3:.2f} ms per unit")  # fmt: skip


if __name__ == "__main__":
    main()
