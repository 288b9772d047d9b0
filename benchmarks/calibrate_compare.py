"""Calibration of `lossbench compare` on pyperf suites built with pyperf's own API (issue 14).

Each benchmark is `processes` worker processes × `values` values. A process draws its own
offset (the between-process effect: address layout, hash seed, page placement) and its values
scatter around it (the within-process noise). Reported, over `--pairs` pairs each:

- identical distributions with process effects (4% between, 0.5% within, 10 × 3): how many
  pairs compare calls ``slower`` at ``--threshold 0.02`` (target ≤ 1 in 40);
- identical distributions of independent values (no process effect): the same;
- a real 15% slowdown under the process-effect noise: how many are ``slower`` (≥ 38 of 40);
- 3 values in 1 process on each side: the verdict (``inconclusive``, never a guess).

Usage: python benchmarks/calibrate_compare.py [--pairs 40]
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pyperf

from lossbench.analysis import timings as compare


def suite(path: Path, rng, mean: float, between: float, within: float, processes: int,
          values: int) -> compare.Side:  # fmt: skip
    runs = [
        pyperf.Run(
            list(mean * (1 + rng.normal(0, between)) * (1 + rng.normal(0, within, values))),
            metadata={"name": "k", "loops": 1}, collect_metadata=False,
        )
        for _ in range(processes)
    ]  # fmt: skip
    pyperf.BenchmarkSuite([pyperf.Benchmark(runs)]).dump(str(path), replace=True)
    return compare.Side.of_suite(path, pyperf.BenchmarkSuite.load(str(path)))


def verdicts(pairs: int, slowdown: float, between: float, within: float, processes: int,
             values: int, seed: int) -> Counter:  # fmt: skip
    rng = np.random.default_rng(seed)
    counts: Counter = Counter()
    with tempfile.TemporaryDirectory() as work:
        for _ in range(pairs):
            base = suite(Path(work) / "a.json", rng, 1e-3, between, within, processes, values)
            new = suite(Path(work) / "b.json", rng, 1e-3 * (1 + slowdown), between, within,
                        processes, values)  # fmt: skip
            row = compare.compare_timings(base, new, threshold=0.02)
            counts[row["verdict"].iloc[0]] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=40)
    args = parser.parse_args()
    n = args.pairs
    cases = [
        ("identical, 4% between / 0.5% within, 10 × 3", 0.0, 0.04, 0.005, 10, 3),
        ("identical, independent values (2%), 10 × 3", 0.0, 0.0, 0.02, 10, 3),
        ("15% slower, 4% between / 0.5% within, 10 × 3", 0.15, 0.04, 0.005, 10, 3),
        ("30% slower, 3 values in 1 process", 0.30, 0.04, 0.005, 1, 3),
    ]
    print(f"lossbench compare, --threshold 0.02, alpha {compare.TIMING_ALPHA}, {n} pairs each")
    for i, (name, slowdown, between, within, processes, values) in enumerate(cases):
        counts = verdicts(n, slowdown, between, within, processes, values, seed=i)
        shown = ", ".join(f"{verdict} {count}" for verdict, count in sorted(counts.items()))
        print(f"  {name}: {shown}")


if __name__ == "__main__":
    main()
