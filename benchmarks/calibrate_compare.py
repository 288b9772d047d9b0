"""Calibration of `lossbench compare`'s timing verdicts, by simulation with process effects.

Each side of a benchmark is `processes` pyperf worker processes × 5 values. A process draws
its own offset (the between-process effect: address layout, hash seed, page placement, a busy
neighbour), relative standard deviation `between`, and its values scatter 0.5% around it. Each
cell runs `--pairs` pairs through `analysis.timings.compare_timings` (Welch's t on the log of
per-process means, the deciding interval at 1 − TIMING_ALPHA) and prints the share called
``slower`` with its Clopper-Pearson 95% interval (scipy). Below `timings.MIN_PROCESSES` a
side compare gives no verdict; there the share is what its interval alone would decide, the
evidence for that minimum (``--disturbed``):

- identical distributions: false alarms, ``slower`` or ``faster`` (target ≤ 2.5%);
- an 8% slowdown at ``--threshold 0.10``: within the threshold, so ``slower`` claims too
  much (target ≤ 2.5%);
- a 25% slowdown at ``--threshold 0.10`` (target ≥ 95% at 4 processes a side);
- a 10% slowdown at ``--threshold 0.05`` (target ≥ 95% at 10 a side);
- a 2× slowdown (a redundant second pass over memory) at ``--threshold 0.10``.

Usage: python benchmarks/calibrate_compare.py [--pairs 1000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

from lossbench.analysis import timings

CASES = [  # (name, relative change, threshold, verdicts that count)
    ("identical: false alarms", 0.0, 0.10, ("slower", "faster")),
    ("8% slower, threshold 0.10", 0.08, 0.10, ("slower",)),  # within it: "slower" is false
    ("25% slower, threshold 0.10", 0.25, 0.10, ("slower",)),
    ("10% slower, threshold 0.05", 0.10, 0.05, ("slower",)),
    ("2x slower, threshold 0.10", 1.0, 0.10, ("slower",)),
]


DISTURBED = {"processes": 0.25, "slowdown": 1.30, "values": 0.05, "preempted": 2.0}


def side(rng, mean: float, between: float, processes: int, disturbed: bool = False) -> timings.Side:
    """A benchmark's pyperf processes; `disturbed`: one process in four 30% slower (a busy
    neighbour for its whole life) and one value in twenty preempted (twice as long)."""
    runs = []
    for _ in range(processes):
        values = mean * (1 + rng.normal(0, between)) * (1 + rng.normal(0, 0.005, 5))
        if disturbed:
            if rng.random() < DISTURBED["processes"]:
                values = values * DISTURBED["slowdown"]
            hit = rng.random(values.size) < DISTURBED["values"]
            values = np.where(hit, values * DISTURBED["preempted"], values)
        runs.append(values)
    return timings.Side(Path("simulated"), {"k": runs})


def _verdict(base: timings.Side, new: timings.Side, threshold: float) -> str:
    """compare's verdict, or below `timings.MIN_PROCESSES` a side (where compare gives none)
    what its deciding interval, shown in the row, would say: what the minimum was measured
    from."""
    row = timings.compare_timings(base, new, threshold=threshold).iloc[0]
    if min(row["base_processes"], row["new_processes"]) >= timings.MIN_PROCESSES:
        return row["verdict"]
    shown = timings.Ratio(row["ratio"], row["ratio_ci_low"], row["ratio_ci_high"], row["p_value"])
    return timings.decide(shown, threshold)


def share(
    pairs: int,
    change: float,
    threshold: float,
    counted,
    between: float,
    processes: int,
    seed: int,
    disturbed: bool = False,
) -> tuple[int, int]:
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(pairs):
        base = side(rng, 1e-3, between, processes, disturbed)
        new = side(rng, 1e-3 * (1 + change), between, processes, disturbed)
        hits += _verdict(base, new, threshold) in counted
    return hits, pairs


def disturbed(pairs: int, seed: int) -> None:
    """False alarms and a 2x slowdown's detection with disturbed processes, processes 2%
    apart otherwise, at 2, 3, 4 and 6 processes a side."""
    print("disturbed processes (1 in 4 +30%, 1 value in 20 preempted), processes 2% apart")
    cases = (
        ("identical: false alarms", 0.0, ("slower", "faster")),
        ("2x slower, threshold 0.10", 1.0, ("slower",)),
    )
    for number, (name, change, counted) in enumerate(cases):
        cells = []
        for processes in (2, 3, 4, 6):
            hits, n = share(
                pairs,
                change,
                0.10,
                counted,
                0.02,
                processes,
                seed + 7000 + 100 * number + processes,
                disturbed=True,
            )
            low, high = binomtest(hits, n).proportion_ci(0.95, method="exact")
            cells.append(f"{hits / n:6.1%} [{low:.1%}, {high:.1%}]")
        print(f"{name:<28} " + "".join(f"{c:>24}" for c in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--disturbed",
        action="store_true",
        help="only the disturbed cells: identical and 2x, at 2-6 a side",
    )
    args = parser.parse_args()
    start = time.perf_counter()
    if args.disturbed:
        disturbed(args.pairs, args.seed)
        print(f"({time.perf_counter() - start:.0f} s)")
        return
    print(
        f"alpha {timings.TIMING_ALPHA} per benchmark; share called slower (false alarms: "
        "slower or faster), Clopper-Pearson 95% interval"
    )
    print(f"{'case':<28} {'between':>7} " + "".join(f"{f'{k} a side':>24}" for k in (3, 4, 6, 10)))
    for number, (name, change, threshold, counted) in enumerate(CASES):
        for between in (0.02, 0.05, 0.10):
            cells = []
            for processes in (3, 4, 6, 10):
                seed = args.seed + 1000 * number + processes + int(between * 1000)
                hits, n = share(args.pairs, change, threshold, counted, between, processes, seed)
                low, high = binomtest(hits, n).proportion_ci(0.95, method="exact")
                cells.append(f"{hits / n:6.1%} [{low:.1%}, {high:.1%}]")
            print(f"{name:<28} {between:>7.0%} " + "".join(f"{c:>24}" for c in cells))
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
