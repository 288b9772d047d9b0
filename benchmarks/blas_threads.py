"""What running every fit on one BLAS thread costs or saves: a config's experiments with BLAS
limited to one thread (what lossbench does) and with BLAS's own thread count, idle and beside
a process that keeps one core busy (a shared machine), interleaved, medians of `--repeats`.

Usage: python benchmarks/blas_threads.py [CONFIG ...] [--repeats 3]
       (default: configs/my-data.yaml configs/classification.yaml)
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import time
from pathlib import Path

import threadpoolctl

from lossbench import config as config_module
from lossbench import experiments

BUSY = "while True: pass"


def _timed(units, one_thread: bool) -> float:
    limit = threadpoolctl.threadpool_limits
    if not one_thread:  # run_task asks threadpoolctl for one thread: let BLAS keep its own
        threadpoolctl.threadpool_limits = lambda *a, **k: contextlib.nullcontext()
    try:
        start = time.perf_counter()
        experiments.run_tasks(units)
        return time.perf_counter() - start
    finally:
        threadpoolctl.threadpool_limits = limit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    paths = args.configs or [root / "configs" / "my-data.yaml",
                             root / "configs" / "classification.yaml"]  # fmt: skip
    blas = threadpoolctl.threadpool_info()
    print("BLAS:", ", ".join(f"{i['internal_api']} {i['num_threads']} threads" for i in blas))
    print(f"{'config':<16} {'machine':<8} {'1 thread':>9} {'BLAS own':>9}  own / one")
    for path in paths:
        units = experiments.tasks(config_module.load(path))
        _timed(units[:2], True)  # compile and warm caches once
        for machine in ("idle", "loaded"):
            busy = subprocess.Popen([sys.executable, "-c", BUSY]) if machine == "loaded" else None
            try:
                times: dict[bool, list[float]] = {True: [], False: []}
                for _ in range(args.repeats):
                    for one in (True, False):
                        times[one].append(_timed(units, one))
            finally:
                if busy is not None:
                    busy.kill()
                    busy.wait()
            one, own = statistics.median(times[True]), statistics.median(times[False])
            print(f"{Path(path).stem:<16} {machine:<8} {one:>8.2f}s {own:>8.2f}s  {own / one:.2f}")


if __name__ == "__main__":
    main()
