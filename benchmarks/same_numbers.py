"""The same trials serially, in `--jobs 2` joblib processes and on `--cluster local:2`, for
every shipped config's experiments (all but the wall-time metric ``fit_seconds``), and the
wall time of each way, side by side in one process.

Usage: python benchmarks/same_numbers.py [CONFIG ...]   (default: configs/*.yaml)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from lossbench import config as config_module
from lossbench import experiments
from lossbench.experiments.cluster import connect


def _steady(trials):
    return trials[trials["metric"] != "fit_seconds"].reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", type=Path, help="default: configs/*.yaml")
    root = Path(__file__).resolve().parents[1]
    paths = parser.parse_args().configs or sorted((root / "configs").glob("*.yaml"))
    print(f"{'config':<14} {'rows':>7} {'serial':>8} {'jobs 2':>8} {'local:2':>8}  identical")
    with connect("local:2") as client:
        client.run(lambda: __import__("lossbench.experiments"))  # workers warm, as in a run
        for path in paths:
            units = experiments.tasks(config_module.load(path))
            times, results = [], []
            for way in ({}, {"jobs": 2}, {"client": client}):
                start = time.perf_counter()
                results.append(_steady(experiments.run_tasks(units, **way)))
                times.append(time.perf_counter() - start)
            same = all(r.equals(results[0]) for r in results[1:])
            print(f"{path.stem:<14} {len(results[0]):>7} {times[0]:>7.1f}s {times[1]:>7.1f}s "
                  f"{times[2]:>7.1f}s  {'yes' if same else 'NO'}")  # fmt: skip


if __name__ == "__main__":
    main()
