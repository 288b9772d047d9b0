"""`lossbench history` measured on synthetic histories with known steps.

1. The issue's case: 200 commits × 30 benchmarks, 4 processes a commit at 5% lognormal noise,
   a 10% step at commit 137 in 10 of the benchmarks. Is each step found at 137 ± 1, is
   anything else flagged, and how long do `lossbench history show` and `history page` take
   (whole processes, medians of 3)? Repeated over `--histories` seeds.
2. The detector's calibration: per scenario (processes a commit, share of processes slowed
   30% by a neighbour, step size), 400 series of 200 commits: the share with a false step (no
   step made) or with the step placed within one commit, with 95% Clopper–Pearson intervals.

    python benchmarks/bench_history.py [--histories 20] [--series 400]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

import lossbench.history as history
from lossbench.history import changes, synthetic

AT, STEPPED = 137, range(10)


def _seconds(args: list[str]) -> float:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def the_issue_case(histories: int) -> None:
    exact = elsewhere = flagged = 0
    with tempfile.TemporaryDirectory() as where:
        for seed in range(histories):
            db = Path(where) / f"h{seed}.db"
            stepped = {b: (AT, 0.10) for b in STEPPED}
            synthetic.write_history(db, commits=200, benchmarks=30, stepped=stepped, seed=seed)
            for trend in history.trends(db):
                number = int(trend.benchmark.split(".")[1])
                if number in STEPPED:
                    exact += [abs(c.index - AT) <= 1 for c in trend.changes] == [True]
                    elsewhere += len(trend.changes) != 1 or abs(trend.changes[0].index - AT) > 1
                else:
                    flagged += len(trend.changes)
        db = Path(where) / "h0.db"
        show = _seconds([sys.executable, "-m", "lossbench.cli", "history", "show", str(db)])
        page = Path(where) / "h.html"
        drawn = _seconds(
            [
                sys.executable,
                "-m",
                "lossbench.cli",
                "history",
                "page",
                str(db),
                "--output",
                str(page),
            ]
        )
        start = time.perf_counter()
        history.trends(db)
        inside = time.perf_counter() - start
    steps = histories * len(STEPPED)
    print(f"## 200 commits x 30 benchmarks, a 10% step at commit {AT} in {len(STEPPED)}")
    print(
        f"- {histories} histories: steps found at {AT} ± 1: {exact} of {steps} (found otherwise: "
        f"{elsewhere}); steps flagged in the {histories * 20} series without one: {flagged}"
    )
    print(
        f"- `lossbench history show`: {show:.2f} s (whole process, median of 3); "
        f"trends() in process {inside:.2f} s; `history page`: {drawn:.2f} s"
    )


def calibration(series: int) -> None:
    print(f"\n## Calibration: {series} series of 200 commits per row (95% Clopper–Pearson)")
    print("| processes a commit | disturbed | step | false step | placed ± 1 |")
    print("| ---: | ---: | ---: | --- | --- |")
    for per_commit in (4, 1):
        for disturbed in (0.0, 0.05):
            for step in (0.0, 0.05, 0.10):
                rng = np.random.default_rng(11)
                false = placed = 0
                for _ in range(series):
                    at = int(rng.integers(10, 190)) if step else None
                    values = synthetic.processes(
                        rng, 200, per_commit=per_commit, step=step, at=at, disturbed=disturbed
                    )
                    found = changes.changes(np.median(values, axis=1))
                    if step:
                        placed += len(found) == 1 and abs(found[0].index - at) <= 1
                    else:
                        false += bool(found)
                k = placed if step else false
                ci = binomtest(k, series).proportion_ci()
                cell = f"{k / series:.1%} [{ci.low:.1%}, {ci.high:.1%}]"
                print(
                    f"| {per_commit} | {disturbed:.0%} | {step:.0%} | "
                    f"{'' if step else cell} | {cell if step else ''} |"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--histories", type=int, default=20)
    parser.add_argument("--series", type=int, default=400)
    args = parser.parse_args()
    the_issue_case(args.histories)
    calibration(args.series)


if __name__ == "__main__":
    main()
